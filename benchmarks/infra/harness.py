"""What every benchmark shares: its command-line options, the server under test (started,
pinned, stopped by PID), client pinning, progress bars on stderr and the JSON result file."""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from benchmarks.infra import procfs
from benchmarks.infra.environment import ROOT, describe_environment

RESULTS_DIR = ROOT / "results"
SERVER_CPU = 0
CLIENT_CPU = 1
STDERR = Console(stderr=True)


def add_common_args(parser: argparse.ArgumentParser, runs: int = 3) -> None:
    """--url, --server-pid, --runs, --out, --quick, --no-pin, --no-plot."""
    parser.add_argument("--url", help="measure this server instead of starting one")
    parser.add_argument(
        "--server-pid",
        type=int,
        action="append",
        default=[],
        help="with --url: PID whose CPU and RSS (with its children) to read from /proc",
    )
    parser.add_argument("--runs", type=int, default=runs, help="repetitions (default %(default)s)")
    parser.add_argument(
        "--out", type=Path, help="JSON result file (default results/<name>-<time>.json)"
    )
    parser.add_argument("--quick", action="store_true", help="small counts: seconds, not minutes")
    parser.add_argument("--no-pin", action="store_true", help="do not pin server and client")
    parser.add_argument("--no-plot", action="store_true", help="write no PNG")


def pinning_wanted(args: argparse.Namespace) -> bool:
    return not args.no_pin and (os.cpu_count() or 1) >= 2 and shutil.which("taskset") is not None


def client_cpus(args: argparse.Namespace) -> tuple[int, ...] | None:
    return (CLIENT_CPU,) if pinning_wanted(args) else None


@dataclass
class Target:
    """The server under test: its URL, the PIDs to read from /proc, and how it was started."""

    url: str
    pids: list[int]
    settings: dict[str, Any] = field(default_factory=dict)

    def sample(self) -> procfs.ProcSample | None:
        return procfs.sample(self.pids) if self.pids else None

    def worker_sample(self) -> procfs.ProcSample | None:
        """The workers alone (the arbiter's memory does not grow with streams)."""
        if not self.pids:
            return None
        workers = procfs.child_pids(self.pids[0]) if self.settings.get("own") else []
        return procfs.sample(workers or self.pids)


@contextmanager
def open_target(
    args: argparse.Namespace,
    name: str,
    *,
    env: dict[str, str] | None = None,
    worker_connections: int | None = None,
    app: str | None = None,
) -> Iterator[Target]:
    """``--url`` as given, or the project's own server: one gevent worker on a free port,
    pinned to CPU 0 when the machine has two or more, stopped by PID afterwards. ``app``: the
    same server with another WSGI app (a reference, such as
    ``benchmarks.reference.bare_wsgi:app``)."""
    if args.url:
        yield Target(args.url.rstrip("/"), list(args.server_pid), {"own": False, "url": args.url})
        return
    from showcase.tools.launcher import start_server

    cpu = SERVER_CPU if pinning_wanted(args) else None
    log_path = RESULTS_DIR / "logs" / f"{name}-{os.getpid()}-{time.time_ns()}.log"
    full_env = dict(env or {})
    server = start_server(
        log_path, workers=1, worker_connections=worker_connections, env=full_env, cpu=cpu, app=app
    )
    try:
        settings = {
            "own": True,
            "workers": 1,
            "worker_class": "gevent",
            "worker_connections": worker_connections or 20000,
            "server_cpu": cpu,
            "client_cpu": CLIENT_CPU if cpu is not None else None,
            "pinned_with": "taskset -c 0 (server), sched_setaffinity({1}) (client)"
            if cpu is not None
            else None,
            "env": full_env,
            **({"app": app} if app else {}),
        }
        yield Target(server.url, [server.pid], settings)
    finally:
        server.stop()
        if log_path.exists() and log_path.stat().st_size == 0:
            log_path.unlink()


def progress() -> Progress:
    """A rich progress bar on stderr (stdout stays for the table)."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[note]}"),
        console=STDERR,
        transient=False,
    )


def clean_json(value: Any) -> Any:
    """NaN and infinities become null: JSON has no NaN."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_json(v) for v in value]
    return value


def write_result(
    name: str,
    args: argparse.Namespace,
    config: dict[str, Any],
    server: dict[str, Any],
    runs: list[dict[str, Any]],
    summary: dict[str, Any],
) -> Path:
    """Write the result JSON (environment, settings, every raw figure, the summary)."""
    out: Path = args.out or RESULTS_DIR / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "benchmark": name,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "environment": describe_environment(),
        "server": server,
        "client": {"cpus": list(client_cpus(args) or []), "pinned": pinning_wanted(args)},
        "config": config,
        "summary": summary,
        "runs": runs,
    }
    out.write_text(json.dumps(clean_json(document), indent=1) + "\n")
    return out


def report(
    name: str,
    args: argparse.Namespace,
    config: dict[str, Any],
    server: dict[str, Any],
    runs: list[dict[str, Any]],
    summary: dict[str, Any],
    show: Callable[[Console], None],
) -> int:
    """Every benchmark's ending: the JSON, the table on stdout, the plot next to the JSON."""
    out = write_result(name, args, config, server, runs, summary)
    show(Console(width=160))
    if not args.no_plot:
        from benchmarks.report import plots  # matplotlib only when a plot is wanted

        print(f"plot: {getattr(plots, f'plot_{name}')(out)}")
    print(f"result: {out}")
    return 0
