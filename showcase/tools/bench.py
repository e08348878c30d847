"""``showcase bench``: the benchmark suite's entry point (the benchmarks live in benchmarks/).

``showcase bench <name> [options]`` runs one benchmark, ``showcase bench suite`` all of them,
``showcase bench --guide`` rewrites docs/choosing.md from the committed results in docs/results/.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from showcase.tools.help_text import plain_text

NAMES = (
    *("latency", "throughput", "framing", "held_streams", "idle_memory", "download"),
    *("relay", "answers", "hub", "deploy", "disconnect", "restart", "suite"),
)
ROOT = Path(__file__).resolve().parents[2]  # showcase/tools/bench.py -> the checkout


def add_bench(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "bench",
        help="run the benchmarks (see benchmarks/), or rewrite the guide with --guide",
        description=plain_text(__doc__),
    )
    parser.add_argument("name", nargs="?", choices=NAMES, help="which benchmark")
    parser.add_argument(
        "--guide",
        action="store_true",
        help="rewrite docs/choosing.md from the results in docs/results/ (make bench publishes "
        "results/latest/ there)",
    )
    parser.add_argument(
        "--results", type=Path, help="with --guide: read this folder instead of docs/results/"
    )
    parser.add_argument("rest", nargs=argparse.REMAINDER, help="options of the benchmark")
    parser.set_defaults(handler=run_bench)


def import_benchmark(name: str) -> object:
    """``benchmarks.<name>`` from the checkout this package lives in. An installed package
    has none (the wheel leaves them out): say where they are, in one line."""
    if (ROOT / "benchmarks" / "__init__.py").is_file() and str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    try:
        return importlib.import_module(f"benchmarks.{name}")
    except ModuleNotFoundError as error:
        if error.name is not None and error.name.split(".")[0] != "benchmarks":
            raise SystemExit(
                f"showcase bench: {error}; the benchmarks need the bench extra "
                "(pip install -e '.[bench]' in the checkout, or make venv)"
            ) from None
        raise SystemExit(
            f"showcase bench: benchmarks/ is not part of the installed package ({ROOT}): "
            "run it from a checkout of the repository (make bench, or showcase bench there "
            "after pip install -e '.[bench]')"
        ) from None


def run_bench(args: argparse.Namespace) -> int:
    if args.guide:
        guide = import_benchmark("guide")
        options = ["--results", str(args.results)] if args.results else []
        written: int = guide.main(options)  # type: ignore[attr-defined]
        return written
    if args.name is None:
        raise SystemExit(f"showcase bench: name one of {', '.join(NAMES)}, or --guide")
    module = import_benchmark(args.name)
    code: int = module.main(args.rest)  # type: ignore[attr-defined]
    return code
