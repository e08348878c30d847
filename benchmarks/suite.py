"""The whole suite: every benchmark in turn, results and plots in one folder, then the results
published where git keeps them (docs/results/) and the guide written from them.

python -m benchmarks.suite            # the whole suite: results/latest/, then
                                      # docs/results/*.json, docs/choosing.md and docs/img/
python -m benchmarks.suite --quick    # a few minutes: results/quick/ (nothing published)
python -m benchmarks.suite --publish-only   # publish results/latest/ and write the guide

results/ is ignored by git (logs, every run's files); docs/results/ holds the JSON the guide
was written from, so each number in docs/choosing.md can be traced to a committed file.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks import (
    answers,
    deploy,
    disconnect,
    download,
    framing,
    held_streams,
    hub,
    idle_memory,
    latency,
    relay,
    restart,
    throughput,
)
from benchmarks.infra import deploy_netns
from benchmarks.infra.environment import ROOT, git_commit
from benchmarks.infra.harness import RESULTS_DIR, STDERR, clean_json

BENCHMARKS: dict[str, Callable[[Sequence[str] | None], int]] = {
    "framing": framing.main,
    "latency": latency.main,
    "throughput": throughput.main,
    "held_streams": held_streams.main,
    "idle_memory": idle_memory.main,
    "download": download.main,
    "relay": relay.main,
    "hub": hub.main,
    "answers": answers.main,
    "deploy": deploy.main,
    "disconnect": disconnect.main,
    "restart": restart.main,
}
# What a benchmark needs beyond the venv: a function saying why it cannot run here, or None.
REQUIREMENTS: dict[str, Callable[[], str | None]] = {
    "disconnect": deploy_netns.unavailable_reason,  # root, ip and tc: a namespace of its own
}
# Runs of the long benchmarks, at most (each run of these is minutes, and their figures are
# spreads over many clients already): the suite's 3 runs of everything would double it.
# answers: one run holds several cost rounds (lanes in turn) and a thousand resumes per lane.
RUNS_AT_MOST = {
    "idle_memory": 1,
    "hub": 1,
    "answers": 1,
    "deploy": 2,
    "restart": 2,
    "disconnect": 1,
}
PUBLISH_DIR = ROOT / "docs" / "results"
# A latency result keeps every message's latency (about a million numbers in a full run):
# the published copy keeps this many order statistics of each raw_* list instead.
PUBLISHED_RAW_VALUES = 1000
# Long lists of per-client records (the restart benchmark keeps 500 clients' ids and reconnect
# times per point, a few MB a run): the published copy says how many there were; the summary
# was computed from them. Short ones (disconnect's, which its plot reads) are kept.
PUBLISHED_DROPPED_LISTS = ("clients",)
PUBLISHED_RECORDS = 100


def order_statistics(values: list[float], keep: int) -> list[float]:
    """``keep`` values of ``values`` sorted: the min, the max and evenly spaced ranks between."""
    ordered = sorted(values)
    if len(ordered) <= keep:
        return ordered
    last = len(ordered) - 1
    return [ordered[round(i * last / (keep - 1))] for i in range(keep)]


def reduce_raw_lists(value: Any, keep: int = PUBLISHED_RAW_VALUES) -> Any:
    """A copy of a result document whose ``raw_*`` lists of numbers longer than ``keep`` are
    replaced by ``keep`` order statistics, and per-client record lists (PUBLISHED_DROPPED_LISTS)
    by their count; every summary figure is left as it was."""
    if isinstance(value, dict):
        return {
            key: (
                order_statistics(item, keep)
                if key.startswith("raw_") and isinstance(item, list) and len(item) > keep
                else f"{len(item)} records, in the unpublished result only"
                if key in PUBLISHED_DROPPED_LISTS
                and isinstance(item, list)
                and len(item) > PUBLISHED_RECORDS
                else reduce_raw_lists(item, keep)
            )
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [reduce_raw_lists(item, keep) for item in value]
    return value


def publish_results(source: Path, target: Path, names: Sequence[str]) -> list[Path]:
    """Copy ``source/<name>.json`` to ``target/<name>.json`` for each name that has one, with
    long raw lists reduced (``reduce_raw_lists``) and a ``published`` note saying so."""
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name in names:
        path = source / f"{name}.json"
        if not path.is_file():
            continue
        document = reduce_raw_lists(json.loads(path.read_text()))
        try:
            origin = str(path.resolve().relative_to(ROOT))
        except ValueError:
            origin = str(path)
        document["published"] = {
            "from": origin,
            "raw_lists": f"raw_* lists longer than {PUBLISHED_RAW_VALUES:,} values keep "
            f"{PUBLISHED_RAW_VALUES:,} order statistics (min, max, evenly spaced ranks); "
            f"lists of more than {PUBLISHED_RECORDS} per-client records "
            f"({', '.join(PUBLISHED_DROPPED_LISTS)}) keep their count",
        }
        out = target / f"{name}.json"
        out.write_text(json.dumps(clean_json(document), indent=1) + "\n")
        written.append(out)
    return written


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="showcase bench suite", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small counts, one run each")
    parser.add_argument("--runs", type=int, help="repetitions (default 3; --quick: 1)")
    parser.add_argument("--out-dir", type=Path, help="default results/latest or results/quick")
    parser.add_argument("--only", help="comma-separated benchmark names")
    parser.add_argument(
        "--no-guide",
        action="store_true",
        help="publish nothing to docs/results/ and leave docs/choosing.md as it is",
    )
    parser.add_argument("--publish-dir", type=Path, default=PUBLISH_DIR, help="default %(default)s")
    parser.add_argument("--guide-out", type=Path, help="the guide's path (docs/choosing.md)")
    parser.add_argument(
        "--publish-only",
        action="store_true",
        help="run nothing: publish the out dir's JSON (--only: those) and write the guide",
    )
    parser.add_argument("--no-pin", action="store_true", help="do not pin server and client")
    parser.add_argument(
        "--allow-dirty",
        action="store_true",
        help="publish even though the tree has local changes (the results then describe no commit)",
    )
    return parser


def refuse_dirty_publish(args: argparse.Namespace) -> str | None:
    """Why this run must not start: a publish describes one commit, so a tree with local
    changes (tracked files) is refused before anything is measured, unless asked for."""
    publishing = not args.quick and not args.no_guide and not args.publish_only
    if not publishing or args.allow_dirty or not git_commit().get("dirty"):
        return None
    return (
        "the tree has local changes, and a publish describes one commit: commit them first "
        "(or --no-guide to measure without publishing, --allow-dirty to publish anyway)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if why := refuse_dirty_publish(args):
        print(f"showcase bench suite: {why}", file=sys.stderr)
        return 2
    out_dir: Path = args.out_dir or RESULTS_DIR / ("quick" if args.quick else "latest")
    out_dir.mkdir(parents=True, exist_ok=True)
    runs = args.runs or (1 if args.quick else 3)
    names = [n for n in (args.only or ",".join(BENCHMARKS)).split(",") if n]
    started = time.monotonic()
    failed: list[str] = []
    skipped: list[str] = []
    for name in [] if args.publish_only else names:
        STDERR.rule(f"[bold]{name}")
        why_not = REQUIREMENTS.get(name, lambda: None)()
        if why_not:  # skipped, said, and its committed result left as it was
            STDERR.print(f"[yellow]{name} skipped: {why_not}")
            skipped.append(name)
            continue
        runs_one = min(runs, RUNS_AT_MOST.get(name, runs))
        argv_one = ["--runs", str(runs_one), "--out", str(out_dir / f"{name}.json")]
        argv_one += ["--quick"] if args.quick else []
        argv_one += ["--no-pin"] if args.no_pin else []
        try:
            code = BENCHMARKS[name](argv_one)
        except Exception as error:  # one broken benchmark must not hide the others' results
            STDERR.print(f"[red]{name} failed: {error!r}")
            code = 1
        if code:
            failed.append(name)
    print(f"\nsuite finished in {time.monotonic() - started:.0f} s")
    print(f"results (JSON) and plots (PNG): {out_dir}/")
    for path in sorted(out_dir.glob("*.png")):
        print(f"  {path}")
    if args.publish_only or (not args.quick and not args.no_guide):
        from benchmarks.guide import write_guide

        # Only what this run measured and finished is published: a failed benchmark's
        # committed file stays as it was rather than being replaced by a partial one.
        done = [name for name in names if name not in failed and name not in skipped]
        for path in publish_results(out_dir, args.publish_dir, done):
            print(f"published: {path}")
        print(f"guide: {write_guide(args.publish_dir, args.guide_out)}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
