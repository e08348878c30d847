// Long polling in the browser: ask for what is newer than the last id, again and again;
// wait a little after a failure so a server that is down is not hammered.
async function poll(url, onMessage) {
  let after = -1;
  for (;;) {
    try {
      const response = await fetch(`${url}?after=${after}`);
      if (!response.ok) throw new Error(`GET ${url}: ${response.status}`);
      for (const message of await response.json()) {
        onMessage(message);
        after = message.id;
      }
    } catch (error) {
      console.error(error);
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  }
}
poll("/poll", (message) => console.log(message.id, message.data));
