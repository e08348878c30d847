"""``showcase`` arguments: serve's seconds are checked like the stream parameters before
gunicorn starts, reach the workers as environment variables, and help is plain text."""

from __future__ import annotations

import os

import pytest

from showcase.pure.params import MAX_HEARTBEAT_S, MIN_HEARTBEAT_S
from showcase.tools.cli import build_parser, main


class Exec(Exception):
    """Raised by the fake os.execv: the command that would have replaced the process."""


@pytest.mark.parametrize("value", ["0", "-1", "0.01", "301", "nan", "inf", "ten", ""])
def test_serve_refuses_a_heartbeat_out_of_bounds(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["serve", "--heartbeat", value])
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert "--heartbeat" in error
    assert f"from {MIN_HEARTBEAT_S:g} to {MAX_HEARTBEAT_S:g}" in error


@pytest.mark.parametrize("value", ["0", "-5", "3600.5", "nan", "inf", "soon"])
def test_serve_refuses_a_send_timeout_out_of_bounds(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["serve", "--send-timeout", value])
    assert exited.value.code == 2
    assert "--send-timeout" in capsys.readouterr().err


def test_serve_takes_the_bounds_themselves() -> None:
    args = build_parser().parse_args(
        ["serve", "--heartbeat", str(MIN_HEARTBEAT_S), "--send-timeout", "3600"]
    )
    assert (args.heartbeat, args.send_timeout) == (MIN_HEARTBEAT_S, 3600.0)
    args = build_parser().parse_args(["serve", "--heartbeat", "300", "--send-timeout", "0.5"])
    assert (args.heartbeat, args.send_timeout) == (300.0, 0.5)
    defaults = build_parser().parse_args(["serve"])
    assert (defaults.heartbeat, defaults.send_timeout) == (None, None)


def fake_execv(path: str, argv: list[str]) -> None:
    raise Exec(argv)


def test_serve_hands_the_send_timeout_to_gunicorn_in_its_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # setenv first, so that whatever serve() writes is undone after the test.
    monkeypatch.setenv("SHOWCASE_SEND_TIMEOUT_S", "")
    monkeypatch.setenv("SHOWCASE_HEARTBEAT_S", "")
    monkeypatch.setenv("SHOWCASE_BIND", "")
    monkeypatch.setattr(os, "execv", fake_execv)
    with pytest.raises(Exec) as ran:
        main(["serve", "--bind", "127.0.0.1:0", "--send-timeout", "12.5", "--heartbeat", "2"])
    assert os.environ["SHOWCASE_SEND_TIMEOUT_S"] == "12.5"
    assert os.environ["SHOWCASE_HEARTBEAT_S"] == "2.0"
    argv = ran.value.args[0]
    assert argv[1:3] == ["-m", "gunicorn"]
    assert argv[argv.index("--bind") + 1] == "127.0.0.1:0"
    assert os.environ["SHOWCASE_BIND"] == "127.0.0.1:0"


def test_serve_without_a_send_timeout_leaves_the_server_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SHOWCASE_SEND_TIMEOUT_S", raising=False)
    monkeypatch.setenv("SHOWCASE_BIND", "")
    monkeypatch.setattr(os, "execv", fake_execv)
    with pytest.raises(Exec):
        main(["serve", "--bind", "127.0.0.1:0"])
    assert "SHOWCASE_SEND_TIMEOUT_S" not in os.environ


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["serve", "--help"],
        ["client", "--help"],
        ["chat", "--help"],
        ["bench", "--help"],
    ],
    ids=["showcase", "serve", "client", "chat", "bench"],
)
def test_help_is_plain_text(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 0
    shown = capsys.readouterr().out
    assert shown.startswith("usage: showcase")
    assert "``" not in shown


@pytest.mark.parametrize(
    "argv",
    [
        ["client", "ndjson", "--reconnect"],
        ["client", "chunked", "--last-event-id", "3"],
        ["client", "sse", "--reconnect", "--max-attempts", "0"],
        ["client", "poll", "--reconnect"],
        ["client", "ndjson", "--last-id", "3"],
    ],
)
def test_client_refuses_what_it_cannot_do(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*argv, "--url", "http://127.0.0.1:9"])  # never reached: refused before
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert "--max-attempts" in error or "needs the" in error


def test_serve_refuses_a_bad_variable_before_gunicorn_starts(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SHOWCASE_RELAY_READ_TIMEOUT_S", "0")
    monkeypatch.setattr(os, "execv", fake_execv)
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--bind", "127.0.0.1:0"])
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert error.startswith("showcase serve: error: SHOWCASE_RELAY_READ_TIMEOUT_S: expected ")
    assert error.count("\n") == 1
