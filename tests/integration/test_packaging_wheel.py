"""The package as a wheel, installed outside a checkout: the page's templates and static
files are found, or the app refuses to start and says to run from a checkout (and the
README says why). Never what a plain ``pip install .`` gave before: an app whose every page
is a 500."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = [pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[2]
PAGE_FILES = ("/", "/static/js/main.js", "/static/css/page.css")
# Run in a fresh interpreter whose only copy of showcase is the unpacked wheel.
PROBE = """
import json, showcase
from showcase.web import create_app
result = {"package": showcase.__file__}
try:
    app = create_app()
except Exception as error:
    result["refused"] = f"{type(error).__name__}: {error}"
else:
    client = app.test_client()
    result["status"] = {path: client.get(path).status_code for path in PATHS}
print(json.dumps(result))
"""


def copy_source_tree(target: Path) -> None:
    """The files git would ship from this working tree (tracked or new, never ignored), so
    the build writes its build/ and egg-info into a copy, not into the shared checkout."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, listed):
        source = ROOT / os.fsdecode(name)
        if source.is_file():  # a tracked file deleted in the working tree is skipped
            destination = target / os.fsdecode(name)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination)


@pytest.fixture(scope="module")
def installed_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel ``pip wheel .`` builds from this tree, unpacked as site-packages would be."""
    work = tmp_path_factory.mktemp("wheel")
    source, dist, site = work / "source", work / "dist", work / "site"
    copy_source_tree(source)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(source)],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = dist.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    return site


def test_an_installed_wheel_serves_the_page_or_says_to_run_from_a_checkout(
    installed_wheel: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"  # not a checkout: no templates/ or static/ around
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(installed_wheel), "SHOWCASE_DATA_DIR": str(tmp_path)}
    probe = f"PATHS = {PAGE_FILES!r}\n{PROBE}"
    ran = subprocess.run(
        [sys.executable, "-P", "-c", probe],  # -P: the current directory is not on sys.path
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ran.returncode == 0, ran.stderr
    result = json.loads(ran.stdout.strip().splitlines()[-1])
    assert Path(result["package"]).is_relative_to(installed_wheel), result["package"]
    if "refused" in result:
        # The checkout route: a clear refusal at start, and the README says why.
        assert "checkout" in result["refused"], result["refused"]
        readme = (ROOT / "README.md").read_text(encoding="utf-8").lower()
        assert "from a checkout" in readme
    else:
        # The wheel route: the page and its scripts and styles come from the package.
        assert result["status"] == dict.fromkeys(PAGE_FILES, 200)
