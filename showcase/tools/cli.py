"""The ``showcase`` command: ``serve``, ``client <mode>``, ``chat`` (and ``bench``, see
benchmarks/)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Generator, Sequence
from typing import Any

from showcase.pure.params import decimal_text
from showcase.pure.settings import SETTINGS, Setting, SettingError
from showcase.tools.client import (
    DEFAULT_BASE_URL,
    MAX_ATTEMPTS,
    ClientError,
    MalformedStreamError,
    iter_chunks,
    iter_ndjson,
    iter_sse,
)
from showcase.tools.client import latency_ms as measure_latency
from showcase.tools.help_text import plain_text
from showcase.tools.server import serve
from showcase.tools.ws_poll_client import iter_poll, iter_ws

PREVIEW_CHARS = 60


def add_serve(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """One flag per setting that has one (showcase/pure/settings.py): its value is checked as the
    setting declares and put in the setting's variable, which gunicorn passes to workers."""
    parser = commands.add_parser(
        "serve",
        help="run the app under gunicorn with gevent workers",
        description="Every flag has a SHOWCASE_* variable too (a flag wins); "
        "the README's 'Settings' lists them all.",
    )
    for setting in SETTINGS:
        if setting.flag is None:
            continue
        default = setting.kind.text_of(setting.default)
        parser.add_argument(
            setting.flag,
            type=flag_type(setting),
            action=ToWorkers,
            env=setting.env,
            metavar=metavar_of(setting),
            help=f"{setting.doc}: {setting.kind.describe()} (default {default}; {setting.env})",
        )


def metavar_of(setting: Setting) -> str:
    """The unit a flag's value is in, from its variable's suffix (``_S``, ``_MS``)."""
    for suffix, unit in (("_S", "SECONDS"), ("_MS", "MS")):
        if setting.env.endswith(suffix):
            return unit
    return setting.env.removeprefix("SHOWCASE_")


def flag_type(setting: Setting) -> Callable[[str], Any]:
    """An argparse ``type`` that parses by ``setting``'s declaration (empty is refused)."""

    def parse(raw: str) -> Any:
        try:
            if raw == "":
                raise ValueError(f"expected {setting.kind.describe()}, got ''")
            return setting.kind.parse(raw)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return parse


class ToWorkers(argparse.Action):
    """Stores the option and puts it in the environment variable ``env`` as well: the
    workers gunicorn starts read their settings from the environment it passes on."""

    def __init__(self, option_strings: Sequence[str], dest: str, *, env: str, **kwargs: Any):
        super().__init__(option_strings, dest, **kwargs)
        self.env = env

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        setattr(namespace, self.dest, values)
        os.environ[self.env] = str(values)


def add_client(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "client", help="read a stream and print each message as it arrives, with its latency"
    )
    parser.add_argument("mode", choices=["sse", "ndjson", "chunked", "ws", "poll"])
    parser.add_argument("--url", default=DEFAULT_BASE_URL, help="server (default %(default)s)")
    parser.add_argument("--count", type=int, help="messages (server default 20)")
    parser.add_argument("--interval", type=float, help="ms between messages (default 100)")
    parser.add_argument("--size", type=int, help="payload padding bytes (default 0)")
    parser.add_argument("--source", help="ticks or text (default ticks)")
    parser.add_argument("--flush", choices=["auto", "each"], help="server write policy")
    parser.add_argument("--last-event-id", help="sse: resume after this id")
    parser.add_argument("--last-id", type=int, help="ws: resume after this seq")
    parser.add_argument(
        "--wait", type=int, default=25_000, help="poll: ms a poll waits (0: short polling)"
    )
    parser.add_argument(
        "--reconnect",
        action="store_true",
        help="sse: like EventSource, reconnect after the server's retry with Last-Event-ID "
        "when the stream ends or breaks, until the server answers 204; ws: reconnect with "
        "last_id after a close other than 1000 (a restart's 1001 carries the delay)",
    )
    parser.add_argument(
        "--max-attempts",
        type=int,
        default=MAX_ATTEMPTS,
        help="with --reconnect: give up after this many connections in a row bring no "
        "message (default %(default)s)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="showcase", description=plain_text(__doc__))
    commands = parser.add_subparsers(dest="command", required=True)
    add_serve(commands)
    add_client(commands)
    from showcase.chat.client import add_chat
    from showcase.tools.bench import add_bench
    from showcase.tools.proxy.command import add_proxy

    add_chat(commands)
    add_bench(commands)
    add_proxy(commands)
    return parser


def preview(text: str) -> str:
    shown = json.dumps(text, ensure_ascii=False)[1:-1]
    return shown if len(shown) <= PREVIEW_CHARS else shown[: PREVIEW_CHARS - 1] + "…"


def read_message(payload: Any, url: str) -> tuple[float, str]:
    """The latency (ms) and the shown text of a message of the stream contract, or
    MalformedStreamError when it lacks a numeric ``ts`` or a ``seq``."""
    ts = payload.get("ts") if isinstance(payload, dict) else None
    if isinstance(ts, bool) or not isinstance(ts, int | float) or "seq" not in payload:
        shown = json.dumps(payload, ensure_ascii=False)[:PREVIEW_CHARS]
        raise MalformedStreamError(
            f'malformed stream from {url}: a message without "seq" and a numeric "ts": {shown}'
        )
    body = payload.get("token", payload.get("pad", ""))
    return measure_latency(ts), preview(body if isinstance(body, str) else json.dumps(body))


def iter_client_lines(
    args: argparse.Namespace, params: dict[str, object]
) -> Generator[str, None, None]:
    """One line of output per message (per read for ``chunked``), as it arrives."""
    started = time.time()
    if args.mode == "sse":
        events = iter_sse(
            args.url,
            params,
            last_event_id=args.last_event_id,
            reconnect=args.reconnect,
            max_attempts=args.max_attempts,
        )
        for event in events:
            try:
                payload = json.loads(event.data)
            except ValueError:
                raise MalformedStreamError(
                    f"malformed stream from {args.url}: event {event.id!r}: data is not JSON: "
                    f"{preview(event.data)}"
                ) from None
            lat, body = read_message(payload, args.url)
            yield f"id={event.id:<6} event={event.event:<6} {lat:8.2f} ms  {body}"
    elif args.mode in ("ndjson", "ws", "poll"):
        if args.mode == "ws":
            values = iter_ws(
                args.url,
                params,
                last_id=args.last_id,
                reconnect=args.reconnect,
                max_attempts=args.max_attempts,
            )
        elif args.mode == "poll":
            values = iter_poll(args.url, params, wait_ms=args.wait)
        else:
            values = iter_ndjson(args.url, params)
        for obj in values:
            lat, body = read_message(obj, args.url)
            yield f"seq={obj['seq']!s:<6} {lat:8.2f} ms  {body}"
    else:
        for received, data in enumerate(iter_chunks(args.url, params)):
            since = (time.time() - started) * 1000.0
            text = data.decode("utf-8", "replace")
            yield f"read {received:<5} +{since:9.2f} ms {len(data):6d} B  {preview(text)}"


def run_client(args: argparse.Namespace) -> int:
    params: dict[str, object] = {
        key: value
        for key, value in {
            "count": args.count,
            "interval": None if args.interval is None else decimal_text(args.interval),
            "size": args.size,
            "source": args.source,
            "flush": args.flush,
        }.items()
        if value is not None
    }
    if args.reconnect:  # say on stderr when and where the stream resumes
        logging.basicConfig(format="showcase client: %(message)s", level=logging.INFO)
    started = time.time()
    received = 0
    lines = iter_client_lines(args, params)
    try:
        for line in lines:
            # Flushed per line: through a pipe (`| tee log`) stdout is block-buffered, and a
            # stream's whole point is to show each message when it arrives.
            print(line, flush=True)
            received += 1
    except KeyboardInterrupt:
        print(f"\ninterrupted after {received} items", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader left (`| head -3`): stop quietly. stdout goes to devnull so that the
        # interpreter's final flush does not fail again (Python docs, "Note on SIGPIPE").
        lines.close()
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    noun = "reads" if args.mode == "chunked" else "messages"
    print(f"done: {received} {noun} in {time.time() - started:.2f} s", file=sys.stderr)
    return 0


def check_client_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse what the client cannot do before connecting (argparse exits with status 2)."""
    if args.mode != "sse" and args.last_event_id is not None:
        parser.error("--last-event-id needs the sse mode: only SSE has event ids")
    if args.mode not in ("sse", "ws") and args.reconnect:
        parser.error("--reconnect needs the sse or ws mode: only they resume")
    if args.mode != "ws" and args.last_id is not None:
        parser.error("--last-id needs the ws mode")
    if args.max_attempts < 1:
        parser.error(f"--max-attempts must be at least 1, got {args.max_attempts}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "client":
        check_client_args(parser, args)
    if args.command == "serve":
        try:
            serve()
        except SettingError as error:
            parser.exit(2, f"showcase serve: error: {error}\n")
        return 0  # not reached: serve() replaces the process
    try:
        if args.command == "client":
            return run_client(args)
        return int(args.handler(args))
    except ClientError as error:
        # One line, as argparse reports a usage error, and no traceback: a failure to read
        # a stream is the user's to act on, not a bug (exit 1; usage errors exit 2).
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
