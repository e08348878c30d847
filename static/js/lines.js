// Lines out of a byte stream that arrives in arbitrary pieces: the end of a read is kept and
// completed by the next one. A read is not a line, and a line is not a read.

export class LineSplitter {
  constructor() {
    this.decoder = new TextDecoder(); // stream mode: a UTF-8 character split across reads survives
    this.rest = "";
  }

  // The text of `bytes` (decode() once per read, and only here).
  decode(bytes) {
    return this.decoder.decode(bytes, { stream: true });
  }

  // { lines, split, carried }: complete lines (without "\n" or "\r\n"), how many of them began
  // in an earlier read (0 or 1), and how many characters wait for the next read.
  feedText(text) {
    const parts = (this.rest + text).split("\n");
    const started = this.rest.length > 0;
    this.rest = parts.pop();
    const lines = parts.map((line) => (line.endsWith("\r") ? line.slice(0, -1) : line));
    return { lines, split: started && lines.length > 0 ? 1 : 0, carried: this.rest.length };
  }

  // End of the body: the unfinished last line, if any ("" when the body ended cleanly).
  close() {
    const rest = this.rest + this.decoder.decode();
    this.rest = "";
    return rest;
  }
}
