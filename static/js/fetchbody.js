// fetch() a stream and hand every read() to a callback, as it arrived. Shared by the panels
// that read bodies themselves (SSE over fetch, NDJSON, chunked text, downloads).

export function streamUrl(base, params) {
  const query = new URLSearchParams({
    count: params.count,
    interval: params.interval,
    size: params.size,
    source: params.source,
  });
  return `${base}?${query}`;
}

// Resolves with the Response when the body ends; rejects on HTTP errors and on abort.
export async function readBody(panel, url, signal, onRead, init = {}) {
  const lease = panel.connect();
  try {
    const response = await fetch(url, { cache: "no-store", ...init, signal });
    if (!response.ok) throw new Error(await describeError(response));
    const reader = response.body.getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return response;
      panel.stats.read(value.byteLength);
      onRead(value, response);
      panel.changed();
    }
  } finally {
    lease.release();
  }
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
