// The chat room: Join opens an EventSource on the room, Send POSTs a message with fetch().
// Every message is added as text (textContent), never as HTML: it is what another user typed.
// On a reconnect EventSource sends Last-Event-ID by itself; the server replays what followed
// it (after a `reset` event when it no longer holds that id), then sends the room's presence
// count: the messages of a connection that arrive before its first presence are its replay.

import { pageBudget } from "./budget.js";

const MAX_SHOWN = 500; // older messages leave the list, so a long session stays light

export function setupHub(root, urls) {
  const joinForm = root.querySelector("#hub-join");
  const sendForm = root.querySelector("#hub-send");
  const joinButton = root.querySelector('[data-action="join"]');
  const leaveButton = root.querySelector('[data-action="leave"]');
  const sendButton = root.querySelector('[data-action="send"]');
  const log = root.querySelector('[data-role="log"]');
  const status = root.querySelector('[data-role="status"]');
  const resume = root.querySelector('[data-role="resume"]');
  const sendStatus = root.querySelector('[data-role="send-status"]');
  const budget = pageBudget(); // the room's EventSource holds one of the origin's connections
  let source = null;
  let lease = null;
  let room = "";
  let user = "";
  let messages = 0;
  let opens = 0; // connections opened on this room: the second and later are reconnects
  let replaying = false; // this connection has not yet sent its presence
  let replayed = 0;
  let reset = null; // the reset event's data, when this connection began with one

  const show = (name, value) => {
    root.dataset[camel(name)] = String(value);
    const stat = root.querySelector(`[data-stat="${name}"]`);
    if (stat) stat.textContent = String(value);
  };
  const setState = (state, text) => {
    root.dataset.state = state;
    status.textContent = text ?? state;
  };

  const add = (data) => {
    const item = document.createElement("li");
    const who = document.createElement("span");
    who.className = "hub-user";
    who.textContent = data.user; // text, never HTML
    const text = document.createElement("span");
    text.className = "hub-text";
    text.textContent = data.text; // text, never HTML
    item.dataset.id = data.id;
    item.append(who, text);
    log.append(item);
    while (log.childElementCount > MAX_SHOWN) log.firstElementChild.remove();
    log.scrollTop = log.scrollHeight;
    messages += 1;
    show("messages", messages);
    root.dataset.lastId = data.id;
  };

  // The end of a reconnect's replay: say what happened, visibly.
  const finishReplay = () => {
    replaying = false;
    if (opens < 2) return; // the first connection of a room replays nothing
    const text = reset
      ? `reset (oldest id ${reset.oldest ?? "none"}, ${replayed} replayed)`
      : `resumed (${replayed} replayed)`;
    root.dataset.resume = reset ? "reset" : "resumed";
    root.dataset.replayed = String(replayed);
    resume.textContent = text;
  };

  const leave = () => {
    if (source) source.close();
    source = null;
    lease?.release();
    lease = null;
    joinButton.disabled = false;
    leaveButton.disabled = true;
    sendButton.disabled = true;
    setState("idle", "left");
  };

  joinForm.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!joinForm.reportValidity()) return;
    const data = new FormData(joinForm);
    leave();
    lease = budget.acquire();
    if (!lease) {
      setState("error", `no connection free: the page already holds ${budget.limit}, the most a browser opens to one origin over HTTP/1.1; stop a stream first`);
      return;
    }
    room = String(data.get("room"));
    user = String(data.get("user"));
    log.textContent = "";
    messages = 0;
    opens = 0;
    show("messages", 0);
    show("presence", "–");
    root.dataset.room = room;
    root.dataset.replayed = "";
    root.dataset.resume = "";
    root.dataset.lastId = "";
    resume.textContent = "–";
    setState("connecting", `connecting · ${room}`);
    const opened = new EventSource(`${urls.events}?room=${encodeURIComponent(room)}`);
    source = opened;
    opened.addEventListener("open", () => {
      if (source !== opened) return;
      opens += 1;
      replaying = true;
      replayed = 0;
      reset = null;
      setState("live", `live · ${room}`);
    });
    opened.addEventListener("message", (message) => {
      if (source !== opened) return;
      add(JSON.parse(message.data));
      if (replaying) replayed += 1;
    });
    opened.addEventListener("reset", (message) => {
      if (source !== opened) return;
      reset = JSON.parse(message.data);
    });
    opened.addEventListener("presence", (message) => {
      if (source !== opened) return;
      show("presence", JSON.parse(message.data).count);
      if (replaying) finishReplay();
    });
    opened.addEventListener("error", (message) => {
      if (source !== opened) return;
      // `event: error` from the server (the broker failed) carries data; a network error
      // does not. Either way EventSource reconnects by itself unless it gave up (CLOSED).
      if (message.data) setState("reconnecting", `server error: ${JSON.parse(message.data).reason}`.slice(0, 200));
      else if (opened.readyState === EventSource.CLOSED) setState("error", "error: gave up");
      else setState("reconnecting", "reconnecting…");
    });
    joinButton.disabled = true;
    leaveButton.disabled = false;
    sendButton.disabled = false;
  });

  leaveButton.addEventListener("click", leave);

  sendForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = sendForm.querySelector("input[name=text]");
    const text = input.value;
    if (!text || !room) return;
    const sending = budget.acquire(); // a POST waits for a free connection like any request
    if (!sending) {
      sendStatus.textContent = "not sent: " + `no connection free: the page already holds ${budget.limit}, the most a browser opens to one origin over HTTP/1.1; stop a stream first`;
      return;
    }
    sendStatus.textContent = "sending…";
    try {
      const response = await fetch(urls.send, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ room, user, text }),
      });
      const body = await response.json();
      if (response.status !== 202) throw new Error(`${response.status}: ${body.detail ?? body.error}`);
      input.value = "";
      sendStatus.textContent = `sent (id ${body.id})`;
    } catch (error) {
      sendStatus.textContent = `not sent: ${error.message}`.slice(0, 200);
    } finally {
      sending.release();
    }
  });
  window.showcaseHub = { root }; // for a curious learner's console
}

function camel(name) {
  return name.replace(/-([a-z])/g, (_, letter) => letter.toUpperCase());
}
