// The page's entry point: one set of controls, one Panel per mode, "Start all", the
// connection budget and the wire view. Each mode's own code is in its file (sse.js, …).

import { pageBudget } from "./budget.js";
import * as chunked from "./chunked.js";
import * as download from "./download.js";
import { readerWorker } from "./fetchbody.js";
import * as ndjson from "./ndjson.js";
import { Panel } from "./panel.js";
import { PlotGroup } from "./plot.js";
import * as poll from "./poll.js";
import * as sse from "./sse.js";
import * as sseFetch from "./sse-fetch.js";
import * as wire from "./wire.js";
import * as ws from "./ws.js";

const RUNNERS = {
  sse: { runner: sse.run },
  "sse-fetch": { runner: sseFetch.run },
  ndjson: { runner: ndjson.run },
  chunked: { runner: chunked.run },
  download: { runner: download.run, connections: 2, plotUnit: "MB/s" },
  // Not one of the six: browsers pool WebSockets apart from HTTP/1.1 requests.
  ws: { runner: ws.run, connections: 0 },
  // It holds one of the six, but waits for a free one (as the browser's queue would) rather
  // than being refused, so "Start all" can race it: poll.js takes its lease itself.
  poll: { runner: poll.run, connections: 0 },
};

export function boot({ urls, limits }) {
  readerWorker(); // started now, so its start-up is never part of a panel's numbers
  download.hasher();
  const form = document.getElementById("controls");
  const note = document.getElementById("controls-note");
  const meter = document.getElementById("connections");
  note.dataset.original = note.innerHTML; // restored once a problem is fixed
  const budget = pageBudget();
  budget.limit = limits.connections;
  budget.subscribe((open) => {
    meter.textContent = String(open);
    meter.dataset.open = String(open);
  });

  const panels = [];
  const latencyPlots = new PlotGroup(); // one scale for every latency plot
  for (const element of document.querySelectorAll(".panel[data-mode]")) {
    const spec = RUNNERS[element.dataset.mode];
    const plotGroup = spec.plotUnit ? null : latencyPlots;
    const panel = new Panel(element, { budget, urls, plotGroup, ...spec });
    if (element.dataset.mode === "download") download.setup(panel);
    element.querySelector('[data-action="start"]').addEventListener("click", () => {
      const params = readControls(form, limits, note);
      if (params) panel.start(params);
    });
    panels.push(panel);
  }

  // Start all: every panel gets the same parameters and starts in the same task, so the
  // requests leave together and the race is fair.
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const params = readControls(form, limits, note);
    if (!params) return;
    for (const panel of panels) panel.stop();
    for (const panel of panels) panel.start(params);
  });
  document.getElementById("stop-all").addEventListener("click", () => {
    for (const panel of panels) panel.stop();
  });

  wire.setup(document.getElementById("wire"), {
    url: urls.wire,
    budget,
    controls: () => readControls(form, limits, note) ?? { source: "ticks", size: 0 },
  });
  window.showcase = { panels, budget }; // for a curious learner's console
}

// The form's values, checked against the server's own limits; null (and a message) if wrong.
function readControls(form, limits, note) {
  const data = new FormData(form);
  const params = {
    source: data.get("source"),
    count: Number(data.get("count")),
    interval: Number(data.get("interval")),
    size: Number(data.get("size")),
  };
  const problems = [];
  if (!Number.isInteger(params.count) || params.count < 1 || params.count > limits.count) {
    problems.push(`Messages must be a whole number from 1 to ${limits.count}.`);
  }
  if (!(params.interval >= 0 && params.interval <= limits.interval)) {
    problems.push(`Interval must be from 0 to ${limits.interval} ms.`);
  }
  if (!Number.isInteger(params.size) || params.size < 0 || params.size > limits.size) {
    problems.push(`Payload must be a whole number from 0 to ${limits.size} bytes.`);
  }
  for (const input of form.querySelectorAll("input")) input.removeAttribute("aria-invalid");
  if (problems.length) {
    note.textContent = problems.join(" ");
    note.classList.add("problem");
    for (const input of form.querySelectorAll("input")) {
      if (!input.checkValidity()) input.setAttribute("aria-invalid", "true");
    }
    return null;
  }
  if (note.classList.contains("problem")) {
    note.classList.remove("problem");
    note.innerHTML = note.dataset.original;
  }
  return params;
}
