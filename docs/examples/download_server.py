"""A large file: send_from_directory refuses names outside the folder, sets Content-Length and
answers Range requests, and lets gunicorn use sendfile."""

import os

from flask import Flask, send_from_directory

app = Flask(__name__)
FOLDER = os.environ.get("DOWNLOAD_FOLDER", "downloads")


@app.get("/download/<name>")
def download(name):
    return send_from_directory(FOLDER, name, as_attachment=True)
