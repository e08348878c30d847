// The deployment view: one stream (same count, interval, format) read at once through every
// path the page knows (direct; each nginx location with the app's X-Accel-Buffering header
// sent and omitted; the app's compression none / naive / sync). Each lane counts the reads
// that carried messages: messages that came together in one read were held back on the way.
// From that, not from any assumption, it says in one line what happened and the fix.
// Reads happen in the reader worker (fetchbody.js), which stamps each one when it came.

import { ConnectionBudget, pageBudget } from "./budget.js";
import { decimal, openInWorker } from "./fetchbody.js";
import { LineSplitter } from "./lines.js";
import { Plot, PlotGroup, formatNumber } from "./plot.js";
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
};
const UNKNOWN_PATH = {
  fine: "this path passed each piece on",
  held: "something on this path held them",
  fix: "",
};

export function setupDeploy(root, { connections }) {
  const form = root.querySelector("#deploy-controls");
  const status = root.querySelector(':scope > .panel-head [data-role="status"]');
  const note = root.querySelector('[data-role="note"]');
  const startButton = root.querySelector('[data-action="start"]');
  const stopButton = root.querySelector('[data-action="stop"]');
  const group = new PlotGroup(); // one latency scale for every lane
  const lanes = [...root.querySelectorAll(".lane")].map((element) => new Lane(element, group));
  const origins = new Map(); // origin -> { budget, queue } for lanes waiting for a connection
  let controller = null;

  const setState = (state, text) => {
    root.dataset.state = state;
    status.textContent = text ?? state;
    startButton.disabled = state === "running";
    stopButton.disabled = state !== "running";
  };

  // The page's own origin shares the page's budget with every other panel; other origins (the
  // app's port when the page came through nginx, or nginx's when it came direct) get their own.
  const originOf = (origin) => {
    let entry = origins.get(origin);
    if (!entry) {
      const shared = origin === location.origin;
      const budget = shared ? pageBudget() : new ConnectionBudget(connections);
      entry = { budget, queue: [], host: new URL(origin).host };
      origins.set(origin, entry);
      if (shared) budget.subscribe(() => queueMicrotask(() => pump(entry)));
    }
    return entry;
  };

  // Start the queued lanes of one origin while its budget has connections left.
  function pump(entry) {
    while (entry.queue.length) {
      const lease = entry.budget.acquire();
      if (!lease) break;
      const { lane, params, signal } = entry.queue.shift();
      lane.run(params, signal).finally(() => {
        lease.release();
        pump(entry);
        settle();
      });
    }
    for (const { lane } of entry.queue) {
      const { open, limit } = entry.budget;
      lane.setState("queued", "queued", `waiting: ${open} of the ${limit} connections the browser `
        + `opens to ${entry.host} over HTTP/1.1 are in use; starts when one frees`);
    }
  }

  function settle() {
    if (!controller || lanes.some((lane) => lane.busy)) return;
    controller = null;
    const verdicts = lanes.map((lane) => lane.element.dataset.verdict);
    const held = verdicts.filter((v) => v === "batched" || v === "partly-batched").length;
    const cut = verdicts.filter((v) => v === "cut" || v === "error").length;
    setState("done", `done: ${lanes.length} lanes, ${held} held back, ${cut} cut or failed`);
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const params = readControls(form, note);
    if (!params) return;
    stop();
    controller = new AbortController();
    const signal = controller.signal;
    setState("running");
    for (const lane of lanes) {
      lane.reset();
      const url = new URL(lane.url(params), location.href);
      if (location.protocol === "https:" && url.protocol === "http:") {
        lane.fail("blocked: an https page may not read http (mixed content); open the page over http");
        continue;
      }
      const entry = originOf(url.origin);
      entry.queue.push({ lane, params, signal });
    }
    for (const entry of origins.values()) pump(entry);
    settle();
  });

  function stop() {
    if (!controller) return;
    controller.abort();
    controller = null;
    for (const entry of origins.values()) {
      for (const { lane } of entry.queue) lane.setState("idle", "stopped", "stopped before it started");
      entry.queue = [];
    }
    setState("idle", "stopped");
  }
  stopButton.addEventListener("click", stop);
  window.showcaseDeploy = { root, lanes }; // for a curious learner's console
}

// The form's values, or null (and a message in the note) when one is out of range.
function readControls(form, note) {
  const data = new FormData(form);
  const heartbeat = String(data.get("heartbeat") ?? "").trim();
  const params = {
    mode: data.get("mode") === "ndjson" ? "ndjson" : "sse",
    count: Number(data.get("count")),
    interval: Number(data.get("interval")),
    heartbeat: heartbeat === "" ? null : Number(heartbeat),
  };
  const problems = [];
  if (!Number.isInteger(params.count) || params.count < 3 || params.count > 1000) {
    problems.push("Messages must be a whole number from 3 to 1000 (three tell batching apart).");
  }
  if (!(params.interval >= 0 && params.interval <= 10_000)) {
    problems.push("Interval must be from 0 to 10000 ms.");
  }
  if (params.heartbeat !== null && !(params.heartbeat >= 0.05 && params.heartbeat <= 300)) {
    problems.push("Heartbeat must be from 0.05 to 300 s, or blank.");
  }
  note.textContent = problems.join(" ");
  note.classList.toggle("problem", problems.length > 0);
  return problems.length ? null : params;
}

// One path: its request, what its reads carried, its plot and its one-line verdict.
class Lane {
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
