// SSE read with fetch() and a stream reader, parsed in the page. This is how POST streaming
// APIs (OpenAI-style chat completions) are consumed: EventSource can only GET, with no headers.
// Nothing resumes a fetch() by itself, so this does what EventSource does (WHATWG HTML §9.2):
// when the body ends early or the network fails, wait the server's `retry`, ask again with a
// Last-Event-ID header, stop on 204 (nothing left), and give up after MAX_ATTEMPTS tries in a
// row that bring no event.

import { readBody, sleep, streamUrl } from "./fetchbody.js";
import { SSEParser } from "./sseparser.js";
import { nowEpochMs } from "./stats.js";

const DEFAULT_RETRY_MS = 3000; // before the server sends `retry:` (Chromium's EventSource)
const MAX_RETRY_MS = 30_000; // a server asking for an hour does not park the panel
const MAX_ATTEMPTS = 5;

export async function run(panel, params, signal) {
  const url = streamUrl(panel.urls.sse, params);
  const parser = new SSEParser(); // keeps the last event ID and `retry` across connections
  panel.extra.reconnects = 0;
  let delivered = 0;
  let lastSeq = -1;
  const handle = (event) => {
    if (event.type !== params.source) return;
    const message = JSON.parse(event.data);
    delivered += 1;
    lastSeq = message.seq;
    panel.message(message.seq, message.ts);
    panel.row(
      [`${event.type}`, "k"],
      [` id ${event.id}`, ""],
      [message.token !== undefined ? ` ${JSON.stringify(message.token)}` : "", "bytes"],
      [` ${(nowEpochMs() - message.ts).toFixed(2)} ms`, "dim"],
    );
  };
  for (let failures = 0; ; ) {
    delivered = 0;
    const lastId = parser.lastId;
    // A fetch() could just as well be a POST with headers and a JSON body, e.g.
    // fetch(url, { method: "POST", headers: { Authorization: "Bearer …" }, body }).
    const headers = lastId ? { "Last-Event-ID": lastId } : {};
    let failure = null;
    try {
      const onRead = (bytes) => parser.feed(bytes).forEach(handle);
      const response = await readBody(panel, url, signal, onRead, { headers });
      if (response?.status === 204) return `done: nothing left after id ${lastId} (204)`;
    } catch (error) {
      // fetch() reports every network failure as a TypeError (Fetch standard); anything else
      // is an answer (an HTTP error, which EventSource does not retry either) or a bug here.
      if (signal.aborted || error?.name !== "TypeError") throw error;
      failure = error;
    }
    parser.close(); // an event cut off by the end of the body is never dispatched
    if (lastSeq >= params.count - 1) return "done: all messages, in order";
    failures = delivered ? 0 : failures + 1;
    if (failures >= MAX_ATTEMPTS) {
      const why = failure ? `: ${failure.message}` : " (each body ended empty)";
      throw new Error(`gave up after ${failures} attempts in a row brought no event${why}`);
    }
    const waitMs = Math.min(parser.retry ?? DEFAULT_RETRY_MS, MAX_RETRY_MS);
    const resumeAt = parser.lastId || "(none)";
    panel.row(
      [failure ? "connection lost" : "body ended early", "warn"],
      [` · retrying in ${(waitMs / 1000).toFixed(1)} s with Last-Event-ID: ${resumeAt}`, ""],
    );
    panel.status.textContent = "reconnecting…";
    await sleep(waitMs, signal);
    panel.extra.reconnects += 1;
    panel.status.textContent = `running · reconnected ${panel.extra.reconnects}×`;
  }
}
