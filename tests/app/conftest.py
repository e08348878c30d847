"""The Flask app in-process, with its own download directory."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from showcase.web import create_app


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    return create_app({"SHOWCASE_DATA_DIR": str(tmp_path / "data"), "TESTING": True})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()
