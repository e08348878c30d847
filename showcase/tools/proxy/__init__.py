"""nginx in front of the app (``showcase proxy``): the locations side by side, the config
generated for them, and nginx run as a child process. No Flask imports here."""

from __future__ import annotations

from showcase.tools.proxy.config import render_config
from showcase.tools.proxy.locations import LOCATIONS, Location, find_location
from showcase.tools.proxy.nginx import NginxError, Proxy, find_nginx, start_proxy

__all__ = [
    "LOCATIONS",
    "Location",
    "NginxError",
    "Proxy",
    "find_location",
    "find_nginx",
    "render_config",
    "start_proxy",
]
