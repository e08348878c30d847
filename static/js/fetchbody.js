// fetch() a stream and hand every read() to a callback, as it arrived. Shared by the panels
// that read bodies themselves (SSE over fetch, NDJSON, chunked text).
//
// The reads happen in a Web Worker (this same file, loaded as a module worker) that stamps
// each one with its arrival time before posting it to the page. A message's latency is then
// "arrival at the reader − ts", whatever the page's main thread was busy with meanwhile
// (drawing plots, a download's progress, a checksum): the page shows the bytes later, but
// measures them when they came. EventSource runs in the same worker for the same reason.

import { nowEpochMs } from "./stats.js";

const IN_WORKER = typeof window === "undefined";
// Flow control between the worker and the page: the worker has at most READS_AHEAD reads
// posted and not yet handled, so a page that falls behind a fast stream slows the reads (and,
// through TCP, the server) instead of queueing the stream in memory. The page acknowledges
// every ACK_EVERY reads.
const READS_AHEAD = 64;
const ACK_EVERY = 8;

export function streamUrl(base, params) {
  const query = new URLSearchParams({
    count: params.count,
    interval: decimal(params.interval),
    size: params.size,
    source: params.source,
  });
  return `${base}?${query}`;
}

// A number as the contract writes one: digits and a "." (String(1e-7) is "1e-7", refused).
export function decimal(value) {
  const text = String(value);
  if (!/e/i.test(text)) return text;
  return value.toFixed(20).replace(/\.?0+$/, "");
}

// --- the page's side --------------------------------------------------------------------

let worker = null;
let nextId = 1;
const pending = new Map(); // id -> handler of the worker's messages for that request

// One worker for every stream panel, started when the page boots, so its start-up never
// counts in a panel's time to first byte.
export function readerWorker() {
  if (!worker) {
    worker = new Worker(import.meta.url, { type: "module", name: "stream reader" });
    worker.addEventListener("message", ({ data }) => pending.get(data.id)?.(data));
  }
  return worker;
}

// Open `url` in the worker; `onMessage(data)` gets everything the worker says about it until
// close() is called (which also stops the request in the worker).
export function openInWorker(op, details, onMessage) {
  const id = nextId++;
  pending.set(id, onMessage);
  readerWorker().postMessage({ op, id, ...details });
  let handled = 0;
  return {
    close() {
      if (!pending.delete(id)) return;
      worker.postMessage({ op: "abort", id });
    },
    handled() {
      handled += 1;
      if (handled % ACK_EVERY === 0 && pending.has(id)) {
        worker.postMessage({ op: "ack", id, reads: ACK_EVERY });
      }
    },
  };
}

// Resolves with { status, ok, statusText, headers } when the body ends; rejects on HTTP
// errors, on network errors, on abort, and when `onRead` throws. In every failure the
// request is stopped in the worker (reader cancelled, fetch aborted), so the connection is
// really closed when the panel says it is: no read keeps a socket the page counts as free.
export function readBody(panel, url, signal, onRead, init = {}) {
  const lease = panel.connect();
  return new Promise((resolve, reject) => {
    let response = null;
    const absolute = new URL(url, location.href).href; // the worker's base URL is its script
    const request = openInWorker("fetch", { url: absolute, init }, (data) => {
      if (data.type === "response") {
        response = { ...data.response, headers: new Headers(data.response.headers) };
      } else if (data.type === "read") {
        const value = new Uint8Array(data.buffer);
        panel.stats.arrivedAt(data.at); // the time the read came, not the time we see it
        try {
          panel.stats.read(value.byteLength);
          onRead(value, response);
        } catch (error) {
          finish(reject, error); // e.g. JSON.parse on a bad line: stop the request too
          return;
        } finally {
          panel.stats.arrivedAt(null);
        }
        request.handled();
        panel.changed();
      } else if (data.type === "end") {
        finish(resolve, response);
      } else if (data.type === "error") {
        finish(reject, rebuildError(data.error));
      }
    });
    const onAbort = () => finish(reject, signal.reason);
    function finish(settle, value) {
      request.close();
      lease.release();
      signal.removeEventListener("abort", onAbort);
      settle(value);
    }
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
  });
}

function rebuildError({ name, message }) {
  const error = new Error(message);
  error.name = name; // TypeError for a network failure, AbortError, …
  return error;
}

// "400 count: must be from 1 to 1000000" from the server's JSON error body.
export async function describeError(response) {
  let detail = response.statusText;
  try {
    const body = await response.json();
    detail = body.field ? `${body.field}: ${body.detail}` : body.detail || body.error;
  } catch {
    // not JSON: keep the status text
  }
  return `HTTP ${response.status} ${detail}`;
}

export function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(done, ms);
    function done() {
      signal.removeEventListener("abort", aborted);
      resolve();
    }
    function aborted() {
      clearTimeout(timer);
      reject(signal.reason);
    }
    signal.addEventListener("abort", aborted, { once: true });
  });
}

// "tick 3 1795…\\n" with line ends made visible and a long pad shortened, for feed rows.
export function visibleText(text, max = 72) {
  let shown = text;
  if (shown.length > max) {
    const cut = shown.length - max + 20;
    shown = `${shown.slice(0, max - 24)}…(${cut} more)…${shown.slice(-4)}`;
  }
  return shown.replaceAll("\r", "\\r").replaceAll("\n", "\\n");
}

// --- the worker's side ------------------------------------------------------------------

const running = new Map(); // id -> stop()
const credits = new Map(); // id -> { reads: how many may still be posted, wake: () => void }

async function fetchInWorker({ id, url, init }) {
  const controller = new AbortController();
  let reader = null;
  const credit = { reads: READS_AHEAD, wake: null };
  credits.set(id, credit);
  running.set(id, () => {
    reader?.cancel().catch(() => {});
    controller.abort();
    credit.wake?.();
  });
  try {
    const response = await fetch(url, { cache: "no-store", ...init, signal: controller.signal });
    if (!response.ok) throw new Error(await describeError(response));
    const headers = [...response.headers];
    const { status, ok, statusText } = response;
    postMessage({ id, type: "response", response: { status, ok, statusText, headers } });
    if (response.body) {
      reader = response.body.getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        const at = nowEpochMs();
        const buffer = value.byteOffset || value.byteLength !== value.buffer.byteLength
          ? value.slice().buffer
          : value.buffer;
        postMessage({ id, type: "read", at, buffer }, [buffer]);
        credit.reads -= 1;
        while (credit.reads <= 0 && running.has(id)) {
          await new Promise((resolve) => {
            credit.wake = resolve;
          });
        }
        if (!running.has(id)) return;
      }
    }
    postMessage({ id, type: "end" });
  } catch (error) {
    if (running.has(id)) {
      postMessage({ id, type: "error", error: { name: error.name, message: error.message } });
    }
  } finally {
    running.delete(id);
    credits.delete(id);
  }
}

// EventSource in the worker: every event the page listens to, stamped when it came.
function eventSourceInWorker({ id, url, events }) {
  const source = new EventSource(url);
  running.set(id, () => source.close());
  const state = () => source.readyState;
  source.addEventListener("open", () => postMessage({ id, type: "open", at: nowEpochMs() }));
  source.addEventListener("error", () => {
    postMessage({ id, type: "error", readyState: state(), closed: state() === EventSource.CLOSED });
    if (state() === EventSource.CLOSED) running.delete(id);
  });
  for (const name of events) {
    source.addEventListener(name, (event) => {
      const { type, data, lastEventId } = event;
      postMessage({ id, type: "event", event: { type, data, lastEventId }, at: nowEpochMs() });
    });
  }
}

// A WebSocket in the worker: open, every text frame stamped when it came, and the close.
function webSocketInWorker({ id, url }) {
  const socket = new WebSocket(url);
  running.set(id, () => socket.close(1000));
  socket.addEventListener("open", () => postMessage({ id, type: "open", at: nowEpochMs() }));
  socket.addEventListener("message", ({ data }) => {
    postMessage({ id, type: "frame", data, at: nowEpochMs() });
  });
  socket.addEventListener("close", ({ code, reason, wasClean }) => {
    running.delete(id);
    postMessage({ id, type: "close", code, reason, wasClean, at: nowEpochMs() });
  });
}

if (IN_WORKER) {
  addEventListener("message", ({ data }) => {
    if (data.op === "fetch") fetchInWorker(data);
    else if (data.op === "eventsource") eventSourceInWorker(data);
    else if (data.op === "websocket") webSocketInWorker(data);
    else if (data.op === "ack") {
      const credit = credits.get(data.id);
      if (credit) {
        credit.reads += data.reads;
        credit.wake?.();
        credit.wake = null;
      }
    } else if (data.op === "abort") {
      const stop = running.get(data.id);
      running.delete(data.id);
      stop?.();
    }
  });
}
