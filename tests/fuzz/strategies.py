"""Hostile inputs as Hypothesis strategies: query strings, header values, JSON values and
bodies. What a request line may carry is printable ASCII (gunicorn refuses the rest itself,
before the app): hostile text reaches the app percent-encoded."""

from __future__ import annotations

import json
from urllib.parse import quote

from hypothesis import strategies as st

# Text a browser, curl or a script may send: any code point but a lone surrogate (a URL or
# a header cannot carry one; JSON can, see ``json_text``).
any_text = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=40)
NUMBER_SHAPES = (
    "",
    " ",
    "0",
    "-0",
    "-1",
    "+5",
    "1.5",
    ".5",
    "5.",
    "1e3",
    "1E-5",
    "inf",
    "-inf",
    "nan",
    "NaN",
    "0x10",
    "1_000",
    " 5 ",
    "\t7",
    "５",  # fullwidth digit
    "١٢",  # Arabic-Indic digits
    "²",
    "00000000000000000000000000000001",
    "18446744073709551616",
    "-9223372036854775809",
    "1" * 33,
)
huge_number = st.one_of(
    st.integers(min_value=-(10**40), max_value=10**40).map(str),
    st.integers(min_value=30, max_value=2000).map(lambda n: "9" * n),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)
hostile_text = st.one_of(any_text, st.sampled_from(NUMBER_SHAPES), huge_number)

# Raw pieces of a query that stay printable ASCII but break its grammar or its encoding:
# bad escapes, escapes of invalid UTF-8 (a surrogate's bytes, overlong forms), NULs.
RAW_QUERY_PIECES = (
    "%",
    "%z",
    "%zz",
    "%0",
    "%00",
    "%ff%fe",
    "%ed%a0%80",
    "%c0%ae",
    "%f4%90%80%80",
    "&",
    "&&",
    "=",
    "==",
    ";",
    "+",
    "%2B",
    "%26",
    "%3D",
    "[]",
    "count",
    "count=",
    "=5",
)


def encode(text: str) -> str:
    return quote(text, safe="", encoding="utf-8", errors="strict")


def query_string(good: dict[str, st.SearchStrategy[str]]) -> st.SearchStrategy[str]:
    """``name=value`` pairs joined with ``&``: the names the endpoint knows (``good``, with
    values it takes) and any other, repeated or not; hostile values; raw pieces."""
    return st.lists(query_pair(good), max_size=8).map("&".join)


@st.composite
def query_pair(draw: st.DrawFn, good: dict[str, st.SearchStrategy[str]]) -> str:
    if draw(st.integers(min_value=0, max_value=5)) == 0:
        return draw(st.sampled_from(RAW_QUERY_PIECES))
    key = draw(st.one_of(st.sampled_from(sorted(good)), any_text) if good else any_text)
    value = draw(st.one_of(good[key], hostile_text) if key in good else hostile_text)
    return f"{encode(key)}={encode(value)}"


# Header values gunicorn lets through to the app: latin-1 without the controls RFC 9110
# §5.5 forbids (it answers those with its own 400, never seen by the app).
header_text = st.text(
    alphabet=st.characters(
        min_codepoint=0x09, max_codepoint=0xFF, exclude_characters="\n\r\x0b\x0c\x7f"
    ).filter(lambda c: c == "\t" or c >= " "),
    max_size=60,
)
# A header carries bytes: non-ASCII digits arrive as their UTF-8 bytes, read as latin-1.
header_number = st.sampled_from(NUMBER_SHAPES).map(lambda s: s.encode("utf-8").decode("latin-1"))
# Every shape a Last-Event-ID may have: ids, negatives, huge, padded, non-ASCII digits...
last_event_id = st.one_of(
    st.integers(min_value=0, max_value=30).map(str),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.integers(min_value=30, max_value=4000).map(lambda n: "9" * n),
    header_number,
    # Whitespace HTTP does not strip (only SP and HTAB are OWS), around a seq or alone.
    st.sampled_from(["\xa0", "\x85", "\xa05", "5\xa0", "\x855"]),
    st.tuples(st.sampled_from(["", " ", "\t", "  "]), st.integers(0, 30).map(str)).map(
        lambda pair: pair[0] + pair[1] + pair[0]
    ),
    header_text,
    st.integers(min_value=1, max_value=8000).map(lambda n: "1" * n),
)


# JSON: every type, huge numbers, deep nesting, strings with lone surrogates and NULs.
surrogate_text = st.text(
    st.characters(categories=["Cs"]) | st.characters(codec="ascii"), min_size=1, max_size=10
).filter(lambda text: any(0xD800 <= ord(char) <= 0xDFFF for char in text))
json_text = st.one_of(
    st.text(max_size=30),  # may hold lone surrogates: json.dumps escapes them as \udXXX
    surrogate_text,
    st.sampled_from(["", "\0", "a\0b", "\ud800", "\udfff", "x\udc00y", "\ufeff", "\u2028"]),
)
json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**18, max_value=10**60),
    st.floats(allow_nan=True, allow_infinity=True),
    json_text,
)
json_value = st.recursive(
    json_leaf,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(json_text, children, max_size=4)
    ),
    max_leaves=12,
)


def deep(depth: int, opener: str = "[") -> str:
    closer = {"[": "]", "{": "}"}[opener]
    if opener == "{":
        return '{"a":' * depth + "1" + "}" * depth
    return opener * depth + closer * depth


depth = st.one_of(
    st.sampled_from([500, 1000, 2000, 3000, 10_000, 100_000]),
    st.integers(min_value=100, max_value=100_000),
)
deep_json = st.tuples(depth, st.sampled_from("[{")).map(lambda pair: deep(*pair))


def dumps(value: object) -> bytes:
    """JSON as a client writes it; lone surrogates leave as ``\\udXXX`` escapes."""
    return json.dumps(value, ensure_ascii=True, allow_nan=True).encode()
