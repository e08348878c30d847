"""WebSocket with flask-sock: echoes each text message; messages and idle time are bounded."""

from flask import Flask
from flask_sock import Sock

app = Flask(__name__)
app.config["SOCK_SERVER_OPTIONS"] = {"ping_interval": 25, "max_message_size": 64 * 1024}
sock = Sock(app)


@sock.route("/ws")
def ws(connection):
    while True:
        text = connection.receive()  # ends the loop with ConnectionClosed when the client goes
        connection.send(f"echo: {text}")
