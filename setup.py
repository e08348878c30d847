"""Builds the wheel with the page's files inside the package.

templates/, static/ and the guide (docs/) stay at the top of the repository, where a checkout
serves them from; ``build_py`` copies them into ``showcase/_assets/`` of the build, so an
installed wheel carries them (showcase/web/assets.py finds either). The rest is in setup.cfg.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
# Each folder and the files of it the page serves (the guide's links included).
ASSETS = {
    "templates": ("**/*.html",),
    "static": ("**/*",),
    "docs": ("*.md", "nginx.conf", "img/*.png", "results/*.json"),
}
TARGET = Path("showcase", "_assets")


class BuildWithAssets(build_py):
    """``build_py`` plus the copy; an editable install skips it (it serves the checkout's)."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        for folder, patterns in ASSETS.items():
            for pattern in patterns:
                for source in sorted((HERE / folder).glob(pattern)):
                    if source.is_file():
                        relative = source.relative_to(HERE)
                        destination = Path(self.build_lib, TARGET, relative)
                        destination.parent.mkdir(parents=True, exist_ok=True)
                        shutil.copy2(source, destination)


setup(cmdclass={"build_py": BuildWithAssets})
