"""Where the page's files are: templates/, static/ and the guide's docs/.

They live at the top of the repository. A checkout (or its editable install) serves them from
there, so an edit shows at once; a wheel carries a copy in ``showcase/_assets`` (setup.py
copies them at build time), which an installed package serves instead.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[2]  # showcase/web/assets.py -> the top
# Built into the wheel only: absent from a checkout, so the two never disagree.
PACKAGED = Path(str(files("showcase") / "_assets"))
FOLDERS = ("templates", "static", "docs")


def is_asset_root(folder: Path) -> bool:
    """``folder`` holds the page's templates/ and static/ (docs/ may be missing: the page then
    says the guide is not written yet)."""
    return (folder / "templates").is_dir() and (folder / "static").is_dir()


def find_asset_root() -> Path:
    """The checkout's top when this package runs from one, else the copy inside the package
    (create_app refuses to start when that is missing too)."""
    return CHECKOUT if is_asset_root(CHECKOUT) else PACKAGED
