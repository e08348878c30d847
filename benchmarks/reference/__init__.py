"""Reference servers measured beside the project's own: bare WSGI apps on the same gunicorn
settings and worker class, with no Flask, for what the stack costs by itself."""
