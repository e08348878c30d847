"""The guide's copyable examples: each mode's shortest server endpoint and clients, read from
docs/examples/ (the files the integration and browser tests run) and set out as Markdown."""

from __future__ import annotations

from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
FENCE = {".py": "python", ".js": "js"}
# (mode, heading, one sentence, file stems): the server first, then its clients.
MODES = (
    (
        "sse",
        "Server-Sent Events",
        "Each event carries an `id:`; EventSource (or the Python loop) sends the last one back "
        "as `Last-Event-ID` when it reconnects, and the server resumes after it.",
        ("sse_server", "sse_client"),
    ),
    (
        "ndjson",
        "NDJSON",
        "One JSON object per line as `application/x-ndjson`; the browser reads it with fetch "
        "and splits on `\\n` itself.",
        ("ndjson_server", "ndjson_client"),
    ),
    (
        "chunked",
        "Chunked plain text",
        "Text sent in pieces with no framing of its own: a read is not a message, and "
        "`X-Content-Type-Options: nosniff` keeps the browser from holding the first bytes back.",
        ("chunked_server", "chunked_client"),
    ),
    (
        "download",
        "A large file",
        "`send_from_directory` sends it with its Content-Length and Range support; the "
        "client streams it to disk and checks the length.",
        ("download_server", "download_client"),
    ),
    (
        "ws",
        "WebSocket",
        "Both directions on one connection (flask-sock on the server, the websockets package's "
        "sync client in Python), with the message size and the idle ping bounded.",
        ("ws_server", "ws_client"),
    ),
    (
        "poll",
        "Long polling",
        "Each request waits at most `WAIT_S` for a message newer than `after` and answers "
        "`[]` otherwise; the client asks again at once.",
        ("poll_server", "poll_client"),
    ),
)


def example_files() -> list[Path]:
    """Every example file the section shows, in order (server, Python client, JS client)."""
    paths = []
    for *_, stems in MODES:
        for stem in stems:
            paths += [EXAMPLES / f"{stem}{suffix}" for suffix in (".py", ".js")]
    return [path for path in paths if path.is_file()]


def marker(path: Path) -> str:
    """The HTML comment naming the file of the code block that follows it."""
    return f"<!-- example: docs/examples/{path.name} -->"


def code_block(path: Path) -> list[str]:
    """``path`` as a fenced block, after its marker; the file must hold no fence itself."""
    text = path.read_text(encoding="utf-8")
    if "```" in text:
        raise ValueError(f"{path} holds a code fence and cannot be shown in one")
    return [marker(path), f"```{FENCE[path.suffix]}", *text.rstrip("\n").split("\n"), "```", ""]


def examples_section() -> list[str]:
    """The guide's "Copyable examples" section as Markdown lines."""
    lines = [
        "## Copyable examples",
        "",
        "The shortest correct endpoint of each mode in plain Flask, and its clients: the files "
        "are in `docs/examples/`, and the tests run every one of them under gunicorn with "
        "gevent workers (the Python clients) and in headless Chromium (the JavaScript ones).",
        "",
    ]
    for mode, heading, sentence, stems in MODES:
        lines += [f"### `{mode}`: {heading}", "", sentence, ""]
        for stem in stems:
            for suffix in (".py", ".js"):
                path = EXAMPLES / f"{stem}{suffix}"
                if path.is_file():
                    lines += code_block(path)
    return lines
