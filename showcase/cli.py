"""The ``showcase`` command: ``serve``, ``client <mode>`` (and ``bench``, see benchmarks/)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from showcase.client import DEFAULT_BASE_URL, ClientError, iter_chunks, iter_ndjson, iter_sse
from showcase.client import latency_ms as measure_latency
from showcase.server import DEFAULT_BIND, serve

PREVIEW_CHARS = 60


def add_serve(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("serve", help="run the app under gunicorn with gevent workers")
    parser.add_argument("--bind", default=DEFAULT_BIND, help="HOST:PORT (default %(default)s)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument(
        "--worker-connections",
        type=int,
        default=None,
        help="open connections per worker (default 20000: 10,000 streams fit in one worker)",
    )
    parser.add_argument("--data-dir", type=Path, help="download directory (default ./data)")
    parser.add_argument("--heartbeat", type=float, help="SSE heartbeat period in s (default 15)")


def add_client(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "client", help="read a stream and print each message as it arrives, with its latency"
    )
    parser.add_argument("mode", choices=["sse", "ndjson", "chunked"])
    parser.add_argument("--url", default=DEFAULT_BASE_URL, help="server (default %(default)s)")
    parser.add_argument("--count", type=int, help="messages (server default 20)")
    parser.add_argument("--interval", type=float, help="ms between messages (default 100)")
    parser.add_argument("--size", type=int, help="payload padding bytes (default 0)")
    parser.add_argument("--source", help="ticks or text (default ticks)")
    parser.add_argument("--flush", choices=["auto", "each"], help="server write policy")
    parser.add_argument("--last-event-id", help="sse: resume after this id")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="showcase", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    add_serve(commands)
    add_client(commands)
    from showcase.bench import add_bench

    add_bench(commands)
    return parser


def preview(text: str) -> str:
    shown = json.dumps(text, ensure_ascii=False)[1:-1]
    return shown if len(shown) <= PREVIEW_CHARS else shown[: PREVIEW_CHARS - 1] + "…"


def run_client(args: argparse.Namespace) -> int:
    params = {
        key: value
        for key, value in {
            "count": args.count,
            "interval": args.interval,
            "size": args.size,
            "source": args.source,
            "flush": args.flush,
        }.items()
        if value is not None
    }
    started = time.time()
    received = 0
    try:
        if args.mode == "sse":
            for event in iter_sse(args.url, params, last_event_id=args.last_event_id):
                payload = json.loads(event.data)
                lat = measure_latency(payload["ts"])
                body = payload.get("token", payload.get("pad", ""))
                print(f"id={event.id:<6} event={event.event:<6} {lat:8.2f} ms  {preview(body)}")
                received += 1
        elif args.mode == "ndjson":
            for obj in iter_ndjson(args.url, params):
                lat = measure_latency(obj["ts"])
                body = obj.get("token", obj.get("pad", ""))
                print(f"seq={obj['seq']:<6} {lat:8.2f} ms  {preview(body)}")
                received += 1
        else:
            for data in iter_chunks(args.url, params):
                since = (time.time() - started) * 1000.0
                text = data.decode("utf-8", "replace")
                print(f"read {received:<5} +{since:9.2f} ms {len(data):6d} B  {preview(text)}")
                received += 1
    except ClientError as error:
        print(f"showcase client: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"\ninterrupted after {received} items", file=sys.stderr)
        return 130
    noun = "reads" if args.mode == "chunked" else "messages"
    print(f"done: {received} {noun} in {time.time() - started:.2f} s", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        serve(args.bind, args.workers, args.worker_connections, args.data_dir, args.heartbeat)
        return 0  # not reached: serve() replaces the process
    if args.command == "client":
        return run_client(args)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
