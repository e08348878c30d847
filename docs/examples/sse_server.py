"""SSE: five events with ids; a client that comes back resumes after its Last-Event-ID."""

import time

from flask import Flask, Response, request

app = Flask(__name__)
COUNT, INTERVAL_S = 5, 0.5


@app.get("/sse")
def sse():
    last = request.headers.get("Last-Event-ID", "")
    start = int(last) + 1 if last.isascii() and last.isdigit() and len(last) < 10 else 0
    if start >= COUNT:
        return "", 204  # nothing left: a 204 stops EventSource reconnecting

    def events():
        for n in range(start, COUNT):
            yield f"id: {n}\ndata: message {n}\n\n"
            time.sleep(INTERVAL_S)

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return Response(events(), mimetype="text/event-stream", headers=headers)
