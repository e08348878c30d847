"""NDJSON: one JSON object per line, each sent as soon as it is ready."""

import json
import time

from flask import Flask, Response

app = Flask(__name__)
COUNT, INTERVAL_S = 5, 0.5


@app.get("/ndjson")
def ndjson():
    def lines():
        for n in range(COUNT):
            yield json.dumps({"id": n, "data": f"message {n}"}) + "\n"
            time.sleep(INTERVAL_S)

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return Response(lines(), mimetype="application/x-ndjson", headers=headers)
