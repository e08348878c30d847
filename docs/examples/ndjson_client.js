// NDJSON in the browser: fetch, decode the body as it arrives, split it on "\n" and parse each
// complete line; a line cut between two reads waits in `buffered` for the rest.
async function readNdjson(url, onMessage) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`GET ${url}: ${response.status}`);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    const lines = (buffered + value).split("\n");
    buffered = lines.pop();
    for (const line of lines) if (line.trim()) onMessage(JSON.parse(line));
  }
  if (buffered.trim()) onMessage(JSON.parse(buffered));
}
readNdjson("/ndjson", (message) => console.log(message.id, message.data));
