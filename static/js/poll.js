// The stream by polling: GET /poll?after=N answers with every message due after N, or waits
// for the next (long polling); with wait=0 it answers at once, empty or not, and the page asks
// again on a timer (short polling). The server keeps nothing between polls: `start`, as the
// first answer gave it, is the whole state. Each poll is a fetch() in the reader worker
// (fetchbody.js), which stamps each read, so a message's latency is its answer's arrival − ts.

import { decimal, openInWorker, sleep } from "./fetchbody.js";

const DEFAULT_EVERY_MS = 250;

// The panel's own settings: long polling, or short polling every `everyMs`.
export function readPolling(element) {
  const short = element.querySelector('[data-role="short"]').checked;
  const every = Number(element.querySelector('[data-role="every-ms"]').value);
  return { short, everyMs: Number.isFinite(every) && every >= 0 ? every : DEFAULT_EVERY_MS };
}

export function pollUrl(base, params, after, start, short) {
  const query = new URLSearchParams({
    count: params.count,
    interval: decimal(params.interval),
    size: params.size,
    source: params.source,
    after: String(after),
  });
  if (start !== null) query.set("start", String(start));
  if (short) query.set("wait", "0");
  return `${base}?${query}`;
}

export async function run(panel, params, signal) {
  const { short, everyMs } = readPolling(panel.element);
  panel.extra.polls = 0;
  panel.extra["empty-polls"] = 0;
  panel.status.textContent = "waiting for a free connection…";
  // A waiting poll holds a connection; the panel keeps it for the run, polling again at once.
  const lease = await panel.budget.whenFree(signal);
  panel.leases.add(lease);
  panel.status.textContent = short ? `short polling every ${everyMs} ms` : "long polling";
  let after = -1;
  let start = null;
  try {
    for (;;) {
      const answer = await poll(panel, pollUrl(panel.urls.poll, params, after, start, short), signal);
      const { body, at } = answer;
      start = body.start;
      panel.extra.polls += 1;
      if (!body.messages.length) panel.extra["empty-polls"] += 1;
      panel.stats.arrivedAt(at);
      for (const message of body.messages) panel.message(message.seq, message.ts);
      panel.stats.arrivedAt(null);
      panel.row(
        [`poll ${panel.extra.polls}`, "k"],
        [` after=${after} → ${body.messages.length} message${body.messages.length === 1 ? "" : "s"}, next=${body.next}`, ""],
        [body.done ? " done" : "", "dim"],
      );
      panel.changed();
      after = body.next;
      if (body.done) return `done: ${panel.extra.polls} polls`;
      if (short) await sleep(everyMs, signal);
    }
  } finally {
    lease.release();
    panel.leases.delete(lease);
  }
}

// One poll: resolves with its JSON and the time its last read came; rejects on HTTP errors.
function poll(panel, url, signal) {
  const absolute = new URL(url, location.href).href;
  return new Promise((resolve, reject) => {
    const reads = [];
    let at = 0;
    const request = openInWorker("fetch", { url: absolute, init: {} }, (data) => {
      if (data.type === "read") {
        const bytes = new Uint8Array(data.buffer);
        reads.push(bytes);
        at = data.at;
        panel.stats.arrivedAt(data.at);
        panel.stats.read(bytes.byteLength);
        panel.stats.arrivedAt(null);
        request.handled();
      } else if (data.type === "end") {
        try {
          const text = new TextDecoder().decode(concat(reads));
          finish(resolve, { body: JSON.parse(text), at });
        } catch (error) {
          finish(reject, error);
        }
      } else if (data.type === "error") {
        finish(reject, new Error(data.error.message));
      }
    });
    const onAbort = () => finish(reject, signal.reason);
    function finish(settle, value) {
      request.close();
      signal.removeEventListener("abort", onAbort);
      settle(value);
    }
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
  });
}

function concat(chunks) {
  const out = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

