// The stream over a WebSocket: one text frame per message, its payload JSON. The socket lives
// in the reader worker (fetchbody.js), which stamps each frame when it came; the code is the
// same as in a page: new WebSocket(url), onmessage, close(). The server ends with close code
// 1000 after the last message; 1001 means it is stopping and says when to come back
// ({"retry_ms"}): the panel reconnects then with last_id, as EventSource does by itself.

import { decimal, openInWorker, sleep } from "./fetchbody.js";

const MAX_RETRY_MS = 30_000; // a server asking for an hour does not park the panel

// ws:// (or wss://) for the page's own origin and the stream's parameters.
export function socketUrl(base, params, lastId) {
  const url = new URL(base, location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  url.search = new URLSearchParams({
    count: params.count,
    interval: decimal(params.interval),
    size: params.size,
    source: params.source,
  }).toString();
  if (lastId !== null) url.searchParams.set("last_id", String(lastId));
  return url.href;
}

export async function run(panel, params, signal) {
  const encoder = new TextEncoder();
  panel.extra.frames = 0;
  panel.extra.reconnects = 0;
  panel.extra["close-code"] = null;
  let lastSeq = null;
  for (;;) {
    const close = await connect(panel, socketUrl(panel.urls.ws, params, lastSeq), signal, (message, data) => {
      lastSeq = message.seq;
      panel.stats.bytes += encoder.encode(data).length;
    });
    panel.extra["close-code"] = String(close.code); // a code, not a quantity: no "1,000"
    panel.changed();
    if (close.code === 1000 && panel.stats.messages >= params.count) return "done: closed 1000";
    if (close.code !== 1001) {
      const why = close.reason ? `: ${close.reason}` : "";
      throw new Error(`closed ${close.code}${why} after ${panel.stats.messages} messages`);
    }
    // 1001: the server is going away (a restart); come back after its retry_ms with last_id.
    let retryMs = 1000;
    try {
      retryMs = Math.min(Number(JSON.parse(close.reason).retry_ms) || retryMs, MAX_RETRY_MS);
    } catch {
      // no JSON reason: keep the default
    }
    panel.row(["closed 1001", "warn"], [` · reconnecting in ${retryMs} ms with last_id=${lastSeq}`, ""]);
    await sleep(retryMs, signal);
    panel.extra.reconnects += 1;
  }
}

// One WebSocket until it closes: resolves with { code, reason }; rejects on abort.
function connect(panel, url, signal, onFrame) {
  return new Promise((resolve, reject) => {
    let opened = false;
    const socket = openInWorker("websocket", { url }, (data) => {
      try {
        if (data.type === "open") {
          opened = true;
          panel.stats.arrivedAt(data.at);
          panel.stats.firstByte(); // the 101 answer: the nearest moment to a first byte
          panel.stats.arrivedAt(null);
          panel.row(["open", "k"], [" · 101 Switching Protocols", ""]);
          panel.changed();
        } else if (data.type === "frame") {
          const message = JSON.parse(data.data);
          onFrame(message, data.data);
          panel.extra.frames += 1;
          panel.stats.arrivedAt(data.at);
          panel.message(message.seq, message.ts);
          panel.stats.arrivedAt(null);
          panel.row(
            ["text frame", "k"],
            [` seq ${message.seq}`, ""],
            [message.token !== undefined ? ` ${JSON.stringify(message.token)}` : "", "bytes"],
            [` ${(data.at - message.ts).toFixed(2)} ms`, "dim"],
          );
        } else if (data.type === "close") {
          const shown = data.reason ? ` ${data.reason}` : "";
          panel.row([`close ${data.code}`, data.code === 1000 ? "k" : "warn"], [shown, "dim"]);
          // 1006: no close frame came; the handshake failed or the connection dropped.
          if (!opened && data.code === 1006) finish(reject, new Error("the handshake failed (no 101)"));
          else finish(resolve, { code: data.code, reason: data.reason });
        }
      } catch (error) {
        finish(reject, error); // e.g. a frame that is not JSON: close the socket too
      }
    });
    const onAbort = () => finish(reject, signal.reason);
    function finish(settle, value) {
      socket.close();
      signal.removeEventListener("abort", onAbort);
      settle(value);
    }
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
  });
}
