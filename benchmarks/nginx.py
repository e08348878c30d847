"""Debian's nginx as the reference file server: installed when missing (apt-get, as root),
started on a free 127.0.0.1 port with our own config as a non-daemon child, stopped by PID."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

START_TIMEOUT_S = 10.0
CONFIG = """\
daemon off;
master_process off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    types {{ application/octet-stream bin; }}
    server {{
        listen 127.0.0.1:{port};
        root {root};
        location /download/ {{ alias {root}/; }}
    }}
}}
"""


@dataclass
class Nginx:
    url: str
    pid: int
    version: str


def installed_nginx() -> str | None:
    return shutil.which("nginx") or (
        "/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None
    )


def find_nginx(install: bool = True) -> tuple[str | None, str]:
    """The nginx binary, or None and why not; with ``install``, apt-get install nginx-light
    first when it is missing and we are root."""
    found = installed_nginx()
    if found:
        return found, ""
    if not install:
        return None, "nginx is not installed"
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return None, "nginx is not installed (apt-get install nginx-light needs root and apt)"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    failed = ""
    for argv in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "nginx-light"]):
        done = subprocess.run(argv, env=env, check=False, capture_output=True, timeout=600)
        if done.returncode:
            failed = f"`{' '.join(argv)}` failed: {done.stderr.decode(errors='replace')[-200:]}"
    found = installed_nginx()
    return found, "" if found else (failed or "nginx-light installed no nginx binary")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def run_nginx(binary: str, root: Path, cpu: int | None) -> Iterator[Nginx]:
    """nginx serving ``root`` at ``/download/<name>``, pinned to ``cpu`` when given."""
    version = subprocess.run(
        [binary, "-v"], capture_output=True, text=True, check=False
    ).stderr.strip()
    with tempfile.TemporaryDirectory(prefix="bench-nginx-") as tmp:
        for _ in range(3):  # a free port can be taken before nginx binds it
            port = free_port()
            conf = Path(tmp) / "nginx.conf"
            conf.write_text(CONFIG.format(tmp=tmp, port=port, root=root.resolve()))
            argv = [binary, "-c", str(conf), "-p", tmp, "-e", f"{tmp}/error.log"]
            if cpu is not None:
                argv = ["taskset", "-c", str(cpu), *argv]
            process = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
            if wait_listening(port, process):
                break
            process.terminate()
            process.wait(5)
        else:
            raise RuntimeError(f"nginx did not start: {(Path(tmp) / 'error.log').read_text()}")
        try:
            yield Nginx(f"http://127.0.0.1:{port}", process.pid, version)
        finally:
            process.terminate()  # SIGTERM to the PID we started: fast shutdown
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


def wait_listening(port: int, process: subprocess.Popen[bytes]) -> bool:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False
