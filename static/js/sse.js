// SSE with the browser's EventSource: named events, ids, and automatic reconnection that
// sends Last-Event-ID, so the server resumes after the last event the page saw.

import { streamUrl } from "./fetchbody.js";
import { nowEpochMs } from "./stats.js";

export function run(panel, params, signal) {
  const url = streamUrl(panel.urls.sse, params);
  const encoder = new TextEncoder();
  panel.extra.reconnects = 0;
  panel.extra.reads = null; // EventSource hands over events, never the reads behind them
  return new Promise((resolve, reject) => {
    const lease = panel.connect();
    const source = new EventSource(url);
    let opens = 0;
    let lastId = "";

    function finish(settle, value) {
      source.close();
      lease.release();
      signal.removeEventListener("abort", onAbort);
      settle(value);
    }
    function onAbort() {
      finish(reject, signal.reason);
    }
    signal.addEventListener("abort", onAbort, { once: true });

    source.addEventListener("open", () => {
      opens += 1;
      if (opens === 1) {
        panel.stats.firstByte(); // EventSource shows no bytes: "open" is the nearest moment
      } else {
        panel.extra.reconnects = opens - 1;
        panel.row(["reconnected", "note"], [` · server resumed after id ${lastId}`, ""]);
        panel.status.textContent = `running · reconnected ${opens - 1}×`;
      }
      panel.changed();
    });

    // The event type is the source's name (DESIGN.md), so listen for it, not "message".
    source.addEventListener(params.source, (event) => {
      const message = JSON.parse(event.data);
      lastId = event.lastEventId;
      panel.stats.bytes += encoder.encode(event.data).length;
      panel.message(message.seq, message.ts);
      const latency = nowEpochMs() - message.ts;
      panel.row(
        [`${event.type}`, "k"],
        [` id ${event.lastEventId}`, ""],
        [message.token !== undefined ? ` ${JSON.stringify(message.token)}` : "", "bytes"],
        [` ${latency.toFixed(2)} ms`, "dim"],
      );
      // All there: close now. Otherwise EventSource would reconnect, and the server's 204
      // (nothing left after this id) is what would finally stop it.
      if (message.seq >= params.count - 1) finish(resolve, "done: all messages, in order");
    });

    source.addEventListener("error", () => {
      if (source.readyState === EventSource.CLOSED) {
        // An HTTP error or a non-event-stream answer: EventSource cannot say which.
        finish(reject, new Error("EventSource gave up (HTTP error; it cannot tell which)"));
        return;
      }
      panel.row(["connection lost", "warn"], [` · retrying with Last-Event-ID: ${lastId}`, ""]);
      panel.status.textContent = "reconnecting…";
    });
  });
}
