// The chat box: POST a question with fetch(), read the answer's stream as it arrives, add each
// token to the page as text (never as HTML: a model's answer is untrusted).
// One reader per API shape: OpenAI's SSE chunks, NDJSON chat lines, Coze delta events.
//
// An OpenAI or NDJSON answer runs on the server apart from the request that started it, and
// every event carries its number (the SSE id, the NDJSON seq). This tab keeps the answer's id,
// the last number it showed and the text so far in sessionStorage: after a reload it asks
// for the rest with Last-Event-ID (NDJSON: ?after=), so no token is shown twice or lost. The answer in flight
// is announced in localStorage, so another tab can join it (a replay from the start, then
// live). Stop asks the server to cancel the answer; every reader then gets its last chunk.

import { pageBudget } from "./budget.js";
import { LineSplitter } from "./lines.js";
import { SSEParser } from "./sseparser.js";
import { showFetch } from "./wire.js";

const BASE_INTERVAL_MS = 40; // the server's default pace; speed divides it
const HEALTH_POLL_MS = 250;
const HEALTH_AFTER_MS = 5000; // keep showing the count this long after a stream ends
const SESSION_KEY = "showcase.chat.answer"; // sessionStorage: this tab's answer
const LIVE_KEY = "showcase.chat.live"; // localStorage: the answer in flight, for other tabs
const LIVE_MAX_AGE_MS = 600_000; // the server keeps an answer's log this long (ANSWER_TTL_S)

// Each API: the request body, a reader turning the body's bytes into
// { tokens, ids, done, cancelled } (ids: the event numbers read, in order), and for a
// resumable answer the requests that follow it (after a number, or from the start: null)
// and cancel it, by id.
const APIS = {
  openai: {
    body: (question, speed) => ({
      model: "showcase-typist",
      messages: [{ role: "user", content: question }],
      stream: true,
      interval: BASE_INTERVAL_MS / speed,
    }),
    reader: () => sseTokens((event, out) => {
      if (event.data === "[DONE]") return (out.done = true);
      const chunk = JSON.parse(event.data);
      if (chunk.error) throw new Error(chunk.error.message);
      if (event.id !== "") out.ids.push(Number(event.id));
      if (chunk.cancelled) out.cancelled = true;
      out.tokens.push(...chunk.choices.map((choice) => choice.delta.content ?? ""));
    }),
    // EventSource's own way to resume: the Last-Event-ID header.
    follow: (urls, id, after) => ({
      url: `${urls.openai}/${encodeURIComponent(id)}/stream`,
      headers: after === null ? {} : { "Last-Event-ID": String(after) },
    }),
    cancel: (urls, id) => `${urls.openai}/${encodeURIComponent(id)}/cancel`,
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
        const out = { tokens: [], ids: [] };
        for (const line of splitter.feedText(splitter.decode(bytes)).lines) {
          if (!line.trim()) continue;
          const object = JSON.parse(line);
          if (object.error) throw new Error(object.error);
          if (Number.isInteger(object.seq)) out.ids.push(object.seq);
          if (object.cancelled) out.cancelled = true;
          if (object.done) out.done = true;
          else out.tokens.push(object.message.content);
        }
        return out;
      };
    },
    // NDJSON has no header of its own for it: the query says where to resume.
    follow: (urls, id, after) => ({
      url: `${urls.ndjson}/${encodeURIComponent(id)}${after === null ? "" : `?after=${after}`}`,
      headers: {},
    }),
    cancel: (urls, id) => `${urls.openai}/${encodeURIComponent(id)}/cancel`,
  },
  coze: {
    body: (question, speed) => ({
      bot_id: "showcase",
      user_id: "page",
      stream: true,
      speed,
      additional_messages: [{ role: "user", content: question, content_type: "text" }],
    }),
    reader: () => sseTokens((event, out) => {
      if (event.type === "done" || event.data === "[DONE]") return (out.done = true);
      const body = JSON.parse(event.data);
      if (event.type === "error") throw new Error(`${body.reason}: ${body.msg}`);
      if (event.type === "conversation.message.delta") out.tokens.push(body.content);
    }),
  },
};

// A reader over an SSE body: every event goes through `handle(event, out)`.
function sseTokens(handle) {
  const parser = new SSEParser();
  return (bytes) => {
    const out = { tokens: [], ids: [] };
    for (const event of parser.feed(bytes)) handle(event, out);
    return out;
  };
}

// JSON in Web Storage; a full or refused storage only costs the resume, never the answer.
const load = (storage, key) => {
  try {
    return JSON.parse(storage.getItem(key) ?? "null");
  } catch {
    return null;
  }
};
const save = (storage, key, value) => {
  try {
    if (value === null) storage.removeItem(key);
    else storage.setItem(key, JSON.stringify(value));
  } catch {
    // private mode or full: the answer still shows, it just cannot be resumed
  }
};

export function setupChat(root, urls) {
  const budget = pageBudget(); // the answer's stream and the health polls use the origin's connections
  const form = root.querySelector("#chat-form");
  const stopButton = root.querySelector('[data-action="chat-stop"]');
  const askButton = root.querySelector('[data-action="ask"]');
  const joinOffer = root.querySelector('[data-role="join"]');
  const joinQuestion = root.querySelector('[data-role="join-question"]');
  const answer = root.querySelector('[data-role="answer"]');
  const status = root.querySelector('[data-role="status"]');
  const wire = document.getElementById("wire");
  let current = null; // the answer this tab follows: { controller, session }
  let healthUntil = 0;
  let healthTimer = null;
  let leaving = false; // a reload or a navigation cuts the stream: that is not the answer's end
  window.addEventListener("pagehide", () => (leaving = true));
  window.addEventListener("pageshow", () => (leaving = false));

  const show = (name, value) => {
    root.dataset[camel(name)] = String(value);
    const stat = root.querySelector(`[data-stat="${name}"]`);
    if (stat) stat.textContent = String(value);
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
    if (current || performance.now() < healthUntil) {
      healthTimer = setTimeout(pollHealth, HEALTH_POLL_MS);
    }
  };
  const keepPolling = () => {
    healthUntil = performance.now() + HEALTH_AFTER_MS;
    if (healthTimer === null) healthTimer = setTimeout(pollHealth, 0);
  };

  // Another tab's answer in flight, offered here unless this tab already shows it.
  const offerJoin = () => {
    const live = load(localStorage, LIVE_KEY);
    const fresh = live && Date.now() - live.started < LIVE_MAX_AGE_MS;
    const shown = current?.session.id ?? load(sessionStorage, SESSION_KEY)?.id;
    joinOffer.hidden = !fresh || shown === live.id;
    if (fresh) joinQuestion.textContent = live.question; // text, never HTML
  };

  // Keep a resumable answer's session for a reload; the tab that asked announces it once.
  const remember = (session) => {
    if (!session.id || !APIS[session.api].follow) return;
    save(sessionStorage, SESSION_KEY, session);
    if (session.owner && !session.announced) {
      session.announced = true;
      const { id, api, question } = session;
      save(localStorage, LIVE_KEY, { id, api, question, started: Date.now() });
    }
  };

  // The end of this tab's stream. An answer over (done, cancelled, or gone from the server)
  // stays shown as it ended after a reload and is no longer offered to other tabs; a stream
  // cut short leaves the session as it was, so a reload resumes it.
  const end = (session, outcome) => {
    root.dataset.finish = outcome;
    if (outcome === "ended") setState("error", "error: the stream ended early (reload to resume)");
    else setState(outcome.startsWith("error") ? "error" : "done", outcome);
    stopButton.disabled = true;
    askButton.disabled = false;
    if (outcome === "done" || outcome === "cancelled" || outcome.startsWith("error: 404")) {
      session.over = outcome;
      remember(session);
      if (load(localStorage, LIVE_KEY)?.id === session.id) save(localStorage, LIVE_KEY, null);
    }
    offerJoin();
  };

  // Follow one answer's stream to its end: the bytes of `open(signal)`'s response are shown as
  // text and the session (id, last event id, text) is saved after every read, in the same task
  // as the text is shown, so a reload resumes exactly after what is on the screen.
  const follow = async (session, open, tap = null) => {
    if (current) {
      current.controller.abort(); // its connection closes now, so its lease is free now
      current = null;
    }
    const lease = budget.acquire();
    if (!lease) {
      setState("error", `no connection free: the page already holds ${budget.limit}, the most a browser opens to one origin over HTTP/1.1; stop a stream first`);
      return;
    }
    const mine = new AbortController();
    current = { controller: mine, session };
    Object.assign(root.dataset, { api: session.api, answerId: session.id ?? "", lastId: session.lastId ?? "", finish: "" });
    form.elements.question.value = session.question;
    form.elements.api.value = session.api;
    answer.textContent = session.text;
    show("tokens", session.tokens);
    show("ttft-ms", "–");
    show("rate", "–");
    setState("running", `${session.joined ? "joined" : "running"} · ${session.api}`);
    stopButton.disabled = false;
    askButton.disabled = true;
    keepPolling();
    offerJoin();
    const started = performance.now();
    let first = null;
    let tokens = 0; // on this connection, for the rate
    let outcome = "ended";
    try {
      const response = await open(mine.signal);
      tap?.response(response);
      if (response.status === 204) {
        outcome = "done"; // the answer is over and nothing followed the last id shown
        return;
      }
      if (response.status === 404) throw new Error("404: the server no longer has this answer");
      if (!response.ok) throw new Error(`${response.status}: ${await response.text()}`);
      // Only a logged answer is resumable, and the server names it in this header (with
      // SHOWCASE_ANSWER_LOG=off there is none: the plain answer of before, Stop aborts it).
      session.id ??= response.headers.get("X-Answer-Id");
      remember(session);
      const read = APIS[session.api].reader();
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
          session.text += token;
          session.tokens += 1;
          tokens += 1;
        }
        if (result.tokens.length) {
          show("tokens", session.tokens);
          const seconds = (performance.now() - first) / 1000;
          if (seconds > 0 && tokens > 1) show("rate", ((tokens - 1) / seconds).toFixed(1));
        }
        if (result.ids.length) session.lastId = result.ids.at(-1);
        if (result.cancelled) outcome = "cancelled";
        else if (result.done && outcome !== "cancelled") outcome = "done";
        remember(session);
        Object.assign(root.dataset, { answerId: session.id ?? "", lastId: session.lastId ?? "" });
        tap?.read(value, result);
      }
    } catch (error) {
      const reason = mine.signal.reason; // Stop may say why it had to abort
      if (mine.signal.aborted) outcome = typeof reason === "string" ? reason : "stopped";
      else outcome = `error: ${error.message}`.slice(0, 200);
    } finally {
      if (leaving) outcome = "stopped"; // a reload cut it: the session stays, to be resumed
      lease.release();
      tap?.end(outcome);
      if (current?.controller === mine) {
        current = null;
        end(session, outcome);
      }
      keepPolling();
    }
  };

  // Follow a known answer by id from `session.lastId` (null: from the start), the resume
  // visible in the wire view.
  const reattach = (session) => {
    const { url, headers } = APIS[session.api].follow(urls, session.id, session.lastId);
    const mode = session.api === "openai" ? "sse" : session.api;
    const tap = wire && showFetch(wire, { url, headers, mode, after: session.lastId });
    return follow(session, (signal) => fetch(url, { headers, cache: "no-store", signal }), tap);
  };

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const api = String(data.get("api"));
    const speed = Math.min(100, Math.max(0.1, Number(data.get("speed")) || 1));
    const question = String(data.get("question"));
    const session = { api, question, id: null, lastId: null, text: "", tokens: 0, owner: true };
    save(sessionStorage, SESSION_KEY, null); // a new question: the last answer is not resumed
    follow(session, (signal) =>
      fetch(urls[api], {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(APIS[api].body(question, speed)),
        signal,
      }),
    );
  });

  // Stop: a resumable answer is cancelled on the server (its stream then ends with the
  // cancelled chunk); any other is aborted here.
  stopButton.addEventListener("click", async () => {
    const session = current?.session;
    const cancel = session?.id && APIS[session.api].cancel;
    if (!cancel) {
      current?.controller.abort();
      return;
    }
    stopButton.disabled = true;
    const lease = budget.acquire();
    if (!lease) current.controller.abort(); // every connection is taken: free the stream's
    try {
      const response = await fetch(cancel(urls, session.id), { method: "POST" });
      if (!response.ok) throw new Error(`${response.status}`);
    } catch (error) {
      current?.controller.abort(`stopped here: the cancel failed (${error.message})`);
    } finally {
      lease?.release();
    }
  });

  root.querySelector('[data-action="chat-join"]').addEventListener("click", () => {
    const live = load(localStorage, LIVE_KEY);
    if (!live) return offerJoin();
    const { id, api, question } = live;
    reattach({ id, api, question, lastId: null, text: "", tokens: 0, owner: false, joined: true });
  });
  window.addEventListener("storage", (event) => {
    if (event.key === LIVE_KEY || event.key === null) offerJoin();
  });

  // A reload: this tab's answer, as it was; still running on the server, follow the rest.
  const saved = load(sessionStorage, SESSION_KEY);
  if (saved?.id && APIS[saved.api]?.follow) {
    if (saved.over) {
      form.elements.question.value = saved.question;
      form.elements.api.value = saved.api;
      answer.textContent = saved.text;
      show("tokens", saved.tokens);
      Object.assign(root.dataset, { api: saved.api, answerId: saved.id, lastId: saved.lastId ?? "", finish: saved.over });
      setState(saved.over.startsWith("error") ? "error" : "done", saved.over);
    } else {
      reattach(saved);
    }
  }
  offerJoin();
  window.showcaseChat = { root }; // for a curious learner's console
}

function camel(name) {
  return name.replace(/-([a-z])/g, (_, letter) => letter.toUpperCase());
}
