"""Chunked plain text: no Content-Length, so HTTP/1.1 sends each piece as a chunk."""

import time

from flask import Flask, Response

app = Flask(__name__)
COUNT, INTERVAL_S = 5, 0.5


@app.get("/chunked")
def chunked():
    def pieces():
        for n in range(COUNT):
            yield f"message {n}\n"
            time.sleep(INTERVAL_S)

    # nosniff: without it a browser holds back the first bytes of text/plain to sniff them
    headers = {"X-Content-Type-Options": "nosniff", "X-Accel-Buffering": "no"}
    return Response(pieces(), mimetype="text/plain", headers=headers)
