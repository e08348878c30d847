"""The benchmark suite: latency, throughput, framing, held streams and downloads of every mode.

Each top-level module is a benchmark you run (argparse + ``main()``), as
``python -m benchmarks.<name>`` or ``showcase bench <name>``; ``load/``, ``reference/``,
``infra/`` and ``report/`` hold what they are built from (see README.md).
"""
