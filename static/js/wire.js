// The wire view: ask the server to read one stream over a raw socket, then show the bytes
// with line ends, chunk-size lines, SSE field names and read boundaries made visible.

const FIELD = /^(data:|id:|event:|retry:|:)/;
const PATHS = { ws: "/ws", poll: "/poll" }; // the others are /stream/<mode>

export function setup(section, { url, budget, controls }) {
  const form = section.querySelector("#wire-controls");
  const status = section.querySelector('[data-role="status"]');
  const requestOut = section.querySelector('[data-role="request"]');
  const responseOut = section.querySelector('[data-role="response"]');
  const summary = section.querySelector('[data-role="summary"]');

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    // The wire view is one more request to this origin: it must fit in the six as well.
    const lease = budget.acquire();
    if (!lease) {
      status.textContent = `All ${budget.limit} connections are in use: stop a panel first.`;
      return;
    }
    const data = new FormData(form);
    const shared = controls();
    const query = new URLSearchParams({
      count: data.get("count"),
      limit: data.get("limit"),
      source: shared.source,
      size: shared.size,
      interval: data.get("interval"),
      flush: data.get("flush"),
    });
    const mode = data.get("mode");
    const path = PATHS[mode] ?? `/stream/${mode}`;
    section.dataset.state = "running";
    status.textContent = `Reading ${path} over a socket…`;
    try {
      const response = await fetch(`${url.replace("{mode}", mode)}?${query}`, { cache: "no-store" });
      const body = await response.json();
      if (!response.ok) throw new Error(`${body.field}: ${body.detail}`);
      // A poll is several requests, each on its own connection: one exchange each.
      const exchanges = body.exchanges ?? [body];
      const titled = (index) => (exchanges.length > 1 ? [exchangeLabel(`poll ${index + 1}`)] : []);
      requestOut.replaceChildren(
        ...exchanges.flatMap((one, i) => [...titled(i), ...renderBytes(latin1(one.request), [], [], mode)]),
      );
      responseOut.replaceChildren(
        ...exchanges.flatMap((one, i) => {
          const bytes = concat(one.reads.map((read) => base64Bytes(read.b64)));
          return [...titled(i), ...renderBytes(bytes, one.segments, one.reads, mode)];
        }),
      );
      const total = exchanges.reduce((n, one) => n + one.bytes, 0);
      const reads = exchanges.reduce((n, one) => n + one.reads.length, 0);
      const last = exchanges.at(-1);
      const end = last.complete ? "connection closed by the server" : `cut at ${last.limit} B`;
      const polls = exchanges.length > 1 ? `${exchanges.length} polls, ` : "";
      summary.textContent = `${polls}${total} B in ${reads} reads; ${end}`;
      section.dataset.frames = String(body.frames?.length ?? "");
      status.textContent = body.error
        ? `The socket read stopped: ${body.error}`
        : `${path}: ${polls}${total} bytes in ${reads} reads.`;
      section.dataset.state = body.error ? "error" : "done";
      section.dataset.mode = mode;
    } catch (error) {
      status.textContent = `The wire view failed: ${error.message}`;
      section.dataset.state = "error";
    } finally {
      lease.release();
    }
  });
}

function base64Bytes(text) {
  const raw = atob(text);
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

function latin1(text) {
  return Uint8Array.from(text, (c) => c.charCodeAt(0) & 0xff);
}

function concat(parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}

// Nodes for `bytes`: one span per segment (segments cover every byte, in order), split at
// read boundaries, which get a marker of their own.
function renderBytes(bytes, segments, reads, mode) {
  const marks = new Map();
  let offset = 0;
  reads.forEach((read, index) => {
    marks.set(offset, { index: index + 1, t: read.t_ms });
    offset += read.size;
  });
  if (!segments.length) segments = [{ kind: "head", start: 0, end: bytes.length }];
  const nodes = [];
  let lineStart = true;
  for (const segment of segments) {
    if (segment.label) nodes.push(frameLabel(segment.label)); // a WebSocket frame's header
    let start = segment.start;
    for (let i = segment.start; i <= segment.end; i++) {
      const mark = marks.get(i);
      if (i === segment.end || (mark && i > start)) {
        lineStart = emit(nodes, bytes.subarray(start, i), segment.kind, mode, lineStart);
        start = i;
      }
      if (mark && i < segment.end) {
        nodes.push(readMark(mark));
        marks.delete(i);
      }
    }
  }
  for (const mark of marks.values()) nodes.push(readMark(mark));
  return nodes;
}

function frameLabel(text) {
  const span = document.createElement("span");
  span.className = "frame-label";
  span.textContent = `\n[${text}] `;
  return span;
}

function exchangeLabel(text) {
  const span = document.createElement("span");
  span.className = "exchange-label";
  span.textContent = `── ${text} ──\n`;
  return span;
}

function readMark({ index, t }) {
  const span = document.createElement("span");
  span.className = "read-mark";
  span.dataset.label = `read ${index} · +${t.toFixed(1)} ms`;
  span.title = `recv() number ${index} began here, ${t.toFixed(1)} ms after the request`;
  return span;
}

// Append the text of `bytes` as spans of class seg-<kind>; escapes get their own class.
// Returns whether the next byte starts a line (for SSE field names).
function emit(nodes, bytes, kind, mode, lineStart) {
  const span = document.createElement("span");
  span.className = `seg-${kind}`;
  let text = "";
  const flush = () => {
    if (text) span.append(text);
    text = "";
  };
  const add = (content, className) => {
    flush();
    const inner = document.createElement("span");
    inner.className = className;
    inner.textContent = content;
    span.append(inner);
  };
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (lineStart && mode === "sse" && kind === "data") {
      const rest = String.fromCharCode(...bytes.subarray(i, i + 6));
      const field = FIELD.exec(rest);
      if (field) {
        add(field[1], "seg-field");
        i += field[1].length - 1;
        lineStart = false;
        continue;
      }
    }
    lineStart = false;
    if (b === 0x0d) add("\\r", "esc");
    else if (b === 0x0a) {
      add("\\n", "esc");
      text += "\n";
      lineStart = true;
    } else if (b === 0x09) add("\\t", "esc");
    else if (b >= 0x20 && b < 0x7f) text += String.fromCharCode(b);
    else add(`\\x${b.toString(16).padStart(2, "0")}`, "esc hex");
  }
  flush();
  nodes.push(span);
  return lineStart;
}

// The wire view fed by the page itself: one fetch() of a resumed answer, as far as a page can
// see it. The request is what the page set (the browser adds Host and its own headers), the
// response head is rebuilt from the Response, the body is shown read by read as fetch()
// handed it over (already de-chunked), with the event ids it carried.
const FETCH_LIMIT_BYTES = 16384;

export function showFetch(section, { url, headers, mode, after }) {
  const status = section.querySelector('[data-role="status"]');
  const requestOut = section.querySelector('[data-role="request"]');
  const responseOut = section.querySelector('[data-role="response"]');
  const summary = section.querySelector('[data-role="summary"]');
  const started = performance.now();
  const target = new URL(url, location.href);
  const path = target.pathname + target.search;
  const lines = [`GET ${path} HTTP/1.1`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  const parts = []; // the head, then each read
  const reads = [];
  const ids = [];
  let bytes = 0;
  let headSize = 0;
  const from = after === null ? "from the start" : `after id ${after}`;
  const idRange = () => (ids.length ? `ids ${ids[0]}…${ids.at(-1)}` : "no ids");

  const add = (part) => {
    const room = FETCH_LIMIT_BYTES - bytes;
    if (room <= 0) return;
    const kept = part.subarray(0, room);
    parts.push(kept);
    reads.push({ t_ms: performance.now() - started, size: kept.byteLength });
    bytes += kept.byteLength;
  };
  const render = () => {
    const all = concat(parts);
    const segments = [
      { kind: "head", start: 0, end: headSize },
      { kind: "data", start: headSize, end: all.byteLength },
    ];
    responseOut.replaceChildren(...renderBytes(all, segments, reads, mode));
    summary.textContent = `${bytes} B in ${reads.length - 1} reads; ${idRange()}`;
    section.dataset.ids = ids.join(" ");
  };

  section.dataset.mode = "chat";
  section.dataset.state = "running";
  section.dataset.after = after === null ? "" : String(after);
  section.dataset.ids = "";
  requestOut.replaceChildren(...renderBytes(latin1(`${lines.join("\r\n")}\r\n\r\n`), [], [], mode));
  responseOut.replaceChildren();
  summary.textContent = "";
  status.textContent = `The chat box reattaches to its answer ${from}: the request as fetch() sent it (the browser adds its own headers).`;
  return {
    response(response) {
      const head = [`HTTP/1.1 ${response.status} ${response.statusText}`];
      response.headers.forEach((value, name) => head.push(`${name}: ${value}`));
      add(latin1(`${head.join("\r\n")}\r\n\r\n`));
      headSize = bytes;
      render();
    },
    read(value, result) {
      ids.push(...result.ids);
      add(value);
      render();
    },
    end(outcome) {
      section.dataset.state = outcome.startsWith("error") ? "error" : "done";
      status.textContent = `Reattached ${from}: ${idRange()} (the replay comes at once, then the live pace: see the read times); the body as fetch() read it, chunk-size lines already removed. The answer: ${outcome}.`;
    },
  };
}
