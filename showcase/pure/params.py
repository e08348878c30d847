"""The stream contract's query parameters, validated before any byte is sent. No Flask here.

Every refusal (``showcase.pure.refusal.Refusal``, 400) names its field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from showcase.pure.refusal import Refusal
from showcase.pure.sources import SOURCES

MAX_COUNT = 1_000_000
MAX_INTERVAL_MS = 60_000.0
MAX_SIZE_BYTES = 1_048_576
MIN_HEARTBEAT_S = 0.05
MAX_HEARTBEAT_S = 300.0
FLUSH_POLICIES = ("auto", "each")
# accel: "omit" leaves out X-Accel-Buffering, to show what a buffering proxy does without it.
ACCEL_POLICIES = ("send", "omit")
# compress: "naive" is a compressor flushed only at the end (what flask-compress does to a
# stream: messages sit in it), "sync" one flushed after every write (Z_SYNC_FLUSH).
COMPRESS_POLICIES = ("none", "naive", "sync")
MAX_PARAM_CHARS = 32  # a number longer than this is not a number we accept

# One rule for every number: ASCII digits with an optional leading "-", and for a decimal one
# "." between digits. Python's int() and float() take more ("1_000", "+5", "1e3", "inf",
# " 5", non-ASCII digits), and a contract a browser, curl and a benchmark all speak should
# not depend on one language's parser.
INTEGER_TEXT = re.compile(r"-?[0-9]+")
DECIMAL_TEXT = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
SURROUNDING_BLANKS = " \t"  # a pasted form value may carry them; nothing else is stripped


@dataclass(frozen=True, slots=True)
class StreamParams:
    count: int = 20
    interval_ms: float = 100.0
    size: int = 0
    source: str = "ticks"
    flush: str = "auto"
    heartbeat_s: float | None = None  # None: the server's default
    accel: str = "send"
    compress: str = "none"


def decimal_text(value: float) -> str:
    """A float as the one number rule writes it: plain digits, never an exponent
    (``repr(1e-05)`` is ``'1e-05'``, which ``parse_float`` refuses)."""
    return format(Decimal(repr(value)), "f")


def number_text(
    args: Mapping[str, str], field: str, pattern: re.Pattern[str], expected: str
) -> str | None:
    """The parameter's text if it matches ``pattern`` (see INTEGER_TEXT), None if absent."""
    raw = args.get(field)
    if raw is None:
        return None
    text = raw.strip(SURROUNDING_BLANKS)
    if len(text) > MAX_PARAM_CHARS or not pattern.fullmatch(text):
        raise Refusal(field, f"expected {expected}, got {raw[:40]!r}")
    return text


def parse_int(args: Mapping[str, str], field: str, default: int, low: int, high: int) -> int:
    """``args[field]`` as an integer from ``low`` to ``high`` (INTEGER_TEXT), or Refusal."""
    text = number_text(args, field, INTEGER_TEXT, f"an integer from {low} to {high}")
    if text is None:
        return default
    value = int(text)
    if not low <= value <= high:
        raise Refusal(field, f"must be from {low} to {high}, got {value}")
    return value


def parse_float(
    args: Mapping[str, str], field: str, default: float | None, low: float, high: float
) -> float | None:
    """``args[field]`` as a number from ``low`` to ``high`` (DECIMAL_TEXT), or Refusal."""
    text = number_text(args, field, DECIMAL_TEXT, f"a number from {low:g} to {high:g}")
    if text is None:
        return default
    value = float(text) + 0.0  # "-0" is 0.0, not -0.0
    if not low <= value <= high:
        raise Refusal(field, f"must be from {low:g} to {high:g}, got {text}")
    return value


def parse_choice(
    args: Mapping[str, str], field: str, default: str, choices: tuple[str, ...]
) -> str:
    raw = args.get(field, default)
    if raw not in choices:
        raise Refusal(field, f"must be one of {', '.join(choices)}, got {raw[:40]!r}")
    return raw


def parse_stream_params(args: Mapping[str, str]) -> StreamParams:
    """``count``, ``interval``, ``size``, ``source`` (+ ``flush``, ``heartbeat``, ``accel``,
    ``compress``) or Refusal."""
    interval = parse_float(args, "interval", 100.0, 0.0, MAX_INTERVAL_MS)
    assert interval is not None
    return StreamParams(
        count=parse_int(args, "count", 20, 1, MAX_COUNT),
        interval_ms=interval,
        size=parse_int(args, "size", 0, 0, MAX_SIZE_BYTES),
        source=parse_choice(args, "source", "ticks", tuple(SOURCES)),
        flush=parse_choice(args, "flush", "auto", FLUSH_POLICIES),
        heartbeat_s=parse_float(args, "heartbeat", None, MIN_HEARTBEAT_S, MAX_HEARTBEAT_S),
        accel=parse_choice(args, "accel", "send", ACCEL_POLICIES),
        compress=parse_choice(args, "compress", "none", COMPRESS_POLICIES),
    )


def parse_last_event_id(raw: str | None) -> int:
    """The seq to resume at, from a ``Last-Event-ID`` header: n means n + 1; none or empty, 0.

    An id that is not a non-negative integer is a Refusal: ids here are seqs.
    """
    # Only HTTP's own blanks (RFC 9110 §5.6.3): str.strip() would also take NBSP and U+0085.
    raw = None if raw is None else raw.strip(SURROUNDING_BLANKS)
    if not raw:
        return 0
    if len(raw) > MAX_PARAM_CHARS or not re.fullmatch(r"[0-9]+", raw):
        raise Refusal("Last-Event-ID", f"expected a message seq (an integer), got {raw[:40]!r}")
    return int(raw) + 1
