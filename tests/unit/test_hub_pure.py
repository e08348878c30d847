"""The hub's broker layer imports no web stack: checked in a fresh interpreter."""

from __future__ import annotations

import pytest

from tests.unit.test_pure_imports import FORBIDDEN, _imported_by

HUB_MODULES = [
    "showcase.hub.event",
    "showcase.hub.log",
    "showcase.hub.room",
    "showcase.hub.broker",
    "showcase.hub.memory",
    "showcase.hub.source",
    "showcase.hub.redis_broker",
]


@pytest.mark.parametrize("module", HUB_MODULES)
def test_hub_module_imports_no_web_stack(module: str) -> None:
    assert _imported_by(module, FORBIDDEN) == []
