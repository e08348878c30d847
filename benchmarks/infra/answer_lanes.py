"""The answers benchmark's servers: one ``showcase serve`` per lane (plain, memory) and two
sharing a ``redis-server`` (redis), pinned when asked and stopped by PID; the Redis commands
they ran (INFO commandstats) and the machine's TCP counters that explain a slow connect."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.infra.harness import RESULTS_DIR, Target
from benchmarks.infra.hub_redis import RedisServer, start_redis

OWN_COMMANDS = ("info", "memory", "scan", "ping", "client", "hello")  # the benchmark's own
KERNEL_COUNTERS = ("ListenOverflows", "ListenDrops", "TCPSynRetrans", "TCPTimeouts")


@dataclass
class Lane:
    """One lane's servers: ``start`` takes the answers, ``other`` resumes and cancels them
    (the same server but for Redis, where it is the second server sharing the Redis)."""

    name: str
    start: Target
    other: Target
    redis: RedisServer | None = None


def redis_client(server: RedisServer | None) -> Any:
    if server is None:
        return None
    import redis

    return redis.Redis(port=server.port, socket_timeout=10)


def command_calls(client: Any) -> dict[str, int]:
    """Calls per command (INFO commandstats), the benchmark's own commands left out."""
    stats = client.info("commandstats")
    calls = {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()}
    return {name: n for name, n in calls.items() if name.split("|")[0] not in OWN_COMMANDS}


def net_bytes(client: Any) -> int:
    """Bytes the redis-server has read from and written to its clients (INFO stats): the
    benchmark's own INFO calls add a few KiB to a batch."""
    stats = client.info("stats")
    return int(stats["total_net_input_bytes"]) + int(stats["total_net_output_bytes"])


def tcp_counters() -> dict[str, int]:
    """The machine's TcpExt counters that explain a connect taking a second (a SYN dropped
    by a full accept queue and sent again): system-wide, other processes' connections too."""
    try:
        lines = Path("/proc/net/netstat").read_text().splitlines()
    except OSError:
        return {}
    for names, values in zip(lines[::2], lines[1::2], strict=False):
        if names.startswith("TcpExt:"):
            table = dict(zip(names.split()[1:], values.split()[1:], strict=False))
            return {k: int(table[k]) for k in KERNEL_COUNTERS if k in table}
    return {}


def start_target(name: str, env: dict[str, str], cpu: int | None) -> tuple[Target, Any]:
    from showcase.tools.launcher import start_server

    log_path = RESULTS_DIR / "logs" / f"answers-{name}-{os.getpid()}-{time.time_ns()}.log"
    server = start_server(log_path, workers=1, env=env, cpu=cpu)
    settings = {"own": True, "workers": 1, "worker_class": "gevent", "env": env, "server_cpu": cpu}
    return Target(server.url, [server.pid], settings), server


@contextmanager
def lane_servers(lanes: Sequence[str], cpu: int | None) -> Iterator[dict[str, Lane]]:
    """Every lane's servers (and the redis-server), pinned to ``cpu`` when given; all
    stopped by PID at the end."""
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="answers-redis-") as workdir:
        started: dict[str, Lane] = {}

        def serve(name: str, env: dict[str, str]) -> Target:
            target, server = start_target(name, env, cpu)
            stack.callback(server.stop)
            return target

        if "plain" in lanes:
            target = serve("plain", {"SHOWCASE_ANSWER_LOG": "off", "SHOWCASE_BROKER": "memory"})
            started["plain"] = Lane("plain", target, target)
        if "memory" in lanes:
            target = serve("memory", {"SHOWCASE_ANSWER_LOG": "on", "SHOWCASE_BROKER": "memory"})
            started["memory"] = Lane("memory", target, target)
        if "redis" in lanes:
            redis = start_redis(Path(workdir), cpu=cpu)
            stack.callback(redis.stop)
            env = {"SHOWCASE_ANSWER_LOG": "on", "SHOWCASE_BROKER": redis.url}
            first, second = serve("redis-a", env), serve("redis-b", env)
            started["redis"] = Lane("redis", first, second, redis)
        yield started
