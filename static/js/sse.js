// SSE with the browser's EventSource: named events, ids, and automatic reconnection that
// sends Last-Event-ID, so the server resumes after the last event the page saw.
// The EventSource lives in the reader worker (fetchbody.js), which stamps each event when it
// came; the page shows it from there. The code is the same as in a page: new EventSource(url),
// addEventListener(name), close().

import { openInWorker, streamUrl } from "./fetchbody.js";

export function run(panel, params, signal) {
  const url = new URL(streamUrl(panel.urls.sse, params), location.href).href;
  const encoder = new TextEncoder();
  panel.extra.reconnects = 0;
  panel.extra.reads = null; // EventSource hands over events, never the reads behind them
  return new Promise((resolve, reject) => {
    const lease = panel.connect();
    let opens = 0;
    let lastId = "";
    let source = null;

    function finish(settle, value) {
      source.close();
      lease.release();
      signal.removeEventListener("abort", onAbort);
      settle(value);
    }
    function onAbort() {
      finish(reject, signal.reason);
    }

    function onOpen(at) {
      opens += 1;
      if (opens === 1) {
        panel.stats.arrivedAt(at);
        panel.stats.firstByte(); // EventSource shows no bytes: "open" is the nearest moment
        panel.stats.arrivedAt(null);
      } else {
        panel.extra.reconnects = opens - 1;
        panel.row(["reconnected", "note"], [` · server resumed after id ${lastId}`, ""]);
        panel.status.textContent = `running · reconnected ${opens - 1}×`;
      }
      panel.changed();
    }

    // The event type is the source's name (docs/contract.md), so listen for it, not "message".
    function onEvent(event, at) {
      const message = JSON.parse(event.data);
      lastId = event.lastEventId;
      panel.stats.bytes += encoder.encode(event.data).length;
      panel.stats.arrivedAt(at);
      panel.message(message.seq, message.ts);
      panel.stats.arrivedAt(null);
      panel.row(
        [`${event.type}`, "k"],
        [` id ${event.lastEventId}`, ""],
        [message.token !== undefined ? ` ${JSON.stringify(message.token)}` : "", "bytes"],
        [` ${(at - message.ts).toFixed(2)} ms`, "dim"],
      );
      // All there: close now. Otherwise EventSource would reconnect, and the server's 204
      // (nothing left after this id) is what would finally stop it.
      if (message.seq >= params.count - 1) finish(resolve, "done: all messages, in order");
    }

    function onError(closed) {
      if (closed) {
        // An HTTP error or a non-event-stream answer: EventSource cannot say which.
        finish(reject, new Error("EventSource gave up (HTTP error; it cannot tell which)"));
        return;
      }
      panel.row(["connection lost", "warn"], [` · retrying with Last-Event-ID: ${lastId}`, ""]);
      panel.status.textContent = "reconnecting…";
    }

    source = openInWorker("eventsource", { url, events: [params.source] }, (data) => {
      try {
        if (data.type === "open") onOpen(data.at);
        else if (data.type === "event") onEvent(data.event, data.at);
        else if (data.type === "error") onError(data.closed);
      } catch (error) {
        finish(reject, error); // e.g. an event whose data is not JSON: close the stream too
      }
    });
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
  });
}
