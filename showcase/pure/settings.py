"""Every ``SHOWCASE_*`` setting, declared once: type, bounds, default, variable, flag, doc.

``showcase serve`` builds its flags from here, ``gunicorn_conf`` validates the whole
environment before any worker forks, ``create_app`` reads its values from here, and the
README's table of settings is generated from here (``python -m showcase.pure.settings``).
Pure: no Flask, no gevent, no I/O.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from showcase.answers.memory import ANSWER_ORPHAN_S, ANSWER_TTL_S, MAX_ANSWERS
from showcase.chat.request import MAX_INTERVAL_MS as MAX_CHAT_INTERVAL_MS
from showcase.hub.memory import LOG_AGE_S, LOG_COUNT, MAX_ROOMS
from showcase.hub.room import QUEUE_LIMIT
from showcase.pure.params import MAX_HEARTBEAT_S, MIN_HEARTBEAT_S
from showcase.pure.setting_kinds import (
    Bind,
    Broker,
    Choice,
    GCThreshold,
    Kind,
    Number,
    Path,
    SettingError,
    Text,
    UpstreamURL,
)

__all__ = ["SETTINGS", "Setting", "SettingError", "read_setting", "read_settings"]

SEND_TIMEOUT_S = 30.0  # a browser on a slow link drains a 64 KiB write well within this
MAX_SEND_TIMEOUT_S = 3600.0  # an hour: past that a stalled reader is simply never cut
RESTART_RETRY_MS = 1000
RESTART_JITTER_MS = 4000
MAX_RESTART_MS = 600_000  # ten minutes; more would leave clients away longer than a restart
DEFAULT_BIND = "127.0.0.1:8000"
# The gevent worker's pool caps concurrent connections per worker, silently (gunicorn's
# default is 1000): 20,000 leaves room for 10,000 streams and their reconnects.
WORKER_CONNECTIONS = 20_000


@dataclass(frozen=True, slots=True)
class Setting:
    """One setting: ``env`` is its variable, ``flag`` its ``showcase serve`` option (if any)."""

    env: str
    kind: Kind
    default: Any
    doc: str
    flag: str | None = None

    def parse(self, raw: str | None) -> Any:
        """The value of ``raw`` (None or empty: the default), or SettingError naming ``env``."""
        if raw is None or raw == "":
            return self.default
        try:
            return self.kind.parse(raw)
        except ValueError as error:
            raise SettingError(self.env, str(error)) from None


SETTINGS: tuple[Setting, ...] = (
    # The server: read by gunicorn_conf in the arbiter, before any worker forks.
    Setting("SHOWCASE_BIND", Bind(), DEFAULT_BIND, "address to listen on", "--bind"),
    Setting("SHOWCASE_WORKERS", Number(1, 64, integer=True), 1, "worker processes", "--workers"),
    Setting(
        "SHOWCASE_WORKER_CONNECTIONS",
        Number(1, 1_000_000, integer=True),
        WORKER_CONNECTIONS,
        "open connections one worker holds (gunicorn's default of 1000 caps streams silently)",
        "--worker-connections",
    ),
    Setting(
        "SHOWCASE_ACCESS_LOG",
        Path(),
        "",
        "gunicorn's access log: a file, or - for stderr (empty: none)",
    ),
    Setting(
        "SHOWCASE_LOG_LEVEL",
        Choice(("debug", "info", "warning", "error", "critical")),
        "info",
        "gunicorn's log level",
    ),
    Setting(
        "SHOWCASE_GC_THRESHOLD",
        GCThreshold(),
        "",
        "the worker's gc.set_threshold, e.g. 700,10,10 (Python's own); empty: the project's",
    ),
    # Streams.
    Setting(
        "SHOWCASE_DATA_DIR",
        Path(),
        "data",
        "download directory (samples made on first use)",
        "--data-dir",
    ),
    Setting(
        "SHOWCASE_HEARTBEAT_S",
        Number(MIN_HEARTBEAT_S, MAX_HEARTBEAT_S),
        15.0,
        "seconds of silence before a stream sends a heartbeat",
        "--heartbeat",
    ),
    Setting(
        "SHOWCASE_SEND_TIMEOUT_S",
        Number(0.0, MAX_SEND_TIMEOUT_S, above_low=True),
        SEND_TIMEOUT_S,
        "seconds a write to a client may take before its stream is cut",
        "--send-timeout",
    ),
    Setting(
        "SHOWCASE_RESTART_RETRY_MS",
        Number(0, MAX_RESTART_MS, integer=True),
        RESTART_RETRY_MS,
        "the retry (ms, plus jitter) each SSE stream is sent on SIGTERM; 0 sends none",
        "--restart-retry",
    ),
    Setting(
        "SHOWCASE_RESTART_JITTER_MS",
        Number(0, MAX_RESTART_MS, integer=True),
        RESTART_JITTER_MS,
        "the most a random jitter adds to each stream's restart retry",
        "--restart-jitter",
    ),
    # Chat and relays.
    Setting(
        "SHOWCASE_CHAT_INTERVAL_MS",
        Number(0.0, MAX_CHAT_INTERVAL_MS),
        40.0,
        "default pace of a chat answer, ms a token",
    ),
    Setting(
        "SHOWCASE_RELAY_SSE_URL",
        UpstreamURL(),
        "self",
        "what /relay/stream/sse reads: an http(s) URL, or self (this server's /stream/sse)",
    ),
    Setting(
        "SHOWCASE_RELAY_COZE_URL",
        UpstreamURL(),
        "self",
        "what /v3/chat reads: an http(s) URL, or self (this server's /upstream/mock)",
    ),
    Setting(
        "SHOWCASE_RELAY_CONNECT_TIMEOUT_S",
        Number(0.0, 300.0, above_low=True),
        5.0,
        "seconds a relay waits to connect to its upstream",
    ),
    Setting(
        "SHOWCASE_RELAY_READ_TIMEOUT_S",
        Number(0.0, 3600.0, above_low=True),
        45.0,
        "seconds of silence a relay takes from its upstream past the heartbeat it asked for",
    ),
    # Resumable answers (docs/answers.md).
    Setting(
        "SHOWCASE_ANSWER_LOG",
        Choice(("on", "off")),
        "on",
        "on: a streamed chat answer is generated apart from its request, logged on the broker, "
        "resumable and cancellable; off: the plain answer (no ids, no log)",
    ),
    Setting(
        "SHOWCASE_ANSWER_ORPHAN_S",
        Number(0.0, 86_400.0, above_low=True),
        ANSWER_ORPHAN_S,
        "seconds an answer is generated with no reader anywhere before it stops, as if cancelled",
    ),
    Setting(
        "SHOWCASE_ANSWER_TTL_S",
        Number(0.0, 7 * 86_400.0, above_low=True),
        ANSWER_TTL_S,
        "seconds an answer's log is kept for resume after it ended",
    ),
    Setting(
        "SHOWCASE_ANSWER_MAX",
        Number(1, 1_000_000, integer=True),
        MAX_ANSWERS,
        "answers one worker generates at once; a new one past it gets 503",
    ),
    # The broadcast hub.
    Setting(
        "SHOWCASE_BROKER",
        Broker(),
        "memory",
        "the hub's broker: memory (one worker), or Redis (shared by workers and hosts)",
        "--broker",
    ),
    Setting(
        "SHOWCASE_HUB_TOKEN",
        Text(max_chars=256),
        "",
        "when set, POST /chat/send needs Authorization: Bearer <it>",
    ),
    Setting(
        "SHOWCASE_HUB_LOG_COUNT",
        Number(1, 1_000_000, integer=True),
        LOG_COUNT,
        "messages a room's log keeps for resume",
    ),
    Setting(
        "SHOWCASE_HUB_LOG_AGE_S",
        Number(0.0, 7 * 86_400.0, above_low=True),
        LOG_AGE_S,
        "seconds a room's log keeps a message",
    ),
    Setting(
        "SHOWCASE_HUB_QUEUE_LIMIT",
        Number(1, 1_000_000, integer=True),
        QUEUE_LIMIT,
        "messages waiting for one subscriber before it is cut as too slow",
    ),
    Setting(
        "SHOWCASE_HUB_MAX_ROOMS",
        Number(1, 1_000_000, integer=True),
        MAX_ROOMS,
        "rooms one worker holds; a stream or publish to a new room past it gets 503",
    ),
    Setting(
        "SHOWCASE_HUB_MAX_TEXT_BYTES",
        Number(1, 65_536, integer=True),
        4096,
        "bytes of UTF-8 in one hub message's text",
    ),
    # Set by `showcase proxy` for the app it starts; a malformed value is ignored by the page.
    Setting(
        "SHOWCASE_DEPLOY",
        Text(max_chars=8192),
        "",
        "set by showcase proxy: the page's deployment lanes, as JSON",
    ),
)
SETTING_OF: dict[str, Setting] = {setting.env: setting for setting in SETTINGS}


def read_setting(env: str, environ: Mapping[str, str]) -> Any:
    """The value of one declared setting in ``environ``, or SettingError."""
    return SETTING_OF[env].parse(environ.get(env))


def read_settings(environ: Mapping[str, str]) -> dict[str, Any]:
    """Every declared setting's value in ``environ``, or SettingError for the first bad one."""
    return {setting.env: setting.parse(environ.get(setting.env)) for setting in SETTINGS}


def check_value(env: str, value: Any) -> Any:
    """A value given in code (``create_app(config)``) held to the declaration of ``env``."""
    setting = SETTING_OF.get(env)
    if setting is None or isinstance(value, str):
        return value if setting is None else setting.parse(value)
    return setting.parse(setting.kind.text_of(value))


def render_table() -> str:
    """The README's table of settings, in Markdown."""
    lines = [
        "| variable | `showcase serve` flag | default | accepted | what it sets |",
        "|---|---|---|---|---|",
    ]
    for setting in SETTINGS:
        flag = f"`{setting.flag}`" if setting.flag else ""
        default = setting.kind.text_of(setting.default) if setting.default != "" else "(empty)"
        lines.append(
            f"| `{setting.env}` | {flag} | `{default}` | {setting.kind.describe()} "
            f"| {setting.doc} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render_table())
