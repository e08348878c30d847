"""The Flask app: thin views over sources, framings and the download directory."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.exceptions import HTTPException
from werkzeug.sansio.response import Response

from showcase.files import default_data_dir
from showcase.settings import check_value, read_settings

ROOT = Path(__file__).resolve().parent.parent.parent


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app. Settings come from ``config``, then ``SHOWCASE_*`` environment variables,
    each held to its declaration in showcase/settings.py (SettingError names a bad one).

    Runs from a checkout: templates/, static/ and docs/ sit at the top of the repository (one
    place for the page, the guide and the benchmarks that write it), not inside the package,
    so a wheel installed elsewhere has no page. Refuse to start then, rather than serve 500s.
    """
    if not (ROOT / "templates").is_dir() or not (ROOT / "static").is_dir():
        raise RuntimeError(
            f"templates/ and static/ not found in {ROOT}: showcase runs from a checkout "
            "(make run, or pip install -e . in a clone); see README, 'The server'"
        )
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    app.config.update(read_settings(os.environ))
    app.config["SHOWCASE_DATA_DIR"] = str(default_data_dir())
    # "/download//etc/passwd" should be refused, not redirected to a cleaned-up path.
    app.url_map.merge_slashes = False
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.config.update({key: check_value(key, value) for key, value in (config or {}).items()})

    from showcase.web import baseline, chat, downloads, hub, page, poll, relay, streams, ws

    app.register_blueprint(streams.bp)
    app.register_blueprint(downloads.bp)
    app.register_blueprint(page.bp)
    app.register_blueprint(baseline.bp)
    app.register_blueprint(chat.bp)
    app.register_blueprint(relay.bp)
    app.register_blueprint(hub.bp)
    app.register_blueprint(ws.bp)
    app.register_blueprint(poll.bp)
    app.register_error_handler(HTTPException, http_error_json)
    return app


def http_error_json(error: HTTPException) -> Response:
    """Errors the views did not answer themselves (404, 405, …) as the same JSON shape."""
    response = error.get_response()  # keeps headers such as a 416's Content-Range
    body = {"error": error.name.lower(), "field": None, "detail": error.description}
    response.set_data(json.dumps(body))
    response.content_type = "application/json"
    return response
