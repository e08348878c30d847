"""LLM-style streams: a token stream framed as OpenAI chunks, NDJSON chat or Coze events.

Pure (no Flask, no I/O): ``request``, ``answer``, ``typewriter``, ``openai``, ``ndjson``,
``coze``, ``forward``. Only ``upstream`` does I/O: it reads a relay's upstream with requests.
"""
