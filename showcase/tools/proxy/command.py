"""``showcase proxy``: the app (gunicorn + gevent, as ``showcase serve``) and Debian's nginx
in front of it, every location's URL printed; Ctrl-C or SIGTERM stops both by PID."""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit

from showcase.tools.launcher import wait_until_answering
from showcase.tools.processes import stop_process
from showcase.tools.proxy.config import render_config
from showcase.tools.proxy.locations import LOCATIONS
from showcase.tools.proxy.nginx import NginxError, Proxy, die_with_parent, free_port, start_proxy
from showcase.tools.proxy.rundir import RunDirError, default_run_dir, prepare_run_dir
from showcase.tools.server import DEFAULT_BIND

DEFAULT_PORT = 8080
DEFAULT_TLS_PORT = 8443
DEFAULT_RUN_DIR = default_run_dir()
APP_START_TIMEOUT_S = 20.0
APP_STOP_TIMEOUT_S = 15.0  # gunicorn_conf's graceful_timeout (10 s) and a margin
SUMMARY_WIDTH = 96
WATCH_S = 0.5  # how often the command checks that both children still run
WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::", "[::]"})


def add_proxy(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "proxy",
        help="serve the app with Debian's nginx in front (each proxy setting side by side)",
        description=(__doc__ or "").replace("``", ""),
    )
    parser.add_argument(
        "--bind", default=DEFAULT_BIND, help="the app's HOST:PORT (default %(default)s)"
    )
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help="nginx's HTTP port (default %(default)s)"
    )
    parser.add_argument(
        "--tls-port",
        type=int,
        default=DEFAULT_TLS_PORT,
        help="nginx's TLS + HTTP/2 port (default %(default)s)",
    )
    parser.add_argument("--workers", type=int, default=1, help="app worker processes (default 1)")
    parser.add_argument(
        "--run-dir",
        type=Path,
        default=DEFAULT_RUN_DIR,
        help=(
            "nginx's config, log and certificate: made mode 0700 if missing, refused unless "
            "ours and 0700 (kept; default %(default)s)"
        ),
    )
    parser.add_argument(
        "--print-config", action="store_true", help="print the generated nginx config and exit"
    )
    parser.set_defaults(handler=run_proxy)


def app_url(bind: str) -> str:
    """``http://HOST:PORT`` to reach an app bound to ``bind`` (a wildcard host → 127.0.0.1);
    ValueError without a port other than 0 (nginx and the page need to know it)."""
    host, _, port = bind.rpartition(":")
    if not port.isdigit() or int(port) == 0:
        raise ValueError(f"--bind needs HOST:PORT with a fixed port, got {bind!r}")
    return f"http://{'127.0.0.1' if host in WILDCARD_HOSTS else host}:{port}"


def port_in_use(url: str) -> bool:
    """Something already answers at ``url``'s port (``make run`` left running, say): then
    the health check would find that server instead of ours."""
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=1):
            return True
    except OSError:
        return False


def deployment(direct: str, port: int, tls_port: int) -> dict[str, object]:
    """``SHOWCASE_DEPLOY`` for the app: where the page's deployment view finds each lane.
    Known before nginx starts: the app starts first and nginx proxies to it."""
    return {
        "direct": direct,
        "proxy": f"http://127.0.0.1:{port}",
        "tls": f"https://127.0.0.1:{tls_port}",
        "locations": {location.name: location.prefix for location in LOCATIONS},
    }


@contextmanager
def run_app(bind: str, workers: int, env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """``showcase serve`` as a child (its log on our terminal), answering ``/healthz``
    before the block runs; SIGTERM (graceful) to its PID after, SIGKILL if it stays."""
    argv = [sys.executable, "-m", "showcase", "serve", "--bind", bind]
    argv += ["--workers", str(workers)]
    # Its own process group: Ctrl-C reaches only us, and we stop nginx first, then the app.
    process = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **env},
        process_group=0,
        preexec_fn=die_with_parent,
    )
    try:
        wait_until_answering(app_url(bind), process, APP_START_TIMEOUT_S)
        yield process
    finally:
        stop_process(process, APP_STOP_TIMEOUT_S)


def describe(proxy: Proxy, direct: str) -> list[str]:
    """What the command prints once both run: every location's URL and a stream to try."""
    lines = [
        f"the app, direct:     {direct}/",
        f"nginx, the page:     {proxy.url}/  (same origin as every location below)",
        f"nginx, TLS + HTTP/2: {proxy.tls_url}/  (self-signed: {proxy.run_dir}/localhost.crt)",
        "",
        "locations (curl -N prints each piece as it arrives):",
    ]
    indent = " " * 17
    for location in LOCATIONS:
        lines.append(f"  {location.name:<14} {proxy.url_for(location.name, '/')}")
        lines += textwrap.wrap(
            location.summary, SUMMARY_WIDTH, initial_indent=indent, subsequent_indent=indent
        )
        example = proxy.url_for(location.name, location.example)
        lines.append(f"{indent}try: {location.curl} '{example}'")
    lines += ["", f"nginx config: {proxy.run_dir}/nginx.conf; Ctrl-C stops nginx and the app"]
    return lines


class Stopped(Exception):
    """SIGINT or SIGTERM arrived: unwind, so the ``finally`` blocks stop nginx and the app."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def raise_stopped(signum: int, frame: FrameType | None) -> None:
    raise Stopped(signum)


def run_proxy(args: argparse.Namespace) -> int:
    try:
        direct = app_url(args.bind)
    except ValueError as error:
        print(f"showcase proxy: {error}", file=sys.stderr)
        return 2
    if args.print_config:
        port, tls_port = args.port, args.tls_port
        print(render_config(direct, port, tls_port, args.run_dir.resolve()), end="")
        return 0
    try:
        run_dir = prepare_run_dir(args.run_dir)
    except (RunDirError, OSError) as error:
        print(f"showcase proxy: {error}", file=sys.stderr)
        return 1
    if port_in_use(direct):
        print(f"showcase proxy: {args.bind} is taken (is `make run` running?)", file=sys.stderr)
        return 1
    port, tls_port = args.port or free_port(), args.tls_port or free_port()
    env = {"SHOWCASE_DEPLOY": json.dumps(deployment(direct, port, tls_port))}
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, raise_stopped)
    try:
        with (
            run_app(args.bind, args.workers, env) as app,
            start_proxy(direct, run_dir, port, tls_port) as proxy,
        ):
            print("\n".join(describe(proxy, direct)), flush=True)
            while app.poll() is None and proxy.running():
                time.sleep(WATCH_S)
            gone = "the app" if app.poll() is not None else "nginx"
            print(f"showcase proxy: {gone} exited; stopping the other", file=sys.stderr)
            return 1
    except Stopped as stopped:
        print(f"\nshowcase proxy: {stopped}: stopped nginx and the app", file=sys.stderr)
        return 128 + stopped.signum
    except (NginxError, RuntimeError) as error:
        print(f"showcase proxy: {error}", file=sys.stderr)
        return 1
