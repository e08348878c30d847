// Six connections per origin, live: each row opens EVENT_SOURCES EventSources on one origin at
// once and shows each one pending (in the browser's queue), receiving or done. Over HTTP/1.1
// the browser holds the seventh pending, with no error, until a connection frees; over HTTP/2
// every stream shares one connection, so all of them receive at once.
// A row on the page's own origin goes past the page's budget on purpose; while it runs it
// holds every connection the budget has left, so the other panels refuse with a reason
// instead of waiting silently behind it.

import { pageBudget } from "./budget.js";

const EVENT_SOURCES = 10;
const STREAM = { count: 20, interval: 200, source: "ticks" }; // 4 s each: long enough to see

export function setupConnections(root) {
  const status = root.querySelector(':scope > .panel-head [data-role="status"]');
  const startButton = root.querySelector('[data-action="start"]');
  const stopButton = root.querySelector('[data-action="stop"]');
  const rows = [...root.querySelectorAll(".conn-row")].map((element) => new Row(element));
  const h1 = root.querySelector('.conn-row[data-row="h1"]');
  const shared = new URL(h1.dataset.url, location.href).origin === location.origin;
  root.querySelector('[data-role="shared"]').hidden = !shared;

  const setState = (state, text) => {
    root.dataset.state = state;
    status.textContent = text ?? state;
    startButton.disabled = state === "running";
    stopButton.disabled = state !== "running";
  };
  const settle = () => {
    if (rows.some((row) => row.element.dataset.state === "running")) return;
    const failed = rows.some((row) => row.element.dataset.state === "error");
    setState(failed ? "error" : "done", failed ? "done, with errors" : "done");
  };

  startButton.addEventListener("click", () => {
    setState("running");
    for (const row of rows) row.start(settle);
  });
  stopButton.addEventListener("click", () => {
    for (const row of rows) row.stop();
    setState("idle", "closed");
  });
  window.showcaseConnections = { root, rows }; // for a curious learner's console
}

// One origin's EventSources and what they show: pending, receiving, done or error each.
class Row {
  constructor(element) {
    this.element = element;
    this.cells = element.querySelector('[data-role="cells"]');
    this.line = element.querySelector('[data-role="line"]');
    this.sources = [];
    this.leases = [];
    this.onSettled = null;
  }

  start(onSettled) {
    this.stop();
    this.onSettled = onSettled;
    this.peak = 0;
    this.startedAt = performance.now();
    this.states = new Array(EVENT_SOURCES).fill("pending");
    this.cells.replaceChildren(
      ...this.states.map((state, i) => {
        const cell = document.createElement("li");
        cell.className = "conn-cell";
        cell.dataset.state = state;
        cell.textContent = String(i + 1);
        return cell;
      }),
    );
    const query = new URLSearchParams(STREAM);
    const url = new URL(`${this.element.dataset.url}?${query}`, location.href).href;
    this.element.dataset.state = "running";
    this.element.dataset.elapsedMs = "";
    if (new URL(url).origin === location.origin) {
      const budget = pageBudget();
      while (this.leases.length < EVENT_SOURCES) {
        const lease = budget.acquire();
        if (!lease) break;
        this.leases.push(lease);
      }
    }
    for (let i = 0; i < EVENT_SOURCES; i += 1) {
      const source = new EventSource(url);
      this.sources.push(source);
      source.addEventListener(STREAM.source, (event) => {
        const { seq } = JSON.parse(event.data);
        if (seq >= STREAM.count - 1) {
          source.close(); // all there: close, or EventSource would reconnect
          this.set(i, "done");
        } else if (this.states[i] === "pending") {
          this.set(i, "receiving");
        }
      });
      // A network error (the server is down, or a certificate not yet accepted) would make
      // EventSource retry for ever: this demo counts connections, so it stops and says so.
      source.addEventListener("error", () => {
        if (this.states[i] === "done") return;
        source.close();
        this.set(i, "error");
      });
    }
    this.set(-1, null);
  }

  stop() {
    for (const source of this.sources) source.close();
    this.sources = [];
    this.release();
    if (this.element.dataset.state === "running") {
      this.element.dataset.state = "idle";
      this.line.textContent = "closed";
    }
  }

  release() {
    for (const lease of this.leases) lease.release();
    this.leases = [];
  }

  // Cell `i` is now `state`; recount and redraw (i = -1: just redraw).
  set(i, state) {
    if (i >= 0) {
      this.states[i] = state;
      this.cells.children[i].dataset.state = state;
    }
    const count = (name) => this.states.filter((s) => s === name).length;
    const receiving = count("receiving");
    const pending = count("pending");
    const done = count("done");
    const errors = count("error");
    this.peak = Math.max(this.peak, receiving);
    Object.assign(this.element.dataset, {
      receiving: String(receiving),
      peak: String(this.peak),
      pending: String(pending),
      done: String(done),
      errors: String(errors),
    });
    if (pending + receiving > 0) {
      this.line.textContent = `receiving now: ${receiving} · waiting: ${pending} · done: ${done}`
        + (errors ? ` · failed: ${errors}` : "");
      return;
    }
    this.release();
    const seconds = ((performance.now() - this.startedAt) / 1000).toFixed(1);
    this.element.dataset.elapsedMs = String(Math.round(performance.now() - this.startedAt));
    if (errors) {
      this.element.dataset.state = "error";
      this.line.textContent = `${errors} of ${EVENT_SOURCES} could not connect`
        + (location.protocol === "http:" && this.element.dataset.url.startsWith("https:")
          ? ": open the TLS URL once and accept its certificate, then try again"
          : ": is the server running?");
    } else {
      this.element.dataset.state = "done";
      this.line.textContent = this.peak < EVENT_SOURCES
        ? `at most ${this.peak} received at once; the other ${EVENT_SOURCES - this.peak} waited, `
          + `with no error, until a connection freed: all ${EVENT_SOURCES} done after ${seconds} s`
        : `all ${EVENT_SOURCES} received at once: done after ${seconds} s`;
    }
    this.onSettled?.();
  }
}
