"""WebSocket client (the websockets package's sync client): sends three messages, prints the
answers. Usage: python ws_client.py ws://HOST:PORT/ws"""

import sys

from websockets.sync.client import connect

with connect(sys.argv[1], open_timeout=5, close_timeout=5) as websocket:
    for n in range(3):
        websocket.send(f"hello {n}")
        print(websocket.recv(timeout=10), flush=True)
