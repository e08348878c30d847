"""The broadcast hub: rooms, their bounded logs, subscriptions and the brokers behind them.

Rooms, logs, the memory broker and the streams' source import no Flask, gevent, Redis client
or socket module; waiting goes through ``threading.Event``, which the gevent worker's
monkey-patching makes cooperative. Two modules reach the network: ``redis_broker`` (Redis
Streams through redis-py's sockets) and ``direct`` (writes into subscribers' client sockets,
which gunicorn hands it).
"""
