"""Debian's nginx as a child process: found (installed with apt-get when missing, as root),
started in the foreground on 127.0.0.1 with a config written to a run directory, stopped by
its PID. ``start_proxy`` runs it in front of the app with ``render_config``."""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from showcase.tools.processes import stop_process
from showcase.tools.proxy.config import render_config
from showcase.tools.proxy.locations import find_location
from showcase.tools.proxy.rundir import prepare_run_dir, write_private_file
from showcase.tools.proxy.tls import ensure_certificate

START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0
APT_TIMEOUT_S = 600.0
PORT_ATTEMPTS = 3  # a free port picked by us can be taken before nginx binds it
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


class NginxError(RuntimeError):
    """nginx is missing or did not start; the message says why (its error log included)."""


@dataclass(frozen=True)
class Proxy:
    """A running nginx in front of the app: ``url`` the plain HTTP listener with every
    location, ``tls_url`` the TLS + HTTP/2 listener, ``pid`` nginx's (one process)."""

    url: str
    tls_url: str
    pid: int
    run_dir: Path
    version: str = ""
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False, compare=False)

    def running(self) -> bool:
        """nginx has not exited (True when this Proxy was not made by start_proxy)."""
        return self.process is None or self.process.poll() is None

    def url_for(self, location_name: str, path: str) -> str:
        """The full URL of ``path`` (``/stream/sse?count=3``) through the location called
        ``location_name``; KeyError for an unknown name, ValueError for a path without
        its leading ``/``."""
        if not path.startswith("/"):
            raise ValueError(f"path must start with /, got {path!r}")
        return self.url + find_location(location_name).prefix.rstrip("/") + path


def installed_nginx() -> str | None:
    """The nginx binary on PATH or at Debian's /usr/sbin/nginx (not on a user's PATH)."""
    return shutil.which("nginx") or (
        "/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None
    )


def find_nginx(install: bool = True) -> tuple[str | None, str]:
    """The nginx binary, or None and why not; with ``install``, ``apt-get install nginx``
    first when it is missing and we are root (Debian's policy-rc.d, where present, keeps
    the package from starting a system nginx of its own)."""
    found = installed_nginx()
    if found:
        return found, ""
    if not install:
        return None, "nginx is not installed"
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return None, "nginx is not installed (`make nginx-deps`: apt-get needs root)"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    failed = ""
    for argv in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "nginx"]):
        done = subprocess.run(
            argv, env=env, check=False, capture_output=True, timeout=APT_TIMEOUT_S
        )
        if done.returncode:
            failed = f"`{' '.join(argv)}` failed: {done.stderr.decode(errors='replace')[-200:]}"
    found = installed_nginx()
    return found, "" if found else (failed or "apt-get install nginx gave no nginx binary")


def nginx_version(binary: str) -> str:
    """``nginx version: nginx/1.22.1``, as nginx -v writes it (to stderr)."""
    done = subprocess.run([binary, "-v"], capture_output=True, text=True, check=False)
    return done.stderr.strip()


def free_port() -> int:
    """A port of 127.0.0.1 free right now (someone may take it before we bind it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def die_with_parent() -> None:
    """In the child before exec: the kernel sends it SIGTERM if the process that started it
    dies, even by SIGKILL, so no nginx (or app) is left running behind a killed parent.
    Linux only (prctl); elsewhere nothing. It fires when the starting *thread* ends: start
    children from a thread that outlives them (the main thread does)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def wait_ready(pid_file: Path, ports: Sequence[int], process: subprocess.Popen[bytes]) -> bool:
    """True once nginx has written its own PID to ``pid_file`` (it does so only after every
    listening socket is bound) and each port accepts a connection; False if it exits or
    time runs out. A connection alone proves nothing: another server may hold the port
    while nginx retries bind() for 2.5 s and then gives up."""
    deadline = time.monotonic() + START_TIMEOUT_S
    waiting = list(ports)
    while waiting and time.monotonic() < deadline and process.poll() is None:
        try:
            if pid_file.read_text().strip() != str(process.pid):
                raise FileNotFoundError(pid_file)
            with socket.create_connection(("127.0.0.1", waiting[0]), timeout=0.5):
                waiting.pop(0)
        except OSError:
            time.sleep(0.05)
    return not waiting and process.poll() is None


def spawn_nginx(
    binary: str, config: str, run_dir: Path, ports: Sequence[int], cpu: int | None = None
) -> subprocess.Popen[bytes] | None:
    """Write ``config`` to ``run_dir/nginx.conf``, start nginx on it in the foreground
    (pinned to ``cpu`` with taskset when given) and wait until it is ready on every port of
    ``ports``. ``config`` must name ``run_dir/nginx.pid`` as its ``pid`` file. None, with
    nginx stopped, if it did not start (a port taken: the caller may try others); the
    reason is in ``run_dir/error.log``."""
    conf = run_dir / "nginx.conf"
    write_private_file(conf, config)
    pid_file = run_dir / "nginx.pid"
    pid_file.unlink(missing_ok=True)  # a previous run's
    error_log = run_dir / "error.log"
    argv = [binary, "-c", str(conf), "-p", str(run_dir), "-e", str(error_log)]
    if cpu is not None:
        argv = ["taskset", "-c", str(cpu), *argv]
    process = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        # Its own process group: a terminal's Ctrl-C reaches the caller, who stops nginx.
        process_group=0,
        preexec_fn=die_with_parent,
    )
    if wait_ready(pid_file, ports, process):
        return process
    stop_nginx(process)
    return None


def stop_nginx(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (nginx's fast shutdown) to the PID we started, then SIGKILL if it stays."""
    stop_process(process, STOP_TIMEOUT_S)


def read_error_log(run_dir: Path) -> str:
    path = run_dir / "error.log"
    return path.read_text(errors="replace")[-2000:] if path.is_file() else "(no error.log)"


@contextmanager
def run_directory(run_dir: Path | None) -> Iterator[Path]:
    """``run_dir`` made if missing (mode 0700) and kept after, or a temporary one removed
    after; RunDirError for a ``run_dir`` that is not ours alone (``prepare_run_dir``)."""
    if run_dir is not None:
        yield prepare_run_dir(run_dir)
        return
    with tempfile.TemporaryDirectory(prefix="showcase-proxy-") as tmp:
        yield Path(tmp)


@contextmanager
def start_proxy(
    upstream: str, run_dir: Path | None = None, port: int = 0, tls_port: int = 0
) -> Iterator[Proxy]:
    """nginx with ``render_config`` in front of ``upstream`` (the app's ``http://HOST:PORT``)
    on 127.0.0.1, while the block runs; stopped by its PID on the way out, whatever happens.

    ``port``/``tls_port`` 0 pick free ports (retried if one is taken meanwhile); ``run_dir``
    None uses a temporary directory (a new certificate each time), else the certificate
    made there on the first run is reused. NginxError when nginx is missing and cannot be
    installed, or does not start (its error log in the message); RunDirError when
    ``run_dir`` or its certificate is not ours alone (``showcase.tools.proxy.rundir``).
    """
    binary, why = find_nginx()
    if binary is None:
        raise NginxError(why)
    version = nginx_version(binary)
    with run_directory(run_dir) as run:
        ensure_certificate(run)
        process = None
        for _ in range(PORT_ATTEMPTS if 0 in (port, tls_port) else 1):
            chosen = (port or free_port(), tls_port or free_port())
            config = render_config(upstream, chosen[0], chosen[1], run)
            process = spawn_nginx(binary, config, run, chosen)
            if process is not None:
                break
        if process is None:
            raise NginxError(f"nginx did not start: {read_error_log(run)}")
        try:
            yield Proxy(
                f"http://127.0.0.1:{chosen[0]}",
                f"https://127.0.0.1:{chosen[1]}",
                process.pid,
                run,
                version,
                process,
            )
        finally:
            stop_nginx(process)
