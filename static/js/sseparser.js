// An incremental Server-Sent Events parser, as the WHATWG HTML spec (§9.2.6) describes it:
// lines end at CRLF, CR or LF (a CRLF may be split across reads), ":" starts a comment,
// a blank line dispatches the event. feed(bytes) returns the events those bytes complete.

const LINE_END = /\r\n|\r|\n/g;

export class SSEParser {
  constructor() {
    this.decoder = new TextDecoder(); // UTF-8, and it drops a leading BOM once
    this.buffer = "";
    this.skipLF = false; // the last read ended with CR: a leading LF belongs to it
    this.data = [];
    this.type = "";
    this.idBuffer = ""; // set by an id field; it becomes lastId only when an event dispatches
    this.lastId = ""; // persists across events and connections, as in EventSource
    this.retry = null;
    this.comments = 0;
  }

  feed(bytes) {
    let text = this.decoder.decode(bytes, { stream: true });
    if (!text) return [];
    if (this.skipLF && text.startsWith("\n")) text = text.slice(1);
    this.skipLF = false;
    this.buffer += text;
    const events = [];
    let start = 0;
    LINE_END.lastIndex = 0;
    for (let match; (match = LINE_END.exec(this.buffer)); ) {
      if (match[0] === "\r" && match.index === this.buffer.length - 1) this.skipLF = true;
      this.line(this.buffer.slice(start, match.index), events);
      start = LINE_END.lastIndex;
    }
    this.buffer = this.buffer.slice(start);
    return events;
  }

  // End of the stream: an event without its blank line is not dispatched (spec), and none of
  // it may leak into the next connection's first event. lastId and retry stay, as in
  // EventSource, for the reconnection.
  close() {
    this.decoder.decode(); // flushes, so the next stream starts afresh (and may have a BOM)
    this.buffer = "";
    this.skipLF = false;
    this.data = [];
    this.type = "";
    // An id of an event never dispatched must not be resumed after: its event was lost.
    this.idBuffer = this.lastId;
    return [];
  }

  line(line, events) {
    if (line === "") {
      this.lastId = this.idBuffer; // §9.2.6: committed at dispatch, even with no data
      if (this.data.length) {
        events.push({ type: this.type || "message", data: this.data.join("\n"), id: this.lastId });
      }
      this.data = [];
      this.type = "";
      return;
    }
    if (line.startsWith(":")) {
      this.comments += 1; // heartbeats: they keep the connection alive, and that is all
      return;
    }
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") this.data.push(value);
    else if (field === "event") this.type = value;
    else if (field === "id" && !value.includes("\0")) this.idBuffer = value;
    else if (field === "retry" && /^[0-9]+$/.test(value)) this.retry = Number(value);
  }
}
