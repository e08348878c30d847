"""LLM-style streams: a token stream framed as OpenAI chunks, NDJSON chat or Coze events.

Pure (no Flask, no I/O): ``request``, ``answer``, ``typewriter``, ``openai``, ``ndjson``,
``coze``, ``forward``. I/O only in ``upstream`` (a relay reads its upstream with requests)
and ``client`` (``showcase chat``).
"""
