"""``showcase chat "question"``: ask one of the chat APIs and print the answer as it arrives.

A client (requests), not a framing: it reads with the project's parsers, prints each token
flushed, then the time to the first token and tokens/s on stderr. Ctrl-C closes the
connection (the server's stream ends at its next write) and exits 130.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from typing import Any, TextIO

import requests

from showcase.framing.ndjson import NDJSONParser
from showcase.framing.sse import SSEParser

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
APIS = ("openai", "ndjson", "coze")
CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 60.0


class ChatClientError(Exception):
    """The server refused the question or the stream reported an error."""


def request_for(api: str, question: str, interval_ms: float | None) -> tuple[str, dict[str, Any]]:
    """The path and JSON body that ask ``question`` in ``api``'s shape."""
    messages = [{"role": "user", "content": question}]
    if api == "openai":
        body: dict[str, Any] = {"model": "showcase-typist", "messages": messages, "stream": True}
        if interval_ms is not None:
            body["interval"] = interval_ms
        return "/v1/chat/completions", body
    if api == "ndjson":
        body = {"model": "showcase-typist", "messages": messages, "stream": True}
        if interval_ms is not None:
            body["options"] = {"interval": interval_ms}
        return "/api/chat", body
    coze_messages = [{**messages[0], "content_type": "text"}]
    body = {"bot_id": "showcase", "user_id": "cli", "stream": True}
    return "/v3/chat", {**body, "additional_messages": coze_messages}


def iter_tokens(response: requests.Response, api: str) -> Iterator[str]:
    """The answer's text pieces as they arrive; ChatClientError for an error in the stream."""
    if api == "ndjson":
        lines = NDJSONParser()
        for chunk in response.iter_content(chunk_size=None):
            for line in lines.feed(chunk):
                if "error" in line:
                    raise ChatClientError(str(line["error"]))
                if not line.get("done"):
                    yield line["message"]["content"]
        return
    events = SSEParser()
    for chunk in response.iter_content(chunk_size=None):
        for event in events.feed(chunk):
            if event.data == "[DONE]":
                return
            body = json.loads(event.data)
            if api == "openai":
                if "error" in body:
                    raise ChatClientError(body["error"]["message"])
                for choice in body["choices"]:
                    if choice["delta"].get("content"):
                        yield choice["delta"]["content"]
            elif event.event == "conversation.message.delta":
                yield body["content"]
            elif event.event == "error":
                raise ChatClientError(f"{body.get('reason')}: {body.get('msg')}")


def run_chat(
    question: str,
    api: str = "openai",
    base_url: str = DEFAULT_BASE_URL,
    *,
    interval_ms: float | None = None,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    """Print the answer token by token; 0 when done, 1 on an error, 130 on Ctrl-C."""
    path, body = request_for(api, question, interval_ms)
    started = time.perf_counter()
    first: float | None = None
    tokens = 0
    try:
        with requests.post(
            base_url.rstrip("/") + path,
            json=body,
            stream=True,
            timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S),
        ) as response:
            if response.status_code != 200:
                print(f"showcase chat: {response.status_code} {response.text}", file=err)
                return 1
            for token in iter_tokens(response, api):
                if first is None:
                    first = time.perf_counter()
                # Flushed per token: through a pipe stdout is block-buffered.
                out.write(token)
                out.flush()
                tokens += 1
    except KeyboardInterrupt:
        # Leaving the with-block closed the connection: the server ends its stream.
        print(f"\ninterrupted after {tokens} tokens", file=err, flush=True)
        return 130
    except (requests.RequestException, ChatClientError) as error:
        print(f"\nshowcase chat: {error}", file=err)
        return 1
    ended = time.perf_counter()
    out.write("\n")
    out.flush()
    ttft_ms = (first - started) * 1000.0 if first is not None else float("nan")
    rate = (tokens - 1) / (ended - first) if first is not None and ended > first else 0.0
    print(f"{tokens} tokens, first after {ttft_ms:.1f} ms, {rate:.1f} tokens/s", file=err)
    return 0


def add_chat(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The ``chat`` verb for ``showcase``'s parser (its handler is ``handle_chat``)."""
    parser = commands.add_parser(
        "chat", help="ask a chat API and print the answer as it arrives, token by token"
    )
    parser.add_argument("question")
    parser.add_argument("--api", choices=APIS, default="openai", help="(default %(default)s)")
    parser.add_argument("--url", default=DEFAULT_BASE_URL, help="server (default %(default)s)")
    parser.add_argument(
        "--interval", type=float, help="openai, ndjson: ms per token (server default 40)"
    )
    parser.set_defaults(handler=handle_chat)


def handle_chat(args: argparse.Namespace) -> int:
    return run_chat(args.question, args.api, args.url, interval_ms=args.interval)


def main(argv: list[str] | None = None) -> int:
    """``python -m showcase.chat.client "question" [--api …]``: the same as ``showcase chat``."""
    parser = argparse.ArgumentParser(prog="showcase chat")
    add_chat(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["chat", *(sys.argv[1:] if argv is None else argv)])
    return handle_chat(args)


if __name__ == "__main__":
    sys.exit(main())
