"""Server lifecycle: SIGTERM ends open streams cleanly within the graceful timeout."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import pytest

from showcase.client import iter_ndjson, iter_sse
from showcase.launcher import start_server

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


def test_sigterm_ends_streams_cleanly(tmp_path: Path) -> None:
    server = start_server(tmp_path / "gunicorn.log", env={"SHOWCASE_DATA_DIR": str(tmp_path)})
    results: dict[str, object] = {}

    def read(name: str) -> None:
        try:
            params = {"count": 1000, "interval": 500}
            if name == "sse":
                results[name] = [e.id for e in iter_sse(server.url, params)]
            else:
                results[name] = [o["seq"] for o in iter_ndjson(server.url, params)]
        except Exception as error:  # reported by the assertions below
            results[name] = error

    readers = [threading.Thread(target=read, args=(name,)) for name in ("sse", "ndjson")]
    for reader in readers:
        reader.start()
    try:
        deadline = time.monotonic() + 10
        while server.health()["open_streams"] < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        server.process.send_signal(signal.SIGTERM)
    for reader in readers:
        reader.join(30)
    returncode = server.process.wait(30)
    # Both streams ended with a proper last chunk (no exception), in order, well before 1000.
    assert isinstance(results["sse"], list), results["sse"]
    assert isinstance(results["ndjson"], list), results["ndjson"]
    assert results["sse"] == [str(n) for n in range(len(results["sse"]))]
    assert 0 < len(results["ndjson"]) < 1000
    assert returncode == 0, server.log()
    assert "Worker graceful timeout" not in server.log()
