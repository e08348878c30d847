"""The package as a wheel, installed into a fresh virtual environment outside the checkout:
``showcase serve`` serves the page, its static files, the guide and the streams from the
copies the wheel carries, and ``showcase bench`` says where the benchmarks are instead of
failing with a traceback. Also what the wheel and the sdist carry."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from showcase.tools.launcher import LISTENING
from showcase.tools.processes import stop_process

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[2]
BUILD_TIMEOUT_S = 240
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 15.0
# What the page serves from the folders at the top of a checkout, as the wheel must carry them.
ASSETS = (
    "templates/index.html",
    "templates/guide.html",
    "static/js/main.js",
    "static/css/page.css",
    "docs/choosing.md",
    "docs/img/latency.png",
)


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


def run_pip(*args: str, cwd: Path | None = None) -> None:
    """This interpreter's pip (``--python`` points it at another environment)."""
    ran = subprocess.run(
        [sys.executable, "-m", "pip", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder holding the wheel ``pip wheel .`` and the sdist setuptools' PEP 517 backend
    build from a copy of this tree."""
    work = tmp_path_factory.mktemp("wheel")
    source, dist = work / "source", work / "dist"
    copy_source_tree(source)
    run_pip("wheel", "--no-deps", "-q", "-w", str(dist), str(source))
    sdist = subprocess.run(
        [
            sys.executable,
            "-c",
            f"from setuptools import build_meta; build_meta.build_sdist({str(dist)!r})",
        ],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
    )
    assert sdist.returncode == 0, sdist.stdout + sdist.stderr
    return dist


@pytest.fixture(scope="module")
def venv(built: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment holding the wheel. Its dependencies come from this
    environment's site-packages through a .pth line, after the venv's own: a path added that
    way has its own .pth files (this checkout's editable install) left unread, so the only
    showcase it can import is the wheel's."""
    (wheel,) = built.glob("*.whl")
    target = tmp_path_factory.mktemp("venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(target)], check=True)
    python = target / "bin" / "python"
    run_pip("--python", str(python), "install", "--no-deps", "-q", str(wheel))
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(site, "shared_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return target


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    """A working directory that is no checkout: no templates/, static/ or docs/ around."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    return folder


@pytest.fixture
def installed_server(venv: Path, elsewhere: Path, tmp_path: Path) -> Iterator[str]:
    """``<venv>/bin/showcase serve`` on a free loopback port; its URL. Stopped by PID."""
    log_path = tmp_path / "server.log"
    env = {**os.environ, "SHOWCASE_DATA_DIR": str(tmp_path / "data")}
    env.pop("PYTHONPATH", None)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [venv / "bin" / "showcase", "serve", "--bind", "127.0.0.1:0"],
            cwd=elsewhere,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not (match := LISTENING.search(log_path.read_text(errors="replace"))):
            assert process.poll() is None, log_path.read_text(errors="replace")
            assert time.monotonic() < deadline, log_path.read_text(errors="replace")
            time.sleep(0.05)
        yield match.group(1)
    finally:
        stop_process(process, STOP_TIMEOUT_S)


def test_the_wheel_carries_the_page_and_the_guide_but_not_the_benchmarks(built: Path) -> None:
    (wheel,) = built.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for asset in ASSETS:
        assert f"showcase/_assets/{asset}" in names, asset
    assert not any(name.startswith("benchmarks/") for name in names)


def test_the_sdist_carries_the_page_and_the_guide(built: Path) -> None:
    (sdist,) = built.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for asset in (*ASSETS, "setup.py", "MANIFEST.in"):
        assert asset in names, asset
    # A wheel built from the sdist (as `python -m build` does) finds every file it copies.
    (wheel,) = built.glob("*.whl")
    prefix = "showcase/_assets/"
    listed = zipfile.ZipFile(wheel).namelist()
    carried = {name.removeprefix(prefix) for name in listed if name.startswith(prefix)}
    assert carried and carried <= names, carried - names


def test_the_venv_imports_only_the_wheels_showcase(venv: Path, elsewhere: Path) -> None:
    ran = subprocess.run(
        [venv / "bin" / "python", "-c", "import showcase; print(showcase.__file__)"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(ran.stdout.strip()).is_relative_to(venv), ran.stdout


def test_an_installed_wheel_serves_the_page_its_files_the_guide_and_a_stream(
    installed_server: str,
) -> None:
    page = requests.get(f"{installed_server}/", timeout=10)
    assert page.status_code == 200
    assert "/static/js/main.js" in page.text and "/guide/" in page.text
    script = requests.get(f"{installed_server}/static/js/main.js", timeout=10)
    assert script.status_code == 200
    assert script.content == (ROOT / "static" / "js" / "main.js").read_bytes()
    styles = requests.get(f"{installed_server}/static/css/page.css", timeout=10)
    assert styles.status_code == 200
    assert styles.content == (ROOT / "static" / "css" / "page.css").read_bytes()
    guide = requests.get(f"{installed_server}/guide/", timeout=10)
    assert guide.status_code == 200
    assert "<h1 id=" in guide.text and "<table>" in guide.text
    plot = requests.get(f"{installed_server}/guide/img/latency.png", timeout=10)
    assert plot.status_code == 200
    assert plot.headers["Content-Type"] == "image/png"
    linked = requests.get(f"{installed_server}/guide/chat.md", timeout=10)
    assert linked.status_code == 200
    assert "<h1 id=" in linked.text
    result = requests.get(f"{installed_server}/guide/results/latency.json", timeout=10)
    assert result.status_code == 200
    assert result.json() == json.loads((ROOT / "docs" / "results" / "latency.json").read_bytes())
    stream = requests.get(f"{installed_server}/stream/ndjson?count=3&interval=0", timeout=10)
    assert stream.status_code == 200
    assert len(stream.text.splitlines()) == 3


def test_bench_from_an_installed_package_says_where_the_benchmarks_are(
    venv: Path, elsewhere: Path
) -> None:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    ran = subprocess.run(
        [venv / "bin" / "showcase", "bench", "latency"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ran.returncode != 0
    assert "Traceback" not in ran.stderr
    lines = ran.stderr.strip().splitlines()
    assert len(lines) == 1, ran.stderr
    assert "checkout" in lines[0] and "benchmarks/" in lines[0], lines[0]
