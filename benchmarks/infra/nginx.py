"""Debian's nginx as the reference file server of the download benchmark: our own config,
run with ``showcase.tools.proxy.nginx`` (found or installed, a non-daemon child, stopped by PID)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from showcase.tools.proxy.nginx import (
    PORT_ATTEMPTS,
    find_nginx,
    free_port,
    nginx_version,
    read_error_log,
    spawn_nginx,
    stop_nginx,
)

__all__ = ["CONFIG", "Nginx", "find_nginx", "run_nginx"]

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


@contextmanager
def run_nginx(binary: str, root: Path, cpu: int | None) -> Iterator[Nginx]:
    """nginx serving ``root`` at ``/download/<name>``, pinned to ``cpu`` when given."""
    with tempfile.TemporaryDirectory(prefix="bench-nginx-") as tmp:
        for _ in range(PORT_ATTEMPTS):
            port = free_port()
            config = CONFIG.format(tmp=tmp, port=port, root=root.resolve())
            process = spawn_nginx(binary, config, Path(tmp), [port], cpu)
            if process is not None:
                break
        else:
            raise RuntimeError(f"nginx did not start: {read_error_log(Path(tmp))}")
        try:
            yield Nginx(f"http://127.0.0.1:{port}", process.pid, nginx_version(binary))
        finally:
            stop_nginx(process)
