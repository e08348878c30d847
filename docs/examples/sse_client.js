// SSE in the browser: EventSource reconnects by itself, sending the last id it saw as
// Last-Event-ID; a 204 from the server (or close()) stops it.
const source = new EventSource("/sse");
source.onmessage = (event) => console.log(event.lastEventId, event.data);
source.onerror = () => {
  if (source.readyState === EventSource.CLOSED) console.log("closed");
};
