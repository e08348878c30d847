"""The pure layers import no web stack: checked in a fresh interpreter, not this one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ("flask", "werkzeug", "gevent", "gunicorn", "requests")
PURE_MODULES = [
    "showcase.framing",
    "showcase.message",
    "showcase.sources",
    "showcase.params",
    "showcase.modes",
    "showcase.bodies",
    "showcase.files",
    "showcase.wire",
    "showcase.json_body",
    # nginx in front: config, certificate and process, no web stack (only command.py has one)
    "showcase.proxy.locations",
    "showcase.proxy.config",
    "showcase.proxy.tls",
    "showcase.proxy.nginx",
    # the LLM API shapes: framings of a token stream
    "showcase.chat.request",
    "showcase.chat.answer",
    "showcase.chat.typewriter",
    "showcase.chat.openai",
    "showcase.chat.ndjson",
    "showcase.chat.coze",
    "showcase.chat.forward",
    # the hub's broker layer
    "showcase.hub.event",
    "showcase.hub.log",
    "showcase.hub.room",
    "showcase.hub.broker",
    "showcase.hub.memory",
    "showcase.hub.source",
    "showcase.hub.redis_broker",
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
def test_pure_module_imports_no_web_stack(module: str) -> None:
    assert _imported_by(module, FORBIDDEN) == []


@pytest.mark.parametrize(
    "module", ["showcase.framing", *(m for m in PURE_MODULES if m.startswith("showcase.chat."))]
)
def test_codecs_import_no_sockets(module: str) -> None:
    assert _imported_by(module, ("socket", "select", "ssl")) == []
