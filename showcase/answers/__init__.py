"""Resumable, cancellable answers: a chat answer generated apart from the request that asked
for it, each item appended to an answer log (memory, or Redis Streams shared by workers) that
any number of readers replay and follow, by position.

Pure: ``log`` (the local record, its readers, positions), ``framing`` (the OpenAI and NDJSON
shapes with ids), ``memory``. I/O: ``redis_answers`` (Redis), ``runner`` (the generation
greenlet), ``source`` (a reader as a source for ``bodies.iter_body``).
"""
