"""The stream contract's query parameters, validated before any byte is sent. No Flask here.

Every error names its field so the web layer can answer ``400`` with a useful JSON body.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from showcase.sources import SOURCES

MAX_COUNT = 1_000_000
MAX_INTERVAL_MS = 60_000.0
MAX_SIZE_BYTES = 1_048_576
MIN_HEARTBEAT_S = 0.05
MAX_HEARTBEAT_S = 300.0
FLUSH_POLICIES = ("auto", "each")
MAX_PARAM_CHARS = 32  # a number longer than this is not a number we accept


class ParamError(ValueError):
    """A parameter that breaks the contract: ``field`` names it, ``detail`` says why."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"{field}: {detail}")
        self.field = field
        self.detail = detail

    def to_json(self) -> dict[str, str]:
        return {"error": "invalid parameter", "field": self.field, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class StreamParams:
    count: int = 20
    interval_ms: float = 100.0
    size: int = 0
    source: str = "ticks"
    flush: str = "auto"
    heartbeat_s: float | None = None  # None: the server's default


def parse_int(args: Mapping[str, str], field: str, default: int, low: int, high: int) -> int:
    raw = args.get(field)
    if raw is None:
        return default
    raw = raw.strip()
    if len(raw) > MAX_PARAM_CHARS or not re.fullmatch(r"-?[0-9]+", raw):
        raise ParamError(field, f"expected an integer from {low} to {high}, got {raw[:40]!r}")
    value = int(raw)
    if not low <= value <= high:
        raise ParamError(field, f"must be from {low} to {high}, got {value}")
    return value


def parse_float(
    args: Mapping[str, str], field: str, default: float | None, low: float, high: float
) -> float | None:
    raw = args.get(field)
    if raw is None:
        return default
    try:
        if len(raw) > MAX_PARAM_CHARS:
            raise ValueError(raw)
        value = float(raw)
    except ValueError:
        raise ParamError(
            field, f"expected a number from {low:g} to {high:g}, got {raw[:40]!r}"
        ) from None
    if not math.isfinite(value) or not low <= value <= high:
        raise ParamError(field, f"must be from {low:g} to {high:g}, got {raw[:40]!r}")
    return value


def parse_choice(
    args: Mapping[str, str], field: str, default: str, choices: tuple[str, ...]
) -> str:
    raw = args.get(field, default)
    if raw not in choices:
        raise ParamError(field, f"must be one of {', '.join(choices)}, got {raw[:40]!r}")
    return raw


def parse_stream_params(args: Mapping[str, str]) -> StreamParams:
    """``count``, ``interval``, ``size``, ``source`` (+ ``flush``, ``heartbeat``) or ParamError."""
    interval = parse_float(args, "interval", 100.0, 0.0, MAX_INTERVAL_MS)
    assert interval is not None
    return StreamParams(
        count=parse_int(args, "count", 20, 1, MAX_COUNT),
        interval_ms=interval,
        size=parse_int(args, "size", 0, 0, MAX_SIZE_BYTES),
        source=parse_choice(args, "source", "ticks", tuple(SOURCES)),
        flush=parse_choice(args, "flush", "auto", FLUSH_POLICIES),
        heartbeat_s=parse_float(args, "heartbeat", None, MIN_HEARTBEAT_S, MAX_HEARTBEAT_S),
    )


def parse_last_event_id(raw: str | None) -> int:
    """The seq to resume at, from a ``Last-Event-ID`` header: n means n + 1; none or empty, 0.

    An id that is not a non-negative integer is a ParamError: ids here are seqs.
    """
    if raw is None or raw.strip() == "":
        return 0
    raw = raw.strip()
    if len(raw) > MAX_PARAM_CHARS or not re.fullmatch(r"[0-9]+", raw):
        raise ParamError("Last-Event-ID", f"expected a message seq (an integer), got {raw[:40]!r}")
    return int(raw) + 1
