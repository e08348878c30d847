"""The pure layer: messages, their sources, the stream contract's parameters, the framings,
bodies and settings. No I/O, no Flask, no gevent, no sockets: values in, values or bytes out
(tests/unit/test_pure_imports.py checks it in a fresh interpreter). See README.md here.
"""
