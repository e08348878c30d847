"""The JSON body of a request, decoded once for every JSON endpoint, hostile input refused.

Pure: no Flask, no I/O. Every refusal is a ``Refusal`` naming the field's path, which
each API answers in its own error shape.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

from showcase.pure.refusal import Refusal

MAX_DEPTH = 64  # arrays and objects inside one another; a chat request needs 5 at most

# A JSON string, or what is left of an unterminated one: a match from every quote (the
# possessive loop never backtracks), so a body made of quotes and backslashes scans in
# linear time instead of retrying from each quote.
STRING_TEXT = re.compile(r'"(?:[^"\\]+|\\.)*+(?:"|\\?\Z)', re.DOTALL)
NOT_BRACKET = re.compile(r"[^\[\]{}]+")
BRACKET_DEPTH = {"[": 1, "{": 1, "]": -1, "}": -1}
# Only a \u escape of a surrogate (D800-DFFF) can put one in a decoded string: strict UTF-8
# decoding refuses encoded surrogates. Without one in the text, no string needs a look.
SURROGATE_ESCAPE = re.compile(r"\\u[dD][89abcdefABCDEF]")


def measure_depth(text: str) -> int:
    """How deeply arrays and objects nest in ``text`` (0 for a scalar), brackets inside
    strings not counted. Exact for valid JSON; for invalid JSON a number the decoder's
    refusal makes moot. Linear in ``len(text)``, with no recursion."""
    brackets = NOT_BRACKET.sub("", STRING_TEXT.sub("", text))
    return max(accumulate(map(BRACKET_DEPTH.__getitem__, brackets)), default=0)


def join_path(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def shown_key(key: str) -> str:
    """A key as a path may show it: a lone surrogate becomes its ``\\udXXX`` escape."""
    return key.encode("utf-8", "backslashreplace").decode("utf-8")


def find_unencodable(value: Any, path: str = "") -> str | None:
    """The path of the first string (or key) in ``value`` that does not encode as UTF-8,
    None if every one does. Recursive, so only for values whose depth is already bounded."""
    if isinstance(value, str):
        return None if is_encodable(value) else path
    if isinstance(value, dict):
        for key, item in value.items():
            if not is_encodable(key):
                return join_path(path, shown_key(key))
            found = find_unencodable(item, join_path(path, key))
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = find_unencodable(item, join_path(path, f"[{index}]"))
            if found is not None:
                return found
    return None


def is_encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def decode_json_object(raw: bytes, *, max_depth: int = MAX_DEPTH) -> dict[str, Any]:
    """``raw`` as a JSON object, or Refusal.

    Refused, in this order: bytes that are not UTF-8 (RFC 8259 §8.1; a leading BOM is
    ignored) and text that is not JSON (``invalid_json``); arrays and objects nested more
    than ``max_depth`` levels (``too_deep``), counted on the text before it is decoded, so
    the decoder never recurses that deep; a value that is not an object (``invalid_type``);
    a string or key holding a lone surrogate such as ``"\\ud800"`` (``invalid_string``,
    ``field`` its path), which no stream could encode later.
    """
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise Refusal(
            None, f"the body is not valid UTF-8 (byte {error.start})", code="invalid_json"
        ) from None
    if measure_depth(text) > max_depth:
        raise Refusal(
            None, f"arrays and objects nest more than {max_depth} levels deep", code="too_deep"
        )
    try:
        body = json.loads(text)
    except ValueError as error:
        raise Refusal(None, f"the body is not valid JSON: {error}", code="invalid_json") from None
    if not isinstance(body, dict):
        raise Refusal(None, "the body must be a JSON object", code="invalid_type")
    if SURROGATE_ESCAPE.search(text):
        path = find_unencodable(body)
        if path is not None:
            raise Refusal(
                path,
                "a lone surrogate (\\ud800-\\udfff): not a Unicode character, cannot be "
                "encoded as UTF-8",
                code="invalid_string",
            )
    return body
