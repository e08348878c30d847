"""The run directory of ``showcase proxy`` (which may run as root): made 0700 and per user,
refused when it is not ours alone, nothing written or trusted through a symlink."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from showcase.tools.proxy.command import DEFAULT_RUN_DIR
from showcase.tools.proxy.nginx import run_directory, spawn_nginx
from showcase.tools.proxy.rundir import RunDirError, write_private_file
from showcase.tools.proxy.tls import ensure_certificate

ROOT = Path(__file__).resolve().parents[2]
OTHER_UID = 65534  # nobody
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to chown to another uid")


def mode_of(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def use_run_dir(run_dir: Path) -> Path:
    with run_directory(run_dir) as run:
        return run


@pytest.fixture
def private_dir(tmp_path: Path) -> Path:
    run_dir = tmp_path / "run"
    run_dir.mkdir(mode=0o700)
    return run_dir


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port something listens on: a command that got past the run-directory check
    stops at "is taken" instead of starting the app and nginx."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_the_default_run_dir_is_per_user() -> None:
    assert DEFAULT_RUN_DIR.name == f"showcase-proxy-{os.getuid()}"


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o000], ids=oct)
def test_a_missing_run_dir_is_made_0700(tmp_path: Path, umask: int) -> None:
    old = os.umask(umask)
    try:
        run = use_run_dir(tmp_path / "parent" / "run")
    finally:
        os.umask(old)
    assert run == tmp_path / "parent" / "run"
    assert mode_of(run) == 0o700
    assert os.lstat(run).st_uid == os.geteuid()


def test_an_existing_private_run_dir_is_used(private_dir: Path) -> None:
    assert use_run_dir(private_dir) == private_dir


@pytest.mark.parametrize("mode", [0o755, 0o777, 0o1777, 0o750, 0o701], ids=oct)
def test_a_run_dir_open_to_others_is_refused(private_dir: Path, mode: int) -> None:
    private_dir.chmod(mode)
    with pytest.raises(RunDirError, match="expected 0700"):
        use_run_dir(private_dir)


def test_a_symlinked_run_dir_is_refused(tmp_path: Path, private_dir: Path) -> None:
    link = tmp_path / "link"
    link.symlink_to(private_dir)
    with pytest.raises(RunDirError, match="symlink"):
        use_run_dir(link)


@as_root
def test_a_run_dir_of_another_user_is_refused(private_dir: Path) -> None:
    os.chown(private_dir, OTHER_UID, OTHER_UID)
    with pytest.raises(RunDirError, match=f"belongs to uid {OTHER_UID}"):
        use_run_dir(private_dir)


def test_the_config_is_never_written_through_a_planted_symlink(
    tmp_path: Path, private_dir: Path
) -> None:
    target = tmp_path / "victim"
    target.write_text("precious\n")
    (private_dir / "nginx.conf").symlink_to(target)
    process = spawn_nginx("/bin/true", "daemon off;\n", private_dir, [])
    if process is not None:
        process.wait(5)
    assert target.read_text() == "precious\n"
    conf = private_dir / "nginx.conf"
    assert stat.S_ISREG(os.lstat(conf).st_mode)
    assert conf.read_text() == "daemon off;\n"


def test_a_private_file_is_written_new_and_renamed(private_dir: Path) -> None:
    path = private_dir / "nginx.conf"
    path.write_text("old")
    write_private_file(path, "new")
    assert path.read_text() == "new"
    assert mode_of(path) == 0o600
    assert [p.name for p in private_dir.iterdir()] == ["nginx.conf"]  # no temporary left


@pytest.mark.parametrize("planted", ["localhost.crt", "localhost.key"])
def test_a_symlinked_certificate_or_key_is_not_trusted(
    tmp_path: Path, private_dir: Path, planted: str
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    ensure_certificate(elsewhere)
    for name in ("localhost.crt", "localhost.key"):
        shutil.copy(elsewhere / name, private_dir / name)
    (private_dir / planted).unlink()
    (private_dir / planted).symlink_to(elsewhere / planted)
    with pytest.raises(RunDirError, match="not a regular file of ours"):
        ensure_certificate(private_dir)


@as_root
def test_a_certificate_of_another_user_is_not_trusted(private_dir: Path) -> None:
    cert, _ = ensure_certificate(private_dir)
    os.chown(cert, OTHER_UID, OTHER_UID)
    with pytest.raises(RunDirError, match="not a regular file of ours"):
        ensure_certificate(private_dir)


def test_a_certificate_made_once_is_reused(private_dir: Path) -> None:
    cert, key = ensure_certificate(private_dir)
    assert mode_of(key) == 0o600
    first = (cert.read_bytes(), key.read_bytes())
    assert ensure_certificate(private_dir) == (cert, key)
    assert (cert.read_bytes(), key.read_bytes()) == first
    assert sorted(p.name for p in private_dir.iterdir()) == ["localhost.crt", "localhost.key"]


def run_command(run_dir: Path, port: int) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "showcase", "proxy", "--bind", f"127.0.0.1:{port}"]
    argv += ["--run-dir", str(run_dir)]
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=30, check=False)


def test_the_command_refuses_a_run_dir_open_to_others_in_one_line(
    private_dir: Path, taken_port: int
) -> None:
    private_dir.chmod(0o777)
    done = run_command(private_dir, taken_port)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith(f"showcase proxy: run directory {private_dir} has mode 0777")
    assert list(private_dir.iterdir()) == []  # nothing written into it


def test_the_command_refuses_a_symlinked_run_dir_in_one_line(
    tmp_path: Path, private_dir: Path, taken_port: int
) -> None:
    link = tmp_path / "link"
    link.symlink_to(private_dir)
    done = run_command(link, taken_port)
    assert done.returncode == 1
    assert (
        done.stderr
        == f"showcase proxy: run directory {link} is a symlink: remove it or pick another\n"
    )
