"""The benchmark suite: latency, throughput, framing, held streams and downloads of every mode.

Each module is a script (argparse + ``main()``), also run as ``showcase bench <name>``.
"""
