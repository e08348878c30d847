// One lane of the deployment view: one path's request, read in the reader worker
// (fetchbody.js) that stamps each read when it came. It counts the reads that carried
// messages: messages that came together in one read were held back on the way. From that, not
// from any assumption, it says in one line what happened and the fix.

import { decimal, openInWorker } from "./fetchbody.js";
import { LineSplitter } from "./lines.js";
import { Plot, formatNumber } from "./plot.js";
import { SSEParser } from "./sseparser.js";
import { nowEpochMs } from "./stats.js";

const SOURCE = "ticks"; // the SSE event name of its messages, too

// What each path does to a stream, by lane kind (a direct lane, a compression setting, or an
// nginx location's name): why messages were held back (`held`), why they were not (`fine`, by
// header sent/omitted where that matters), why a stream ended early (`cut`), and the fix.
const PATHS = {
  direct: {
    fine: "nothing sits between the app and this page",
    held: "the messages came faster than the page read them (nothing holds them on this path)",
    fix: "",
  },
  naive: {
    fine: "the compressor's buffer filled once per message (large payloads)",
    held: "the app's gzip compressor held them: it is not flushed per message, so it sends only when its buffer fills or the stream ends",
    fix: "flush the compressor after every message (Z_SYNC_FLUSH, compress=sync) or leave streams uncompressed",
  },
  sync: {
    fine: "the app flushes its compressor after every message (Z_SYNC_FLUSH): each leaves as one decodable piece",
    held: "the messages came faster than the page read them",
    fix: "",
  },
  streaming: {
    fine: "proxy_buffering off: nginx passes each piece on as it comes",
    held: "the messages came faster than the page read them",
    fix: "",
  },
  stock: {
    fine: {
      send: "the app's X-Accel-Buffering: no turned nginx's buffering off for this response",
      omit: "nginx passed each piece on",
    },
    held: "nginx buffered the response (proxy_buffering is on by default)",
    fix: "X-Accel-Buffering: no from the app, or proxy_buffering off",
  },
  "ignore-accel": {
    fine: "nginx passed each piece on",
    held: "nginx buffered the response and ignored the app's X-Accel-Buffering (a proxy that does not know the header)",
    fix: "proxy_buffering off in the proxy's own config",
  },
  gzip: {
    fine: "nginx's gzip does not batch by itself: with buffering off it compresses and passes on each piece",
    held: "nginx's gzip held them",
    fix: "proxy_buffering off (gzip alone does not batch)",
  },
  "short-timeout": {
    fine: "no silence reached nginx's 3 s proxy_read_timeout",
    held: "the messages came faster than the page read them",
    cut: "nginx's proxy_read_timeout (3 s) passed with no byte from the app, and nginx ended the response",
    fix: "a heartbeat more often than the timeout (heartbeat=1), or a long proxy_read_timeout",
  },
  websocket: {
    fine: "proxy_buffering off: nginx passes each piece on as it comes (and passes Upgrade for a WebSocket)",
    held: "the messages came faster than the page read them",
    fix: "",
  },
  "no-upgrade": {
    fine: "proxy_buffering off: a stream passes; only a WebSocket handshake fails here (no Upgrade)",
    held: "the messages came faster than the page read them",
    fix: "",
  },
};
const UNKNOWN_PATH = {
  fine: "this path passed each piece on",
  held: "something on this path held them",
  fix: "",
};

// One path: its request, what its reads carried, its plot and its one-line verdict.
export class Lane {
  constructor(element, group) {
    this.element = element;
    this.kind = element.dataset.kind;
    this.status = element.querySelector('[data-role="status"]');
    this.line = element.querySelector('[data-role="line"]');
    const color = getComputedStyle(element).getPropertyValue("--accent").trim();
    this.plot = new Plot(element.querySelector('[data-role="plot"]'), { color, group });
    this.busy = false;
  }

  url(params) {
    const { accel, compress } = this.element.dataset;
    const query = new URLSearchParams({
      count: params.count,
      interval: decimal(params.interval),
      size: 0,
      source: SOURCE,
    });
    if (params.heartbeat !== null) query.set("heartbeat", decimal(params.heartbeat));
    if (accel) query.set("accel", accel);
    if (compress) query.set("compress", compress);
    return `${this.element.dataset.url.replace("{mode}", params.mode)}?${query}`;
  }

  // `text` for the lane's state label, `line` (when given) for its line below the plot.
  setState(state, text, line) {
    this.element.dataset.state = state;
    this.status.textContent = text ?? state;
    if (line !== undefined) this.line.textContent = line;
    this.busy = state === "queued" || state === "running";
  }

  reset() {
    for (const key of ["messages", "reads", "maxBatch", "verdict", "afterMs", "encoding"]) {
      this.element.dataset[key] = "";
    }
    this.line.textContent = "–";
    this.plot.clear();
    this.setState("idle");
  }

  fail(text) {
    this.element.dataset.verdict = "error";
    this.line.textContent = text;
    this.setState("error", "error");
  }

  // Resolves (never rejects) once the stream ended, failed or was stopped.
  run(params, signal) {
    this.setState("running", "running", "waiting for the first byte…");
    const parse = params.mode === "sse" ? sseMessages() : ndjsonMessages();
    const url = new URL(this.url(params), location.href).href;
    const start = nowEpochMs();
    const points = [];
    const seen = { messages: 0, reads: 0, maxBatch: 0, afterMs: 0, encoding: "" };
    let answered = false;
    return new Promise((resolve) => {
      const finish = (error) => {
        request.close();
        signal.removeEventListener("abort", onAbort);
        if (signal.aborted) this.setState("idle", "stopped", `stopped after ${seen.messages} messages`);
        else this.report(params, seen, points, answered, error);
        resolve();
      };
      const onAbort = () => finish(null);
      const request = openInWorker("fetch", { url, init: {} }, (data) => {
        if (data.type === "response") {
          answered = true;
          seen.encoding = new Headers(data.response.headers).get("content-encoding") ?? "";
        } else if (data.type === "read") {
          let messages;
          try {
            messages = parse(new Uint8Array(data.buffer));
          } catch (error) {
            finish(error); // not the stream's framing: say so rather than guess
            return;
          }
          request.handled();
          if (!messages.length) return; // a heartbeat, or part of a message
          seen.reads += 1;
          seen.maxBatch = Math.max(seen.maxBatch, messages.length);
          seen.afterMs = data.at - start;
          for (const message of messages) {
            seen.messages += 1;
            points.push([data.at - start, data.at - message.ts]);
          }
          this.plot.draw(points);
          const line = `${seen.messages} of ${params.count} messages so far, in ${seen.reads} reads`;
          this.setState("running", "running", line);
        } else if (data.type === "end") {
          finish(null);
        } else if (data.type === "error") {
          finish(data.error);
        }
      });
      if (signal.aborted) onAbort();
      else signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  // The lane's verdict from what it measured, in data-* attributes and one line of text.
  report(params, seen, points, answered, error) {
    const { messages, reads, maxBatch, afterMs } = seen;
    const known = Object.hasOwn(PATHS, this.kind);
    const path = known ? PATHS[this.kind] : { ...UNKNOWN_PATH, fix: this.element.dataset.fix };
    const fix = path.fix ? ` Fix: ${path.fix}.` : "";
    const seconds = `${(afterMs / 1000).toFixed(1)} s`;
    let verdict;
    let text;
    if (!answered) {
      verdict = "error";
      text = `failed: ${error?.message ?? "no answer"}`;
    } else if (messages < params.count) {
      verdict = "cut";
      const why = path.cut ?? (error ? `the connection failed (${error.message})` : "the response ended early");
      text = `cut after ${messages} of ${params.count} messages: ${why}.${fix}`;
    } else if (reads === 1 || (reads === 2 && messages >= 6)) {
      verdict = "batched";
      const together = reads === 1 ? "together" : "together in 2 reads";
      text = `all ${messages} messages arrived ${together} after ${seconds}: ${path.held}.${fix}`;
    } else if (reads < messages) {
      verdict = "partly-batched";
      text = `${messages} messages in ${reads} reads, up to ${maxBatch} in one: ${path.held}.${fix}`;
    } else {
      verdict = "per-message";
      const fine = typeof path.fine === "string" ? path.fine : path.fine[this.element.dataset.accel];
      const latencies = points.map(([, latency]) => latency).sort((a, b) => a - b);
      const p50 = latencies[Math.floor(latencies.length / 2)];
      text = `each of the ${messages} messages arrived on its own (p50 latency ${formatNumber(p50)} ms): ${fine}.`;
    }
    if (seen.encoding) text += ` Content-Encoding: ${seen.encoding}.`;
    Object.assign(this.element.dataset, {
      messages: String(messages),
      reads: String(reads),
      maxBatch: String(maxBatch),
      afterMs: afterMs.toFixed(1),
      encoding: seen.encoding,
      verdict,
    });
    this.line.textContent = text;
    const failed = verdict === "cut" || verdict === "error";
    this.setState(failed ? "error" : "done", verdict.replace("-", " "));
  }
}

// Parsers that turn one read into the { seq, ts } messages it completed.
function sseMessages() {
  const parser = new SSEParser();
  return (bytes) =>
    parser
      .feed(bytes)
      .filter((event) => event.type === SOURCE)
      .map((event) => JSON.parse(event.data));
}

function ndjsonMessages() {
  const splitter = new LineSplitter();
  return (bytes) =>
    splitter
      .feedText(splitter.decode(bytes))
      .lines.filter((line) => line.trim()) // a blank line is a heartbeat
      .map((line) => JSON.parse(line));
}
