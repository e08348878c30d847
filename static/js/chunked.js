// Chunked plain text with fetch(): every read() is shown as it arrived. Reads are not
// messages; for the `ticks` source the page splits lines itself ("\n" is the only framing),
// and for `text` there is no framing at all, so messages cannot be counted.

import { readBody, streamUrl, visibleText } from "./fetchbody.js";
import { LineSplitter } from "./lines.js";

const TICK = /^tick (\d+) (\d+(?:\.\d+)?) /;

export async function run(panel, params, signal) {
  const splitter = new LineSplitter();
  const framed = params.source === "ticks";
  panel.unframed = !framed;
  let split = 0;
  const started = performance.now();
  await readBody(panel, streamUrl(panel.urls.chunked, params), signal, (bytes) => {
    const text = splitter.decode(bytes);
    panel.row(
      [`read ${panel.stats.reads}`, "k"],
      [` +${Math.round(performance.now() - started)} ms`, "dim"],
      [` ${bytes.byteLength} B `, ""],
      [visibleText(text), "bytes"],
    );
    if (!framed) return;
    const result = splitter.feedText(text);
    split += result.split;
    panel.extra["split-lines"] = split;
    for (const line of result.lines) {
      const match = TICK.exec(line);
      if (match) panel.message(Number(match[1]), Number(match[2]));
    }
  });
  return framed ? "done: body ended" : "done: no framing, so no message count";
}
