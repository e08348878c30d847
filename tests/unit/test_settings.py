"""Settings are declared once (showcase/pure/settings.py): every variable the code reads is
declared, every bad value is refused naming its variable, and the README's table is the
declaration's."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from showcase.pure.settings import (
    SETTINGS,
    SettingError,
    check_value,
    read_setting,
    read_settings,
    render_table,
)
from showcase.web import create_app

ROOT = Path(__file__).resolve().parents[2]
VARIABLE = re.compile(r"SHOWCASE_[A-Z][A-Z_]*[A-Z]")
TABLE = re.compile(r"<!-- settings:start -->\n(.*?)<!-- settings:end -->", re.S)


def test_every_variable_the_package_names_is_declared() -> None:
    named = {
        name
        for path in (ROOT / "showcase").rglob("*.py")
        for name in VARIABLE.findall(path.read_text(encoding="utf-8"))
    }
    assert named, "the scan found nothing: the pattern or the folder is wrong"
    assert named - {setting.env for setting in SETTINGS} == set()


def test_the_readme_table_is_generated_from_the_declaration() -> None:
    match = TABLE.search((ROOT / "README.md").read_text(encoding="utf-8"))
    assert match is not None, "README.md lost its settings markers"
    assert match.group(1) == render_table()
    assert all(f"`{setting.env}`" in match.group(1) for setting in SETTINGS)


def test_an_empty_environment_gives_every_default() -> None:
    values = read_settings({})
    assert values == {setting.env: setting.default for setting in SETTINGS}
    assert read_settings({name: "" for name in values}) == values


@pytest.mark.parametrize(
    ("env", "raw"),
    [
        ("SHOWCASE_RELAY_READ_TIMEOUT_S", "0"),
        ("SHOWCASE_RELAY_CONNECT_TIMEOUT_S", "-1"),
        ("SHOWCASE_HUB_LOG_COUNT", "-1"),
        ("SHOWCASE_HUB_LOG_COUNT", "1e3"),
        ("SHOWCASE_HUB_QUEUE_LIMIT", "0"),
        ("SHOWCASE_HUB_LOG_AGE_S", "0"),
        ("SHOWCASE_HEARTBEAT_S", "0"),
        ("SHOWCASE_HEARTBEAT_S", "nan"),
        ("SHOWCASE_SEND_TIMEOUT_S", "0"),
        ("SHOWCASE_WORKERS", "two"),
        ("SHOWCASE_WORKER_CONNECTIONS", "0"),
        ("SHOWCASE_CHAT_INTERVAL_MS", "9" * 5000),
        ("SHOWCASE_BROKER", "redis:/nohost"),
        ("SHOWCASE_BROKER", "postgres://localhost/0"),
        ("SHOWCASE_RELAY_SSE_URL", "localhost:8000/stream/sse"),
        ("SHOWCASE_RELAY_COZE_URL", "http://host:99999/"),
        ("SHOWCASE_LOG_LEVEL", "loud"),
        ("SHOWCASE_GC_THRESHOLD", "700,10"),
        ("SHOWCASE_GC_THRESHOLD", "1" * 5000 + ",1,1"),
        ("SHOWCASE_BIND", "8000"),
        ("SHOWCASE_BIND", "127.0.0.1:70000"),
        ("SHOWCASE_HUB_TOKEN", "line\nbreak"),
        ("SHOWCASE_DATA_DIR", "a\x00b"),
    ],
)
def test_a_bad_value_is_refused_naming_its_variable(env: str, raw: str) -> None:
    with pytest.raises(SettingError) as refused:
        read_settings({env: raw})
    assert refused.value.env == env
    message = str(refused.value)
    assert message.startswith(f"{env}: expected ")
    assert "\n" not in message and len(message) < 300


@pytest.mark.parametrize(
    ("env", "raw", "value"),
    [
        ("SHOWCASE_HEARTBEAT_S", "0.05", 0.05),
        ("SHOWCASE_HUB_LOG_COUNT", " 5 ", 5),
        ("SHOWCASE_GC_THRESHOLD", "700,10,10", (700, 10, 10)),
        ("SHOWCASE_BROKER", "redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("SHOWCASE_BROKER", "unix:///run/redis.sock", "unix:///run/redis.sock"),
        ("SHOWCASE_RELAY_SSE_URL", "http://[::1]:8000/x", "http://[::1]:8000/x"),
        ("SHOWCASE_BIND", "[::1]:0", "[::1]:0"),
        ("SHOWCASE_SEND_TIMEOUT_S", "3600", 3600.0),
    ],
)
def test_a_good_value_is_read_as_its_type(env: str, raw: str, value: object) -> None:
    assert read_setting(env, {env: raw}) == value
    assert type(read_setting(env, {env: raw})) is type(value)


def test_values_given_in_code_are_held_to_the_same_declaration() -> None:
    assert check_value("SHOWCASE_HUB_LOG_COUNT", 3) == 3
    assert check_value("SHOWCASE_HEARTBEAT_S", 0.5) == 0.5
    assert check_value("TESTING", True) is True  # not a setting of ours: left alone
    with pytest.raises(SettingError, match="SHOWCASE_HUB_LOG_COUNT"):
        check_value("SHOWCASE_HUB_LOG_COUNT", -1)


def test_create_app_refuses_a_bad_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOWCASE_HUB_LOG_COUNT", "-1")
    with pytest.raises(SettingError, match="SHOWCASE_HUB_LOG_COUNT"):
        create_app()


def test_create_app_reads_every_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOWCASE_CHAT_INTERVAL_MS", "12.5")
    app = create_app()
    assert app.config["SHOWCASE_CHAT_INTERVAL_MS"] == 12.5
    assert all(setting.env in app.config for setting in SETTINGS)
