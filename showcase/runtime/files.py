"""The download directory: sample files made on first use, names that cannot escape it.

No Flask here. Sample bytes are deterministic (seeded per MiB) so a checksum can be compared.
"""

from __future__ import annotations

import os
import random
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO

from showcase.pure.settings import read_setting

MIB = 1 << 20
SAMPLES: dict[str, int] = {"1MiB.bin": 1 << 20, "64MiB.bin": 1 << 26, "1GiB.bin": 1 << 30}
DOWNLOAD_CHUNK_BYTES = 256 * 1024
MAX_GENERATED_BYTES = 1 << 34  # 16 GiB: bounded, yet more than any sample
# One path segment, no leading dot: no "..", no hidden files, no separators of any OS.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


class UnsafeName(ValueError):
    """A download name that is not one plain file name inside the data directory."""


@dataclass(frozen=True, slots=True)
class FileEntry:
    name: str
    size: int
    present: bool


def default_data_dir() -> Path:
    """``SHOWCASE_DATA_DIR`` (showcase/pure/settings.py), resolved."""
    return Path(read_setting("SHOWCASE_DATA_DIR", os.environ)).resolve()


@lru_cache(maxsize=2)  # MiB 0 feeds every generated download; never keep a whole GiB
def sample_block(index: int) -> bytes:
    """MiB number ``index`` of every sample file: the same bytes on every machine."""
    return random.Random(f"showcase-{index}").randbytes(MIB)


def iter_sample_bytes(size: int, chunk: int = MIB) -> Iterator[bytes]:
    """The first ``size`` bytes of the sample pattern, in pieces of at most ``chunk``."""
    sent = 0
    index = 0
    while sent < size:
        block = sample_block(index)
        index += 1
        for offset in range(0, MIB, chunk):
            piece = block[offset : offset + min(chunk, size - sent)]
            if not piece:
                return
            yield piece
            sent += len(piece)
            if sent >= size:
                return


def iter_generated_bytes(size: int, chunk: int = DOWNLOAD_CHUNK_BYTES) -> Iterator[bytes]:
    """``size`` bytes for the chunked download: MiB 0 of the pattern, repeated (cheap to make)."""
    block = memoryview(sample_block(0))
    sent = 0
    while sent < size:
        offset = sent % MIB
        piece = block[offset : offset + min(chunk, size - sent, MIB - offset)]
        yield bytes(piece)
        sent += len(piece)


def iter_file_range(
    handle: BinaryIO, length: int, chunk: int = DOWNLOAD_CHUNK_BYTES
) -> Iterator[bytes]:
    """``length`` bytes from the handle's position, read in Python; closes the handle."""
    try:
        while length > 0:
            piece = handle.read(min(chunk, length))
            if not piece:
                return
            length -= len(piece)
            yield piece
    finally:
        handle.close()


def write_sample(path: Path, size: int) -> None:
    """Create a sample atomically: concurrent first requests never see a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".partial-")
    try:
        with os.fdopen(fd, "wb") as out:
            for piece in iter_sample_bytes(size):
                out.write(piece)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def resolve_download(data_dir: Path, name: str) -> Path:
    """The file ``name`` inside ``data_dir``, creating a missing sample first.

    Raises UnsafeName for anything but one plain name, FileNotFoundError for a file that is
    missing, not regular, or (through a symlink) outside the directory.
    """
    if not NAME_PATTERN.fullmatch(name):
        raise UnsafeName(name)
    root = data_dir.resolve()
    path = root / name
    if name in SAMPLES and not path.exists():
        write_sample(path, SAMPLES[name])
    real = path.resolve()
    if real.parent != root or not real.is_file():
        raise FileNotFoundError(name)
    return real


def list_downloads(data_dir: Path) -> list[FileEntry]:
    """Samples (made or not yet) and any other plain files in the directory."""
    entries = {
        name: FileEntry(name, size, (data_dir / name).is_file()) for name, size in SAMPLES.items()
    }
    if data_dir.is_dir():
        for path in sorted(data_dir.iterdir()):
            if path.name not in entries and NAME_PATTERN.fullmatch(path.name):
                try:
                    real = resolve_download(data_dir, path.name)
                except (FileNotFoundError, UnsafeName):
                    continue
                entries[path.name] = FileEntry(path.name, real.stat().st_size, True)
    return list(entries.values())
