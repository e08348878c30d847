"""``showcase bench``: the benchmark suite's entry point (the benchmarks live in benchmarks/)."""

from __future__ import annotations

import argparse


def add_bench(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("bench", help="run the benchmarks (see benchmarks/README.md)")
    parser.set_defaults(handler=run_bench)


def run_bench(args: argparse.Namespace) -> int:
    raise SystemExit("showcase bench: the benchmark suite is not installed in this checkout")
