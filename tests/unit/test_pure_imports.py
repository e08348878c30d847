"""The pure layers import no web stack, no Redis client and no socket module: checked in a
fresh interpreter, not this one. The modules that do touch the network (a raw-socket reader,
nginx as a child process, the Redis broker) are listed apart and import no web stack."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WEB_STACK = ("flask", "werkzeug", "gevent", "gunicorn", "requests", "urllib3", "http.client")
NETWORK = ("redis", "socket", "ssl", "select", "selectors")
# Every module of the pure folder, found on disk: a new one is checked without being listed.
PURE_FOLDER_MODULES = sorted(
    "showcase." + ".".join(path.relative_to(ROOT / "showcase").with_suffix("").parts)
    for path in (ROOT / "showcase" / "pure").rglob("*.py")
    if path.name != "__init__.py"
)
PURE_MODULES = [
    "showcase.pure",
    *PURE_FOLDER_MODULES,
    "showcase.runtime.files",  # the download directory: files, no network
    # the LLM API shapes: framings of a token stream
    "showcase.chat.request",
    "showcase.chat.answer",
    "showcase.chat.typewriter",
    "showcase.chat.openai",
    "showcase.chat.ndjson",
    "showcase.chat.coze",
    "showcase.chat.forward",
    # the hub: rooms, their logs, the memory broker and the streams' source
    "showcase.hub",
    "showcase.hub.event",
    "showcase.hub.log",
    "showcase.hub.room",
    "showcase.hub.broker",
    "showcase.hub.memory",
    "showcase.hub.source",
    # resumable answers: the log, the memory store, their framings, readers and the runner
    "showcase.answers",
    "showcase.answers.log",
    "showcase.answers.memory",
    "showcase.answers.framing",
    "showcase.answers.source",
    "showcase.answers.runner",
    # long polling's schedule and the WebSocket frames' JSON
    "showcase.pure.poll",
    "showcase.pure.ws_frames",
]
# Sockets or child processes by design, yet no web stack: they run outside the app too.
NETWORK_MODULES = [
    "showcase.tools.wire",  # an HTTP/1.1 response read from a raw socket
    "showcase.tools.response_head",  # its head, read by the relay hop too
    "showcase.tools.proxy.locations",  # the proxy package starts nginx and finds free ports
    "showcase.tools.proxy.config",
    "showcase.tools.proxy.tls",
    "showcase.tools.proxy.nginx",
    "showcase.hub.redis_broker",  # Redis Streams through redis-py's sockets
    "showcase.answers.redis_answers",  # answer logs on Redis Streams
]


def _imported_by(module: str, candidates: tuple[str, ...]) -> list[str]:
    code = (
        "import importlib, sys\n"
        f"importlib.import_module({module!r})\n"
        f"print(' '.join(m for m in {candidates!r} if m in sys.modules))\n"
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


@pytest.mark.parametrize("module", PURE_MODULES)
def test_pure_module_imports_no_web_stack_redis_or_sockets(module: str) -> None:
    assert _imported_by(module, WEB_STACK + NETWORK) == []


@pytest.mark.parametrize("module", NETWORK_MODULES)
def test_network_module_imports_no_web_stack(module: str) -> None:
    assert _imported_by(module, WEB_STACK) == []


def test_the_pure_folder_is_found_on_disk() -> None:
    assert "showcase.pure.framing.sse" in PURE_FOLDER_MODULES
    assert "showcase.pure.params" in PURE_FOLDER_MODULES
