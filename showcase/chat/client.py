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
from contextlib import contextmanager
from typing import Any, TextIO

import requests

from showcase.pure.framing.ndjson import NDJSONParser
from showcase.pure.framing.sse import ServerSentEvent, SSEParser
from showcase.tools.client import (
    DEFAULT_BASE_URL,
    BrokenStreamError,
    ClientError,
    HTTPStatusError,
    MalformedStreamError,
    iter_body,
    map_request_errors,
)

APIS = ("openai", "ndjson", "coze")
CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 60.0
ERROR_BODY_CHARS = 200


class ChatClientError(ClientError):
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


@contextmanager
def message_shape(base_url: str, api: str) -> Iterator[None]:
    """A message without the fields its API promises (bad JSON, a missing key, a wrong
    type) becomes MalformedStreamError, not a traceback."""
    try:
        yield
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        why = f"{type(error).__name__}: {error}"[:200]
        raise MalformedStreamError(
            f"malformed answer from {base_url}: a message not in the {api} API's shape ({why})"
        ) from error


def text_of(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected text, got {json.dumps(value)[:40]}")
    return value


def line_tokens(line: Any) -> tuple[list[str], bool]:
    """The text pieces of one NDJSON chat line, and whether it is the last."""
    if "error" in line:
        raise ChatClientError(str(line["error"]))
    if line["done"]:
        return [], True
    return [text_of(line["message"]["content"])], False


def event_tokens(event: ServerSentEvent, api: str) -> tuple[list[str], bool]:
    """The text pieces of one SSE event (openai or coze), and whether it is the last."""
    if event.data == "[DONE]":
        return [], True
    body = json.loads(event.data)
    if api == "openai":
        if "error" in body:
            raise ChatClientError(text_of(body["error"]["message"]))
        return [
            text_of(c["delta"]["content"]) for c in body["choices"] if c["delta"].get("content")
        ], False
    if event.event == "conversation.message.delta":
        return [text_of(body["content"])], False
    if event.event == "error":
        raise ChatClientError(f"{body.get('reason')}: {body.get('msg')}")
    return [], False


def iter_tokens(response: requests.Response, api: str, base_url: str) -> Iterator[str]:
    """The answer's text pieces as they arrive. ChatClientError for an error the stream
    reports; every other failure a ClientError: MalformedStreamError for a message not in
    the API's shape, BrokenStreamError when the body ends before the API's end marker."""
    parser: NDJSONParser | SSEParser = NDJSONParser() if api == "ndjson" else SSEParser()
    for chunk in iter_body(response, base_url, READ_TIMEOUT_S):
        with map_request_errors(base_url, READ_TIMEOUT_S):
            items: list[Any] = list(parser.feed(chunk))
        for item in items:
            with message_shape(base_url, api):
                tokens, last = line_tokens(item) if api == "ndjson" else event_tokens(item, api)
            yield from tokens
            if last:
                return
    raise BrokenStreamError(f"the answer from {base_url} ended before its end marker")


def describe_refusal(response: requests.Response) -> str:
    """The message of an API's error body, whatever its shape; else the start of the body."""
    try:
        body = response.json()
    except ValueError:
        return " ".join(response.text[:ERROR_BODY_CHARS].split())
    if isinstance(body, dict):
        # OpenAI: {"error": {"message", "param", ...}}; NDJSON: {"error", "param"};
        # Coze: {"code", "msg", "param"}
        nested = body.get("error")
        shape: dict[str, Any] = nested if isinstance(nested, dict) else body
        message = shape.get("message", body.get("error", body.get("msg")))
        param = shape.get("param")
        if isinstance(message, str):
            return f"{message} (param {param})" if param else message
    return json.dumps(body)[:ERROR_BODY_CHARS]


def run_chat(
    question: str,
    api: str = "openai",
    base_url: str = DEFAULT_BASE_URL,
    *,
    interval_ms: float | None = None,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    """Print the answer token by token; 0 when done, 130 on Ctrl-C. Every failure raises
    a ClientError (HTTPStatusError for a refusal), after ending the answer's line."""
    path, body = request_for(api, question, interval_ms)
    url = base_url.rstrip("/") + path
    started = time.perf_counter()
    first: float | None = None
    tokens = 0
    try:
        with map_request_errors(base_url, READ_TIMEOUT_S):
            response = requests.post(
                url, json=body, stream=True, timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S)
            )
        with response:
            if response.status_code != 200:
                raise HTTPStatusError(
                    f"{url} answered {response.status_code}: {describe_refusal(response)}",
                    response.status_code,
                )
            for token in iter_tokens(response, api, base_url):
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
    except ClientError:
        if tokens:
            out.write("\n")  # the error goes to stderr on a line of its own
            out.flush()
        raise
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
    try:
        return handle_chat(args)
    except ClientError as error:
        print(f"showcase: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
