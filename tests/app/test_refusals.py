"""One refusal type, answered in one place: each API's JSON shape with the refusal's status."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from flask import Flask

from showcase.pure.refusal import Refusal
from showcase.web.refusals import refusal_response

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("shape", "body"),
    [
        ("contract", {"error": "invalid parameter", "field": "model", "detail": "bad"}),
        (
            "openai",
            {
                "error": {
                    "message": "bad",
                    "type": "invalid_request_error",
                    "param": "model",
                    "code": "invalid_type",
                }
            },
        ),
        ("ndjson", {"error": "bad", "param": "model"}),
        ("coze", {"code": 4000, "msg": "bad", "param": "model"}),
    ],
)
def test_each_shape_carries_the_refusal(app: Flask, shape: str, body: dict[str, object]) -> None:
    with app.app_context():
        response = refusal_response(Refusal("model", "bad", code="invalid_type"), shape)
    assert response.status_code == 400
    assert response.get_json() == body


def test_a_gateway_failure_keeps_its_status_and_reason(app: Flask) -> None:
    failure = Refusal("upstream", "no answer", status=504, error="upstream_timeout")
    with app.app_context():
        contract = refusal_response(failure)
        coze = refusal_response(failure, "coze")
    assert (contract.status_code, coze.status_code) == (504, 504)
    assert contract.get_json()["error"] == "upstream_timeout"
    assert coze.get_json() == {"code": 5000, "msg": "no answer", "reason": "upstream_timeout"}


def test_a_401_says_how_to_authenticate(app: Flask) -> None:
    with app.app_context():
        response = refusal_response(Refusal("Authorization", "token needed", status=401))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.get_json()["error"] == "unauthorized"


def test_no_other_exception_of_the_package_carries_a_status() -> None:
    """Refusals are ``Refusal``: no second exception class with a status of its own. The
    client's ``HTTPStatusError`` is the status a server answered, read on the other side."""
    carriers = []
    for path in (ROOT / "showcase").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and any(
                isinstance(base, ast.Name) and base.id.endswith(("Error", "Exception"))
                for base in node.bases
            ):
                source = ast.unparse(node)
                if "self.status =" in source and node.name not in ("Refusal", "HTTPStatusError"):
                    carriers.append(f"{path.name}:{node.name}")
    assert carriers == []
