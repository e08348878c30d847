"""The page's own incremental parsers (static/js/sseparser.js, lines.js), run in Chromium:
the input is cut at every offset and into single bytes, since a CRLF or a UTF-8 character
split across reads is the classic bug."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.timeout(60)]

SPLIT_EVERYWHERE = """
async () => {
  const { SSEParser } = await import("/static/js/sseparser.js");
  const { LineSplitter } = await import("/static/js/lines.js");
  const enc = new TextEncoder();
  const failures = [];
  const sse = enc.encode(
    "\\ufeffretry: 2000\\r\\n\\r\\n: heartbeat\\r\\nevent: ticks\\r\\nid: 0\\r\\n" +
    'data: {"t":"’"}\\r\\n\\r\\nevent: ticks\\rid: 1\\rdata: x\\rdata:y\\r\\r' +
    "id: 2\\ndata\\n\\nevent: unfinished\\ndata: never dispatched\\n");
  const want = JSON.stringify([
    { type: "ticks", data: '{"t":"’"}', id: "0" },
    { type: "ticks", data: "x\\ny", id: "1" },
    { type: "message", data: "", id: "2" },
  ]);
  const runs = [];
  for (let cut = 0; cut <= sse.length; cut++) runs.push([sse.slice(0, cut), sse.slice(cut)]);
  runs.push(Array.from(sse, (b) => Uint8Array.of(b)));
  for (const pieces of runs) {
    const parser = new SSEParser();
    const got = pieces.flatMap((piece) => parser.feed(piece)).concat(parser.close());
    if (JSON.stringify(got) !== want) failures.push(`sse ${pieces.length}: ${JSON.stringify(got)}`);
  }
  const nd = enc.encode('{"seq":0}\\n\\n{"seq":1,"t":"’"}\\r\\n{"seq":2}\\n');
  const lines = JSON.stringify(['{"seq":0}', "", '{"seq":1,"t":"’"}', '{"seq":2}']);
  for (let cut = 0; cut <= nd.length; cut++) {
    const splitter = new LineSplitter();
    const got = [nd.slice(0, cut), nd.slice(cut)].flatMap(
      (piece) => splitter.feedText(splitter.decode(piece)).lines);
    if (JSON.stringify(got) !== lines || splitter.close() !== "") failures.push(`ndjson ${cut}`);
  }
  return failures;
}
"""


def test_parsers_survive_any_split(open_page: Callable[..., Page], base_url: str) -> None:
    page = open_page(f"{base_url}/")
    assert page.evaluate(SPLIT_EVERYWHERE) == []
