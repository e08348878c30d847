"""The broadcast hub: rooms, their bounded logs, subscriptions and the brokers behind them.

Pure: no Flask, no gevent, no sockets; waiting goes through ``threading.Event``, which the
gevent worker's monkey-patching makes cooperative.
"""
