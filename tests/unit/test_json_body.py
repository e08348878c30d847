"""The JSON body decoder: lone surrogates named by path, nesting bounded before decoding."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from showcase.pure.json_body import (
    MAX_DEPTH,
    decode_json_object,
    measure_depth,
    shown_key,
)
from showcase.pure.refusal import Refusal


def nested(depth: int) -> str:
    """An object whose field ``a`` holds ``depth - 1`` arrays inside one another."""
    return '{"a": ' + "[" * (depth - 1) + "]" * (depth - 1) + "}"


def test_a_plain_object_decodes() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "héllo ☃ 🎉"}]}
    assert decode_json_object(json.dumps(body).encode()) == body
    assert decode_json_object(json.dumps(body, ensure_ascii=False).encode()) == body


def test_a_leading_bom_is_ignored() -> None:
    assert decode_json_object(b'\xef\xbb\xbf{"a": 1}') == {"a": 1}


def test_paired_surrogate_escapes_are_one_character() -> None:
    assert decode_json_object(b'{"text": "\\ud83c\\udf89"}') == {"text": "🎉"}


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b'{"text": "\\ud800"}', "text"),
        (b'{"text": "ok \\uDFFF"}', "text"),
        (b'{"text": "\\udc00\\ud800"}', "text"),  # the wrong order is no pair
        (b'{"messages": [{"content": "x"}, {"content": "a\\ud800b"}]}', "messages.[1].content"),
        (b'{"options": {"stop": ["ok", "\\ud800"]}}', "options.stop.[1]"),
        (b'{"\\ud800": 1}', "\\ud800"),
        (b'{"messages": [{"\\udfff": "x"}]}', "messages.[0].\\udfff"),
    ],
)
def test_a_lone_surrogate_is_refused_with_its_path(raw: bytes, field: str) -> None:
    with pytest.raises(Refusal) as caught:
        decode_json_object(raw)
    assert caught.value.code == "invalid_string"
    assert caught.value.field == field
    assert "surrogate" in caught.value.detail


def test_an_escaped_backslash_before_u_is_no_surrogate() -> None:
    assert decode_json_object(b'{"text": "\\\\ud800"}') == {"text": "\\ud800"}


@pytest.mark.parametrize("raw", [b"\xff{}", b'{"text": "\xed\xa0\x80"}'])  # the 2nd: UTF-8 of D800
def test_bytes_that_are_not_utf8_are_refused(raw: bytes) -> None:
    with pytest.raises(Refusal) as caught:
        decode_json_object(raw)
    assert caught.value.code == "invalid_json"


@pytest.mark.parametrize("raw", [b"", b"{not json", b'{"a": }', b'{"a": "unterminated}'])
def test_text_that_is_not_json_is_refused(raw: bytes) -> None:
    with pytest.raises(Refusal) as caught:
        decode_json_object(raw)
    assert caught.value.code == "invalid_json"
    assert caught.value.field is None


@pytest.mark.parametrize("raw", [b"[1, 2]", b'"text"', b"3", b"null"])
def test_a_value_that_is_not_an_object_is_refused(raw: bytes) -> None:
    with pytest.raises(Refusal) as caught:
        decode_json_object(raw)
    assert caught.value.code == "invalid_type"


def test_nesting_up_to_the_bound_decodes() -> None:
    assert measure_depth(nested(MAX_DEPTH)) == MAX_DEPTH
    assert decode_json_object(nested(MAX_DEPTH).encode())["a"] is not None


@pytest.mark.parametrize(
    "text",
    [
        nested(MAX_DEPTH + 1),
        "[" * 5000,
        '{"a":' * 5000,
        "[" * 100_000 + "]" * 100_000,
        '{"model": "m", "extra": ' + "[" * 5000 + "]" * 5000 + "}",
        '{"a": "x", "b": ' + '{"c": ' * 5000 + "1" + "}" * 5000 + "}",
    ],
)
def test_nesting_past_the_bound_is_refused_before_decoding(text: str) -> None:
    with pytest.raises(Refusal) as caught:
        decode_json_object(text.encode())
    assert caught.value.code == "too_deep"
    assert str(MAX_DEPTH) in caught.value.detail


def test_the_bound_can_be_set_lower() -> None:
    assert decode_json_object(b'{"a": [[1]]}', max_depth=3) == {"a": [[1]]}
    with pytest.raises(Refusal):
        decode_json_object(b'{"a": [[[1]]]}', max_depth=3)


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("1", 0),
        ('"[[[["', 0),
        ('{"a": "]]]{{{", "b": [1]}', 2),
        ('{"a": "say \\"[[[\\" now", "b": []}', 2),
        ('["\\\\", [["\\\\"]]]', 3),  # an escaped backslash ends no string
        ("[[]] [[[]]]", 3),
    ],
)
def test_depth_ignores_brackets_inside_strings(text: str, depth: int) -> None:
    assert measure_depth(text) == depth


@pytest.mark.parametrize(
    "text",
    ['"' + '\\"' * 100_000, '"\\' * 100_000, '"' * 200_001, '"\\' + "[" * 100_000],
)
def test_depth_of_unterminated_strings_is_measured_in_one_pass(text: str) -> None:
    # A scan that restarted at every quote would take minutes here: the timeout would fail it.
    assert measure_depth(text) >= 0


# Characters for random strings: ASCII, brackets and quotes (which must not count as
# nesting inside a string), a backslash, non-ASCII, and both halves of a surrogate pair.
ALPHABET = ["a", "b", "[", "]", "{", "}", '"', "\\", "é", "☃", "\ud83c", "\udf89", "\ud800"]
KEYS = ["k", "model", "text", "é", "x\udfff"]


def random_value(rng: random.Random, depth: int) -> Any:
    kind = rng.choice(["str", "num", "list", "dict"] if depth < 6 else ["str", "num"])
    if kind == "str":
        return "".join(rng.choice(ALPHABET) for _ in range(rng.randrange(4)))
    if kind == "num":
        return rng.choice([0, 1.5, None, True])
    if kind == "list":
        return [random_value(rng, depth + 1) for _ in range(rng.randrange(3))]
    return {rng.choice(KEYS): random_value(rng, depth + 1) for _ in range(rng.randrange(3))}


def true_depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max(map(true_depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(true_depth, value.values()), default=0)
    return 0


def is_unicode(text: str) -> bool:
    return not any("\ud800" <= char <= "\udfff" for char in text)


def all_unicode(value: Any) -> bool:
    if isinstance(value, str):
        return is_unicode(value)
    if isinstance(value, list):
        return all(map(all_unicode, value))
    if isinstance(value, dict):
        return all(is_unicode(key) and all_unicode(item) for key, item in value.items())
    return True


def at_path(value: Any, path: str) -> Any:
    """The string (or the key, shown escaped) a refusal's path names."""
    for step in path.split("."):
        if step.startswith("["):
            value = value[int(step[1:-1])]
        elif step in value:
            value = value[step]
        else:  # a key that is not Unicode: the path shows it escaped
            (value,) = [key for key in value if shown_key(key) == step and key != step]
    return value


def test_random_bodies_are_decoded_or_refused_at_the_culprit() -> None:
    rng = random.Random(20261207)
    refused = 0
    for _ in range(2000):
        body = {rng.choice(KEYS): random_value(rng, 1) for _ in range(rng.randrange(1, 4))}
        text = json.dumps(body)  # ensure_ascii: surrogates travel as \u escapes
        assert measure_depth(text) == true_depth(body)
        # A high and a low surrogate side by side in the text decode to one character.
        decoded = json.loads(text)
        if all_unicode(decoded):
            assert decode_json_object(text.encode()) == decoded
            continue
        refused += 1
        with pytest.raises(Refusal) as caught:
            decode_json_object(text.encode())
        assert caught.value.code == "invalid_string"
        assert caught.value.field is not None
        culprit = at_path(decoded, caught.value.field)
        assert isinstance(culprit, str) and not is_unicode(culprit)
    assert refused > 100  # the generator does reach the refusals
