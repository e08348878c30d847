"""Long polling: GET /poll?after=<last id> answers once a newer message exists, or with [] after
WAIT_S. Here message n appears n * INTERVAL_S after start; a real app waits on its queue."""

import time

from flask import Flask, jsonify, request

app = Flask(__name__)
START, INTERVAL_S, WAIT_S = time.time(), 0.5, 20.0


@app.get("/poll")
def poll():
    after = min(max(request.args.get("after", -1, type=int), -1), 10**9)  # the last id it has
    due = START + (after + 1) * INTERVAL_S  # when the next message appears
    time.sleep(max(0.0, min(due, time.time() + WAIT_S) - time.time()))
    latest = int((time.time() - START) / INTERVAL_S)
    ids = range(max(after + 1, latest - 99), latest + 1)  # at most 100; [] on time-out
    return jsonify([{"id": n, "data": f"message {n}"} for n in ids])
