// The chat box: POST a question with fetch(), read the answer's stream as it arrives, add each
// token to the page as text (never as HTML: a model's answer is untrusted), Stop = abort().
// One reader per API shape: OpenAI's SSE chunks, NDJSON chat lines, Coze delta events.

import { pageBudget } from "./budget.js";
import { LineSplitter } from "./lines.js";
import { SSEParser } from "./sseparser.js";

const BASE_INTERVAL_MS = 40; // the server's default pace; speed divides it
const HEALTH_POLL_MS = 250;
const HEALTH_AFTER_MS = 5000; // keep showing the count this long after a stream ends

// Each API: the request body, and a reader turning the body's bytes into text tokens.
const APIS = {
  openai: {
    body: (question, speed) => ({
      model: "showcase-typist",
      messages: [{ role: "user", content: question }],
      stream: true,
      interval: BASE_INTERVAL_MS / speed,
    }),
    reader: () => sseTokens((event) => {
      if (event.data === "[DONE]") return { done: true };
      const chunk = JSON.parse(event.data);
      if (chunk.error) throw new Error(chunk.error.message);
      return { tokens: chunk.choices.map((choice) => choice.delta.content ?? "") };
    }),
  },
  ndjson: {
    body: (question, speed) => ({
      model: "showcase-typist",
      messages: [{ role: "user", content: question }],
      options: { interval: BASE_INTERVAL_MS / speed },
    }),
    reader: () => {
      const splitter = new LineSplitter();
      return (bytes) => {
        const out = { tokens: [] };
        for (const line of splitter.feedText(splitter.decode(bytes)).lines) {
          if (!line.trim()) continue;
          const object = JSON.parse(line);
          if (object.error) throw new Error(object.error);
          if (object.done) out.done = true;
          else out.tokens.push(object.message.content);
        }
        return out;
      };
    },
  },
  coze: {
    body: (question, speed) => ({
      bot_id: "showcase",
      user_id: "page",
      stream: true,
      speed,
      additional_messages: [{ role: "user", content: question, content_type: "text" }],
    }),
    reader: () => sseTokens((event) => {
      if (event.type === "done" || event.data === "[DONE]") return { done: true };
      const body = JSON.parse(event.data);
      if (event.type === "error") throw new Error(`${body.reason}: ${body.msg}`);
      if (event.type === "conversation.message.delta") return { tokens: [body.content] };
      return { tokens: [] };
    }),
  },
};

// A reader over an SSE body: every event goes through `handle`, tokens are gathered.
function sseTokens(handle) {
  const parser = new SSEParser();
  return (bytes) => {
    const out = { tokens: [] };
    for (const event of parser.feed(bytes)) {
      const result = handle(event);
      if (result.done) out.done = true;
      out.tokens.push(...(result.tokens ?? []));
    }
    return out;
  };
}

export function setupChat(root, urls) {
  const budget = pageBudget(); // the answer's stream and the health polls use the origin's connections
  const form = root.querySelector("#chat-form");
  const stopButton = root.querySelector('[data-action="chat-stop"]');
  const askButton = root.querySelector('[data-action="ask"]');
  const answer = root.querySelector('[data-role="answer"]');
  const status = root.querySelector('[data-role="status"]');
  let controller = null;
  let streamLease = null; // the running answer's connection
  let healthUntil = 0;
  let healthTimer = null;

  const show = (name, value) => {
    root.dataset[camel(name)] = String(value);
    root.querySelector(`[data-stat="${name}"]`).textContent = String(value);
  };
  const setState = (state, text) => {
    root.dataset.state = state;
    status.textContent = text ?? state;
  };

  // The server's open-stream count, polled while a stream runs and a little after.
  const pollHealth = async () => {
    healthTimer = null;
    const polling = budget.acquire(); // none free: skip this poll rather than queue behind a stream
    try {
      if (!polling) throw new Error("no connection free");
      const response = await fetch(urls.health, { cache: "no-store" });
      if (response.ok) show("open-streams", (await response.json()).open_streams);
    } catch {
      // the next poll tries again
    } finally {
      polling?.release();
    }
    if (controller || performance.now() < healthUntil) {
      healthTimer = setTimeout(pollHealth, HEALTH_POLL_MS);
    }
  };
  const keepPolling = () => {
    healthUntil = performance.now() + HEALTH_AFTER_MS;
    if (healthTimer === null) healthTimer = setTimeout(pollHealth, 0);
  };

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (controller) {
      controller.abort(); // its connection closes now, so its lease is free now
      streamLease?.release();
    }
    const lease = budget.acquire();
    streamLease = lease;
    if (!lease) {
      setState("error", `no connection free: the page already holds ${budget.limit}, the most a browser opens to one origin over HTTP/1.1; stop a stream first`);
      return;
    }
    const data = new FormData(form);
    const api = String(data.get("api"));
    const speed = Math.min(100, Math.max(0.1, Number(data.get("speed")) || 1));
    const spec = APIS[api];
    const mine = new AbortController();
    controller = mine;
    root.dataset.api = api;
    answer.textContent = "";
    show("tokens", 0);
    show("ttft-ms", "–");
    show("rate", "–");
    setState("running", `running · ${api}`);
    stopButton.disabled = false;
    askButton.disabled = true;
    keepPolling();
    const started = performance.now();
    let first = null;
    let tokens = 0;
    let done = false;
    try {
      const response = await fetch(urls[api], {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(spec.body(String(data.get("question")), speed)),
        signal: mine.signal,
      });
      if (!response.ok) throw new Error(`${response.status}: ${await response.text()}`);
      const read = spec.reader();
      const reader = response.body.getReader();
      for (;;) {
        const { value, done: ended } = await reader.read();
        if (ended) break;
        const result = read(value);
        for (const token of result.tokens) {
          if (!token) continue;
          if (first === null) {
            first = performance.now();
            show("ttft-ms", (first - started).toFixed(1));
          }
          answer.append(document.createTextNode(token)); // text, never HTML
          tokens += 1;
        }
        if (result.tokens.length) {
          show("tokens", tokens);
          const seconds = (performance.now() - first) / 1000;
          if (seconds > 0 && tokens > 1) show("rate", ((tokens - 1) / seconds).toFixed(1));
        }
        if (result.done) done = true;
      }
      setState(done ? "done" : "error", done ? "done" : "error: the stream ended early");
    } catch (error) {
      if (mine.signal.aborted) setState("done", "stopped");
      else setState("error", `error: ${error.message}`.slice(0, 200));
    } finally {
      lease.release();
      if (controller === mine) {
        controller = null;
        stopButton.disabled = true;
        askButton.disabled = false;
      }
      keepPolling();
    }
  });

  stopButton.addEventListener("click", () => {
    if (controller) controller.abort();
  });
  window.showcaseChat = { root }; // for a curious learner's console
}

function camel(name) {
  return name.replace(/-([a-z])/g, (_, letter) => letter.toUpperCase());
}
