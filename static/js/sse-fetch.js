// SSE read with fetch() and a stream reader, parsed in the page. This is how POST streaming
// APIs (OpenAI-style chat completions) are consumed: EventSource can only GET, with no headers.

import { readBody, streamUrl } from "./fetchbody.js";
import { SSEParser } from "./sseparser.js";
import { nowEpochMs } from "./stats.js";

export async function run(panel, params, signal) {
  const parser = new SSEParser();
  const handle = (event) => {
    if (event.type !== params.source) return;
    const message = JSON.parse(event.data);
    panel.message(message.seq, message.ts);
    panel.row(
      [`${event.type}`, "k"],
      [` id ${event.id}`, ""],
      [message.token !== undefined ? ` ${JSON.stringify(message.token)}` : "", "bytes"],
      [` ${(nowEpochMs() - message.ts).toFixed(2)} ms`, "dim"],
    );
  };
  // A fetch() could just as well be a POST with headers and a JSON body, e.g.
  // fetch(url, { method: "POST", headers: { Authorization: "Bearer …" }, body }).
  await readBody(panel, streamUrl(panel.urls.sse, params), signal, (bytes) => {
    parser.feed(bytes).forEach(handle);
  });
  parser.close().forEach(handle);
  return "done: body ended";
}
