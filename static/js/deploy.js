// The deployment view: one stream (same count, interval, format) read at once through every
// path the page knows (direct; each nginx location with the app's X-Accel-Buffering header
// sent and omitted; the app's compression none / naive / sync), one Lane (lane.js) each.
// Over HTTP/1.1 the browser opens six connections per origin: lanes beyond that wait in a
// queue per origin, visibly, and start as others end.

import { ConnectionBudget, pageBudget } from "./budget.js";
import { Lane } from "./lane.js";
import { PlotGroup } from "./plot.js";

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
