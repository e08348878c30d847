"""The whole suite: every benchmark in turn, results and plots in one folder, then the guide.

python -m benchmarks.suite            # about 10 minutes on 2 cores: results/latest/
python -m benchmarks.suite --quick    # under a minute: results/quick/ (guide untouched)
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from benchmarks import download, framing, held_streams, latency, throughput
from benchmarks.harness import RESULTS_DIR, STDERR

BENCHMARKS: dict[str, Callable[[Sequence[str] | None], int]] = {
    "framing": framing.main,
    "latency": latency.main,
    "throughput": throughput.main,
    "held_streams": held_streams.main,
    "download": download.main,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="showcase bench suite", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small counts, one run each")
    parser.add_argument("--runs", type=int, help="repetitions (default 3; --quick: 1)")
    parser.add_argument("--out-dir", type=Path, help="default results/latest or results/quick")
    parser.add_argument("--only", help="comma-separated benchmark names")
    parser.add_argument("--no-guide", action="store_true", help="do not rewrite docs/choosing.md")
    parser.add_argument("--no-pin", action="store_true", help="do not pin server and client")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out_dir: Path = args.out_dir or RESULTS_DIR / ("quick" if args.quick else "latest")
    out_dir.mkdir(parents=True, exist_ok=True)
    runs = args.runs or (1 if args.quick else 3)
    names = [n for n in (args.only or ",".join(BENCHMARKS)).split(",") if n]
    started = time.monotonic()
    failed = []
    for name in names:
        STDERR.rule(f"[bold]{name}")
        argv_one = ["--runs", str(runs), "--out", str(out_dir / f"{name}.json")]
        argv_one += ["--quick"] if args.quick else []
        argv_one += ["--no-pin"] if args.no_pin else []
        try:
            code = BENCHMARKS[name](argv_one)
        except Exception as error:  # one broken benchmark must not hide the others' results
            STDERR.print(f"[red]{name} failed: {error!r}")
            code = 1
        if code:
            failed.append(name)
    if not args.quick and not args.no_guide:
        from benchmarks.guide import write_guide

        print(f"guide: {write_guide(out_dir)}")
    print(f"\nsuite finished in {time.monotonic() - started:.0f} s")
    print(f"results (JSON) and plots (PNG): {out_dir}/")
    for path in sorted(out_dir.glob("*.png")):
        print(f"  {path}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
