"""A burst of subscribes on one worker with the Redis broker: every one joins, over a bounded
number of Redis connections. redis-py's default pool refuses a 101st connection at once
("Too many connections"), so a burst of joins (the hub benchmark's 20,000 subscribers, a
reconnect storm) ended most new streams with ``event: error`` instead of waiting its turn;
and every new subscriber asked Redis for its room's last id, even of a room already read."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.infra.hub_redis import RedisServer, start_redis

pytestmark = pytest.mark.integration

BURST = """
from gevent import monkey

monkey.patch_all()
import json, sys, gevent, redis
from showcase.hub.broker import BrokerUnavailable
from showcase.hub.redis_broker import RedisBroker

broker = RedisBroker(sys.argv[1])
results = []

def one(index):
    try:
        broker.subscribe("burst", None)
        results.append("joined")
    except BrokerUnavailable as error:
        results.append(str(error))

def xinfo_calls(client):
    stats = client.info("commandstats").get("cmdstat_xinfo|stream", {})
    return stats.get("calls", 0)

greenlets = [gevent.spawn(one, i) for i in range(int(sys.argv[2]))]
gevent.joinall(greenlets, timeout=60)
client = redis.Redis.from_url(sys.argv[1])
clients = client.info("clients")["connected_clients"]
before = xinfo_calls(client)
for _ in range(50):  # new subscribers of a room this process already reads
    broker.subscribe("burst", None)
print(json.dumps({"results": results, "clients": clients, "xinfo": xinfo_calls(client) - before}))
"""


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = start_redis(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


def test_a_burst_of_subscribes_all_join_over_few_connections(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", BURST, redis_server.url, "400"],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    refused = [r for r in report["results"] if r != "joined"]
    assert refused == [] and len(report["results"]) == 400
    # The pool's bound, the reader's connection and the one counting them.
    assert report["clients"] <= 34
    # A room the reader already follows: a new subscriber starts live, no Redis round trip.
    assert report["xinfo"] == 0
