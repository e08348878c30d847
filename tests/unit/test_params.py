"""The stream contract's parameters: defaults, bounds, and errors that name their field."""

from __future__ import annotations

import pytest

from showcase.pure.params import (
    MAX_COUNT,
    StreamParams,
    parse_last_event_id,
    parse_stream_params,
)
from showcase.pure.refusal import Refusal


def test_defaults() -> None:
    assert parse_stream_params({}) == StreamParams(
        count=20, interval_ms=100.0, size=0, source="ticks", flush="auto", heartbeat_s=None
    )


def test_valid_values() -> None:
    params = parse_stream_params(
        {"count": "1000000", "interval": "0.5", "size": "1048576", "source": "text"}
    )
    assert (params.count, params.interval_ms, params.size, params.source) == (
        MAX_COUNT,
        0.5,
        1_048_576,
        "text",
    )
    assert parse_stream_params({"interval": "0", "flush": "each"}).flush == "each"


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"count": "abc"}, "count"),
        ({"count": "0"}, "count"),
        ({"count": "-1"}, "count"),
        ({"count": "1000001"}, "count"),
        ({"count": "1.5"}, "count"),
        ({"count": "--5"}, "count"),
        ({"count": "1" * 40}, "count"),
        ({"count": "٣"}, "count"),  # a non-ASCII digit is not a count
        ({"interval": "-1"}, "interval"),
        ({"interval": "60000.1"}, "interval"),
        ({"interval": "nan"}, "interval"),
        ({"interval": "inf"}, "interval"),
        ({"interval": "soon"}, "interval"),
        ({"size": "1048577"}, "size"),
        ({"size": "-3"}, "size"),
        ({"source": "lorem"}, "source"),
        ({"flush": "never"}, "flush"),
        ({"heartbeat": "0"}, "heartbeat"),
    ],
)
def test_bad_values_name_their_field(args: dict[str, str], field: str) -> None:
    with pytest.raises(Refusal) as caught:
        parse_stream_params(args)
    assert caught.value.field == field
    body = caught.value.to_json()
    assert body["field"] == field and body["error"] and body["detail"]


@pytest.mark.parametrize(
    ("header", "start"), [(None, 0), ("", 0), ("0", 1), ("41", 42), (" 7 ", 8), ("\t3\t", 4)]
)
def test_last_event_id_resumes_after_it(header: str | None, start: int) -> None:
    assert parse_last_event_id(header) == start


# Only SP and HTAB are HTTP's blanks: NBSP and NEL are not "no id".
@pytest.mark.parametrize("header", ["abc", "-1", "1.0", "1e3", "9" * 40, "\xa0", "\x85", "5\xa0"])
def test_last_event_id_must_be_a_seq(header: str) -> None:
    with pytest.raises(Refusal) as caught:
        parse_last_event_id(header)
    assert caught.value.field == "Last-Event-ID"


# One rule for integers and decimals: what one parameter refuses, every parameter refuses.
NOT_NUMBERS = ["1_000", "+5", "1e3", "1E3", "0x10", "inf", "-inf", "nan", "Infinity", "٣", "5\n"]
NOT_NUMBERS += ["1 000", "5 .5", "- 5", "", " ", "--5", ".5", "5.", "1.2.3", "5,5", "\u00a05"]


@pytest.mark.parametrize("raw", NOT_NUMBERS)
@pytest.mark.parametrize("field", ["count", "size", "interval", "heartbeat"])
def test_numbers_are_plain_digits_for_every_parameter(field: str, raw: str) -> None:
    with pytest.raises(Refusal) as caught:
        parse_stream_params({field: raw})
    assert caught.value.field == field
    assert caught.value.to_json()["error"] == "invalid parameter"


@pytest.mark.parametrize(
    ("raw", "value"),
    [("5", 5.0), ("0.5", 0.5), ("60000", 60000.0), ("0", 0.0), ("-0", 0.0), ("007.50", 7.5)],
)
def test_decimal_numbers(raw: str, value: float) -> None:
    interval = parse_stream_params({"interval": raw}).interval_ms
    assert interval == value
    assert str(interval) == str(value)  # "-0" is 0.0, not -0.0


@pytest.mark.parametrize("raw", ["7", " 7", "7 ", "\t7\t"])
def test_surrounding_blanks_are_ignored_alike(raw: str) -> None:
    params = parse_stream_params({"count": raw, "interval": raw, "size": raw})
    assert (params.count, params.interval_ms, params.size) == (7, 7.0, 7)


def test_a_refusal_carries_its_status_and_names_what_happened() -> None:
    invalid = Refusal("count", "too big")
    assert invalid.status == 400
    assert invalid.to_json() == {
        "error": "invalid parameter",
        "field": "count",
        "detail": "too big",
    }
    missing = Refusal("name", "no such file", status=404)
    assert missing.to_json() == {"error": "not found", "field": "name", "detail": "no such file"}
    assert str(missing) == "name: no such file"
    assert Refusal(None, "gone", status=503).error == "service unavailable"
    assert (
        Refusal("upstream", "x", status=504, error="upstream_timeout").error == "upstream_timeout"
    )


@pytest.mark.parametrize("value", [1e-05, 0.0001, 12345.678, 100.0, 0.0, 60000.0, 1e-07])
def test_decimal_text_round_trips_through_the_one_number_rule(value: float) -> None:
    """What the relay and the CLI send upstream must be what parse_float accepts: no exponent."""
    from showcase.pure.params import decimal_text, parse_float

    text = decimal_text(value)
    assert "e" not in text.lower()
    assert parse_float({"interval": text}, "interval", None, 0.0, 1e9) == value


def test_accel_and_compress_default_to_the_plain_stream() -> None:
    params = parse_stream_params({})
    assert (params.accel, params.compress) == ("send", "none")


@pytest.mark.parametrize("accel", ["send", "omit"])
@pytest.mark.parametrize("compress", ["none", "naive", "sync"])
def test_accel_and_compress_values(accel: str, compress: str) -> None:
    params = parse_stream_params({"accel": accel, "compress": compress})
    assert (params.accel, params.compress) == (accel, compress)


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"accel": "no"}, "accel"),
        ({"accel": ""}, "accel"),
        ({"accel": "SEND"}, "accel"),
        ({"compress": "gzip"}, "compress"),
        ({"compress": "Sync"}, "compress"),
        ({"compress": " sync"}, "compress"),
        ({"compress": ""}, "compress"),
    ],
)
def test_accel_and_compress_refuse_other_values(args: dict[str, str], field: str) -> None:
    with pytest.raises(Refusal) as caught:
        parse_stream_params(args)
    assert caught.value.field == field
    assert caught.value.to_json()["error"] == "invalid parameter"
    assert caught.value.detail.startswith("must be one of")
