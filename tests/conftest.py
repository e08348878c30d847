"""Shared fixtures: a real gunicorn + gevent server for the whole session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from showcase.tools.launcher import RunningServer, start_server


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The download directory of the session's server (samples are made on first use)."""
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Iterator[RunningServer]:
    """``showcase serve`` on a free port of 127.0.0.1, one gevent worker, 1 s heartbeat."""
    log_path = tmp_path_factory.mktemp("server") / "gunicorn.log"
    running = start_server(
        log_path,
        env={"SHOWCASE_DATA_DIR": str(data_dir), "SHOWCASE_HEARTBEAT_S": "1"},
    )
    yield running
    running.stop()


@pytest.fixture(scope="session")
def base_url(server: RunningServer) -> str:
    return server.url
