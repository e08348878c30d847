// Chunked text in the browser: fetch and decode the body as it arrives. A read is whatever
// the network delivered, not a message: keep your own delimiter if you need messages.
async function readText(url, onText) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`GET ${url}: ${response.status}`);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    onText(value);
  }
}
readText("/chunked", (text) => console.log(text));
