// NDJSON with fetch(): one JSON object per line. A line may end in the next read (or the one
// after), so the reader keeps the unfinished tail and completes it.

import { readBody, streamUrl } from "./fetchbody.js";
import { LineSplitter } from "./lines.js";

export async function run(panel, params, signal) {
  const splitter = new LineSplitter();
  let split = 0;
  await readBody(panel, streamUrl(panel.urls.ndjson, params), signal, (bytes) => {
    const result = splitter.feedText(splitter.decode(bytes));
    split += result.split;
    let count = 0;
    for (const line of result.lines) {
      if (!line.trim()) continue; // a blank line is a heartbeat
      const message = JSON.parse(line);
      panel.message(message.seq, message.ts);
      count += 1;
    }
    panel.extra["split-lines"] = split;
    const carried = result.carried ? ` + ${result.carried} chars carried over` : "";
    const plural = count === 1 ? "line" : "lines";
    panel.row(
      [`read ${panel.stats.reads}`, "k"],
      [` ${bytes.byteLength} B → ${count} ${plural}`, ""],
      [carried, "warn"],
    );
  });
  if (splitter.close().trim()) throw new Error("the body ended in the middle of a line");
  return "done: body ended";
}
