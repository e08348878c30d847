"""The stream contract's parameters: defaults, bounds, and errors that name their field."""

from __future__ import annotations

import pytest

from showcase.params import (
    MAX_COUNT,
    ParamError,
    StreamParams,
    parse_last_event_id,
    parse_stream_params,
)


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
    with pytest.raises(ParamError) as caught:
        parse_stream_params(args)
    assert caught.value.field == field
    body = caught.value.to_json()
    assert body["field"] == field and body["error"] and body["detail"]


@pytest.mark.parametrize(
    ("header", "start"), [(None, 0), ("", 0), ("0", 1), ("41", 42), (" 7 ", 8)]
)
def test_last_event_id_resumes_after_it(header: str | None, start: int) -> None:
    assert parse_last_event_id(header) == start


@pytest.mark.parametrize("header", ["abc", "-1", "1.0", "1e3", "9" * 40])
def test_last_event_id_must_be_a_seq(header: str) -> None:
    with pytest.raises(ParamError) as caught:
        parse_last_event_id(header)
    assert caught.value.field == "Last-Event-ID"
