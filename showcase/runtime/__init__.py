"""The gevent runtime under gunicorn: the worker (send deadline, zero-copy sendfile), the
streams it holds and how SIGTERM ends them (``lifecycle``), its settings module
(``gunicorn_conf``) and the download directory's files."""
