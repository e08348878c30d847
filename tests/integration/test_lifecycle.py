"""Server lifecycle: SIGTERM ends open streams cleanly within the graceful timeout."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import pytest

from showcase.tools.client import iter_ndjson, iter_sse
from showcase.tools.launcher import start_server

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]
FIRST_MESSAGE_TIMEOUT_S = 15.0  # a bound on waiting, not a speed target


def test_sigterm_ends_streams_cleanly(tmp_path: Path) -> None:
    server = start_server(tmp_path / "gunicorn.log", env={"SHOWCASE_DATA_DIR": str(tmp_path)})
    results: dict[str, object] = {}
    started = {name: threading.Event() for name in ("sse", "ndjson")}

    def read(name: str) -> None:
        seqs: list[int] = []
        results[name] = seqs
        try:
            params = {"count": 1000, "interval": 500}
            if name == "sse":
                for event in iter_sse(server.url, params):
                    seqs.append(int(event.id))
                    started[name].set()
            else:
                for obj in iter_ndjson(server.url, params):
                    seqs.append(obj["seq"])
                    started[name].set()
        except Exception as error:  # reported by the assertions below
            results[name] = error
        finally:
            started[name].set()  # never leave the main thread waiting on a failed reader

    readers = [threading.Thread(target=read, args=(name,)) for name in started]
    for reader in readers:
        reader.start()
    try:
        for event in started.values():
            event.wait(FIRST_MESSAGE_TIMEOUT_S)
        # SIGTERM only once each reader holds a message: an empty stream proves nothing.
        assert all(isinstance(seqs, list) and seqs for seqs in results.values()), results
        server.process.send_signal(signal.SIGTERM)
        for reader in readers:
            reader.join(30)
        returncode = server.process.wait(30)
    finally:
        server.stop()  # whatever failed above, the server we started ends (by its PID)
    # Both streams ended with a proper last chunk (no exception), in order, well before 1000.
    for name in ("sse", "ndjson"):
        seqs = results[name]
        assert isinstance(seqs, list), f"{name}: {seqs!r}"
        assert 0 < len(seqs) < 1000, name
        assert seqs == list(range(len(seqs))), name
    assert returncode == 0, server.log()
    assert "Worker graceful timeout" not in server.log()
