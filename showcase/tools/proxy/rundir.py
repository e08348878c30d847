"""The run directory of ``showcase proxy``: nginx's config, pid, log and TLS key. The command
may run as root (it installs nginx), so the directory must be ours alone (mode 0700) and
nothing in it is written or trusted through a symlink."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

RUN_DIR_MODE = 0o700


class RunDirError(RuntimeError):
    """The run directory, or a file in it, is not safe to use; the message says which and
    what to do."""


def default_run_dir() -> Path:
    """``/tmp/showcase-proxy-<uid>``: one per user, so no user picks up another's."""
    return Path(tempfile.gettempdir()) / f"showcase-proxy-{os.getuid()}"


def prepare_run_dir(run_dir: Path) -> Path:
    """``run_dir`` made (mode 0700, its missing parents as usual) when missing, and checked:
    RunDirError if it is a symlink, not a directory, owned by another user, or open to
    anyone else (mode other than 0700). Returns its absolute path."""
    run_dir = Path(os.path.abspath(run_dir))
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.mkdir(run_dir, RUN_DIR_MODE)
    except FileExistsError:
        pass
    else:
        os.chmod(run_dir, RUN_DIR_MODE)  # the umask may have taken bits away, never added
    info = os.lstat(run_dir)
    if stat.S_ISLNK(info.st_mode):
        raise RunDirError(f"run directory {run_dir} is a symlink: remove it or pick another")
    if not stat.S_ISDIR(info.st_mode):
        raise RunDirError(f"run directory {run_dir} is not a directory")
    if info.st_uid != os.geteuid():
        raise RunDirError(
            f"run directory {run_dir} belongs to uid {info.st_uid}, not us "
            f"(uid {os.geteuid()}): pick another with --run-dir"
        )
    mode = stat.S_IMODE(info.st_mode)
    if mode != RUN_DIR_MODE:
        raise RunDirError(
            f"run directory {run_dir} has mode {mode:04o}, expected 0700: "
            f"chmod 700 {run_dir} or pick another with --run-dir"
        )
    return run_dir


def check_private_file(path: Path) -> bool:
    """True if ``path`` is a regular file of ours (not a symlink); False if it is missing;
    RunDirError for anything else there (a symlink, another user's file, a directory)."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return False
    if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid():
        raise RunDirError(
            f"{path} is not a regular file of ours (a symlink, or another user's): remove it"
        )
    return True


def write_private_file(path: Path, text: str, mode: int = 0o600) -> None:
    """Write ``text`` to ``path`` under a new temporary name (O_CREAT | O_EXCL | O_NOFOLLOW:
    never through a file or symlink already there) and rename it over ``path``; rename
    replaces a symlink at ``path`` itself, never its target."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    for attempt in range(100):
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{attempt}")
        try:
            fd = os.open(temporary, flags, mode)
        except FileExistsError:
            continue
        try:
            with os.fdopen(fd, "w") as out:
                out.write(text)
            os.replace(temporary, path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        return
    raise RunDirError(f"could not create a temporary file next to {path}")
