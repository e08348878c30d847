"""The kinds of value a setting takes: each parses the text of an environment variable or a
flag, describes what it accepts (for help and the README) and writes a value back as text.
Pure: no Flask, no I/O. A refusal is a ValueError whose message says what was expected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from showcase.pure.params import DECIMAL_TEXT, INTEGER_TEXT, MAX_PARAM_CHARS, decimal_text

SHOWN_CHARS = 60  # of a refused value, in the error


class SettingError(ValueError):
    """A setting's value refused: ``env`` names the variable, ``detail`` says why."""

    def __init__(self, env: str, detail: str) -> None:
        super().__init__(f"{env}: {detail}")
        self.env = env
        self.detail = detail


def shown(raw: str) -> str:
    return repr(raw[:SHOWN_CHARS])


def plain_number(value: float) -> str:
    """``1000000`` and ``0.05``, never ``1e+06`` or ``15.0``."""
    return str(int(value)) if float(value).is_integer() else decimal_text(float(value))


class Kind(Protocol):
    def parse(self, raw: str) -> Any: ...
    def describe(self) -> str: ...
    def text_of(self, value: Any) -> str: ...


class BaseKind:
    """What every kind shares: a refusal says what was expected; a value is its own text
    unless the kind writes it otherwise."""

    __slots__ = ()

    def describe(self) -> str:
        raise NotImplementedError

    def text_of(self, value: Any) -> str:
        return str(value)

    def refuse(self, raw: str) -> ValueError:
        return ValueError(f"expected {self.describe()}, got {shown(raw)}")


@dataclass(frozen=True, slots=True)
class Number(BaseKind):
    """An integer or a decimal number by the stream parameters' rule (plain ASCII digits),
    from ``low`` (excluded when ``above_low``) to ``high``."""

    low: float
    high: float
    integer: bool = False
    above_low: bool = False

    def parse(self, raw: str) -> int | float:
        text = raw.strip(" \t")
        pattern = INTEGER_TEXT if self.integer else DECIMAL_TEXT
        if len(text) > MAX_PARAM_CHARS or not pattern.fullmatch(text):
            raise self.refuse(raw)
        value: int | float = int(text) if self.integer else float(text) + 0.0
        if not self.low <= value <= self.high or (self.above_low and value == self.low):
            raise self.refuse(raw)
        return value

    def describe(self) -> str:
        noun = "an integer" if self.integer else "a number"
        low = plain_number(self.low)
        return f"{noun} {'over' if self.above_low else 'from'} {low} to {plain_number(self.high)}"

    def text_of(self, value: Any) -> str:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return plain_number(value)
        return str(value)


@dataclass(frozen=True, slots=True)
class Choice(BaseKind):
    choices: tuple[str, ...]

    def parse(self, raw: str) -> str:
        if raw not in self.choices:
            raise self.refuse(raw)
        return raw

    def describe(self) -> str:
        return "one of " + ", ".join(self.choices)


@dataclass(frozen=True, slots=True)
class Text(BaseKind):
    """Any printable text up to ``max_chars`` (no control characters: they would reach
    headers and logs)."""

    max_chars: int

    def parse(self, raw: str) -> str:
        if len(raw) > self.max_chars or any(ord(c) < 32 or ord(c) == 127 for c in raw):
            raise self.refuse(raw)
        return raw

    def describe(self) -> str:
        return f"text, at most {self.max_chars} characters"


@dataclass(frozen=True, slots=True)
class Path(BaseKind):
    """A file or folder path (no NUL or control character)."""

    def parse(self, raw: str) -> str:
        if len(raw) > 4096 or any(ord(c) < 32 for c in raw):
            raise self.refuse(raw)
        return raw

    def describe(self) -> str:
        return "a path"


BIND_TEXT = re.compile(r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})")


@dataclass(frozen=True, slots=True)
class Bind(BaseKind):
    """``HOST:PORT`` (``[v6]:PORT`` too) or ``unix:PATH``, as gunicorn's ``--bind`` takes."""

    def parse(self, raw: str) -> str:
        if raw.startswith("unix:") and len(raw) > 5 and "\x00" not in raw:
            return raw
        match = BIND_TEXT.fullmatch(raw)
        if match is None or int(match.group(1)) > 65535:
            raise self.refuse(raw)
        return raw

    def describe(self) -> str:
        return "HOST:PORT or unix:PATH"


def is_http_url(raw: str, schemes: tuple[str, ...]) -> bool:
    """An absolute URL of one of ``schemes`` with a host and a valid port, no blanks."""
    if any(c.isspace() or ord(c) < 32 for c in raw):
        return False
    try:
        parts = urlsplit(raw)
        parts.port  # noqa: B018 (raises ValueError for a port out of range)
    except ValueError:
        return False
    return parts.scheme in schemes and bool(parts.hostname)


@dataclass(frozen=True, slots=True)
class UpstreamURL(BaseKind):
    """``self`` (this server) or an absolute http(s) URL."""

    def parse(self, raw: str) -> str:
        if raw == "self" or is_http_url(raw, ("http", "https")):
            return raw
        raise self.refuse(raw)

    def describe(self) -> str:
        return "self, or an http(s) URL"


@dataclass(frozen=True, slots=True)
class Broker(BaseKind):
    """``memory`` or a Redis URL (``redis://``, ``rediss://``, ``unix://``)."""

    def parse(self, raw: str) -> str:
        if raw == "memory" or is_http_url(raw, ("redis", "rediss")):
            return raw
        if raw.startswith("unix://") and len(raw) > 7 and not any(ord(c) < 32 for c in raw):
            return raw
        raise self.refuse(raw)

    def describe(self) -> str:
        return "memory, or redis://HOST:PORT/DB"


@dataclass(frozen=True, slots=True)
class GCThreshold(BaseKind):
    """Three integers for ``gc.set_threshold``, comma-separated (empty: the project's)."""

    def parse(self, raw: str) -> tuple[int, int, int]:
        parts = raw.split(",")
        if len(parts) != 3 or not all(
            len(p) <= 8 and INTEGER_TEXT.fullmatch(p) and 0 <= int(p) <= 10_000_000 for p in parts
        ):
            raise self.refuse(raw)
        return (int(parts[0]), int(parts[1]), int(parts[2]))

    def describe(self) -> str:
        return "three integers 0 to 10000000, as 700,10,10"

    def text_of(self, value: Any) -> str:
        return ",".join(str(n) for n in value) if isinstance(value, tuple) else str(value)
