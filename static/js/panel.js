// One panel of the page: its state machine (idle → running → done | error), the connections
// it holds, and a render pass per animation frame that writes the numbers both to the screen
// and to data-* attributes (what the tests read).

import { Plot, formatNumber } from "./plot.js";
import { RunStats } from "./stats.js";

const FEED_ROWS = 40;
const PLOT_EVERY_MS = 100;

export class Panel {
  constructor(element, { budget, runner, urls, connections = 1, plotUnit = "ms", plotGroup = null }) {
    this.element = element;
    this.mode = element.dataset.mode;
    this.budget = budget;
    this.runner = runner;
    this.urls = urls;
    this.connections = connections; // how many this panel opens at once
    this.stats = new RunStats();
    this.extra = {}; // mode-specific numbers, shown like the others
    this.unframed = false; // true when the bytes carry no message boundaries at all
    this.leases = new Set();
    this.controller = null;
    this.status = element.querySelector('[data-role="status"]');
    this.feed = element.querySelector('[data-role="feed"]');
    this.plot = new Plot(element.querySelector('[data-role="plot"]'), {
      color: getComputedStyle(element).getPropertyValue("--accent").trim(),
      unit: plotUnit,
      group: plotGroup,
    });
    this.pendingRows = [];
    this.frame = 0;
    this.plottedAt = 0;
    this.onRender = null; // a mode's own DOM updates (download progress), once per frame
    this.startButton = element.querySelector('[data-action="start"]');
    this.stopButton = element.querySelector('[data-action="stop"]');
    this.stopButton.addEventListener("click", () => this.stop());
    this.cells = new Map(
      [...element.querySelectorAll("[data-stat]")].map((cell) => [cell.dataset.stat, cell]),
    );
    this.shown = new Map(); // attribute text last written, per key
    this.render(true);
  }

  get running() {
    return this.controller !== null;
  }

  setState(state, text) {
    this.element.dataset.state = state;
    this.status.textContent = text ?? state;
    this.startButton.disabled = state === "running";
    this.stopButton.disabled = state !== "running";
  }

  // Would this panel's connections still fit in the browser's per-origin limit?
  fits() {
    return this.budget.open + this.connections <= this.budget.limit;
  }

  // A connection for the runner; released by the runner when done, or by stop() at once.
  connect() {
    const lease = this.budget.acquire();
    if (!lease) {
      throw new Error(`no connection left: ${this.budget.limit} per origin are in use`);
    }
    this.leases.add(lease);
    return lease;
  }

  start(params, options = {}) {
    if (this.running) return true;
    if (!this.fits()) {
      const open = this.budget.open;
      this.setState("error", `refused: ${open} of ${this.budget.limit} connections in use`);
      return false;
    }
    const controller = new AbortController();
    this.controller = controller;
    this.params = params;
    if (!options.resume) this.reset();
    this.setState("running", options.resume ? "resuming" : "running");
    Promise.resolve()
      .then(() => this.runner(this, params, controller.signal, options))
      .then(
        (note) => this.finish(controller, controller.signal.aborted ? "idle" : "done", note),
        (error) => this.finish(controller, controller.signal.aborted ? "idle" : "error", error),
      );
    return true;
  }

  stop() {
    if (!this.controller) return;
    this.controller.abort();
    // Aborting closes the socket now, so the slot is free for the next start right away.
    for (const lease of this.leases) lease.release();
    this.leases.clear();
  }

  finish(controller, state, outcome) {
    if (this.controller !== controller) return;
    this.controller = null;
    for (const lease of this.leases) lease.release();
    this.leases.clear();
    this.render(true);
    let text = state;
    if (state === "done" && outcome?.state) ({ state, text } = outcome); // e.g. a paused download
    else if (state === "done") text = typeof outcome === "string" ? outcome : "done";
    const count = this.stats.messages;
    if (state === "idle" && !outcome?.state) text = count ? `stopped after ${count} messages` : "stopped";
    if (state === "error") text = `error: ${outcome?.message ?? outcome}`;
    this.setState(state, text);
  }

  reset() {
    this.stats.reset();
    this.extra = {};
    this.unframed = false;
    this.pendingRows = [];
    if (this.feed) this.feed.replaceChildren();
    this.plot.clear();
    this.render(true);
  }

  // --- used by the runners -------------------------------------------------------------

  message(seq, ts) {
    this.stats.message(seq, ts);
    this.changed();
  }

  // One feed row made of [text, className] parts; rows reach the DOM once per frame.
  row(...parts) {
    this.pendingRows.push(parts);
    if (this.pendingRows.length > FEED_ROWS) this.pendingRows.shift();
    this.changed();
  }

  changed() {
    if (!this.frame) this.frame = requestAnimationFrame(() => this.render());
  }

  values(final) {
    const s = this.stats;
    const p = s.percentiles(final);
    const none = this.unframed;
    return {
      "ttfb-ms": s.ttfbMs,
      messages: none ? null : s.messages,
      bytes: s.bytes,
      reads: s.reads,
      "p50-ms": none ? null : p?.p50,
      "p95-ms": none ? null : p?.p95,
      "max-ms": none ? null : p?.max,
      "mean-ms": none ? null : p?.mean,
      // p50 and p95 come from a random sample of 10,000 latencies once there are more.
      sampled: none || !p ? null : p.sampled,
      lost: none ? null : s.lost,
      duplicates: none ? null : s.duplicates,
      "last-seq": s.lastSeq,
      ...this.extra,
    };
  }

  // Everything the page shows, written once per animation frame however many messages came
  // in it: the runners only change numbers and call changed().
  render(final = false) {
    this.frame = 0;
    const values = this.values(final);
    for (const [key, value] of Object.entries(values)) {
      const text = attributeText(value);
      if (this.shown.get(key) === text) continue; // an unchanged attribute costs nothing
      this.shown.set(key, text);
      this.element.setAttribute(`data-${key}`, text);
      const cell = this.cells.get(key);
      if (cell) cell.textContent = cellText(value, key);
    }
    this.onRender?.(final);
    this.flushRows();
    const now = performance.now();
    if (final || now - this.plottedAt > PLOT_EVERY_MS) {
      this.plottedAt = now;
      this.plot.draw(this.stats.plotPoints());
    } else {
      this.changed(); // draw the last points on a later frame
    }
  }

  flushRows() {
    if (!this.feed || !this.pendingRows.length) return;
    const fragment = document.createDocumentFragment();
    for (const parts of this.pendingRows) {
      const row = document.createElement("div");
      for (const [text, className] of parts) {
        const span = document.createElement("span");
        span.textContent = text;
        if (className) span.className = className;
        row.append(span);
      }
      fragment.append(row);
    }
    this.pendingRows = [];
    this.feed.append(fragment);
    while (this.feed.childElementCount > FEED_ROWS) this.feed.firstElementChild.remove();
    this.feed.scrollTop = this.feed.scrollHeight;
  }
}

function attributeText(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "number" && !Number.isInteger(value)) return value.toFixed(3);
  return String(value);
}

function cellText(value, key) {
  if (value === null || value === undefined) return "–";
  if (typeof value !== "number") return String(value);
  if (key.endsWith("-ms")) return formatNumber(value, value < 10 ? 2 : 1);
  if (Number.isInteger(value)) return value.toLocaleString("en-US");
  return formatNumber(value);
}
