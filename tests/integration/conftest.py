"""Fixtures shared by the integration tests that need more than the session's server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from benchmarks.infra.hub_redis import RedisServer, start_redis


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A redis-server of the module's own (no persistence), stopped after its tests."""
    server = start_redis(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()
