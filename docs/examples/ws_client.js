// WebSocket in the browser: ws:// (or wss:// under https) on the page's own host.
const socket = new WebSocket(new URL("/ws", location.href.replace(/^http/, "ws")));
socket.onopen = () => {
  for (const n of [0, 1, 2]) socket.send(`hello ${n}`);
};
socket.onmessage = (event) => console.log(event.data);
socket.onclose = (event) => console.log("closed", event.code);
