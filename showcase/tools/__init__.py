"""What people run beside the server: the ``showcase`` command (``cli``), the Python client,
``showcase serve``, ``showcase proxy`` (nginx in front), the launcher tests and benchmarks
start servers with, and the wire view's raw reads."""
