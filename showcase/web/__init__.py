"""The Flask app: thin views over sources, framings and the download directory."""

from __future__ import annotations

import json
import os
from typing import Any

from flask import Flask
from werkzeug.exceptions import HTTPException
from werkzeug.sansio.response import Response

from showcase.pure.refusal import Refusal
from showcase.pure.settings import check_value, read_settings
from showcase.runtime.files import default_data_dir
from showcase.web.assets import find_asset_root, is_asset_root

# templates/, static/ and docs/: the checkout's, or the copy a wheel carries (web/assets.py).
ROOT = find_asset_root()


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app. Settings come from ``config``, then ``SHOWCASE_*`` environment variables,
    each held to its declaration in showcase/pure/settings.py (SettingError names a bad one).

    The page's templates/ and static/ come from ``ROOT``: the top of a checkout, or their copy
    in an installed wheel. Without either, refuse to start rather than serve 500s.
    """
    if not is_asset_root(ROOT):
        raise RuntimeError(
            f"templates/ and static/ not found in {ROOT}: run from a checkout (make run), "
            "or install a wheel that pip built (see README, 'The server')"
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

    from showcase.web import answers, baseline, chat, downloads, hub, page, poll, relay, streams, ws

    app.register_blueprint(streams.bp)
    app.register_blueprint(downloads.bp)
    app.register_blueprint(page.bp)
    app.register_blueprint(baseline.bp)
    app.register_blueprint(chat.bp)
    app.register_blueprint(answers.bp)
    app.register_blueprint(relay.bp)
    app.register_blueprint(hub.bp)
    app.register_blueprint(ws.bp)
    app.register_blueprint(poll.bp)
    app.register_error_handler(HTTPException, http_error_json)
    return app


def http_error_json(error: HTTPException) -> Response:
    """Errors the views did not answer themselves (404, 405, …) as the same JSON shape."""
    response = error.get_response()  # keeps headers such as a 416's Content-Range
    refusal = Refusal(
        None, error.description or "", status=error.code or 500, error=error.name.lower()
    )
    response.set_data(json.dumps(refusal.to_json()))
    response.content_type = "application/json"
    return response
