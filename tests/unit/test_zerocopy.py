"""The worker's ClientSocket.sendfile is zero-copy and falls back to gevent's copy loop when
os.sendfile cannot send the file (no descriptor, EINVAL before the first byte), as the standard
library's socket.sendfile does; checked in a fresh gevent-patched interpreter."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = r"""
from gevent import monkey
monkey.patch_all()
import io, os, socket, tempfile
from showcase.runtime import zerocopy
from showcase.runtime.worker import ClientSocket

left, right = socket.socketpair()
left.__class__ = ClientSocket

def received(n):
    data = b""
    while len(data) < n:
        data += right.recv(n - len(data))
    return data

# A regular file: os.sendfile, and the file is left after what was sent.
with tempfile.TemporaryFile() as file:
    file.write(b"0123456789")
    file.flush()
    assert left.sendfile(file, offset=2, count=5) == 5
    assert received(5) == b"23456" and file.tell() == 7

# No descriptor at all (GiveUp before anything is sent), then the copy loop.
source = io.BytesIO(b"abc")
try:
    zerocopy.sendfile(left, source, 0, 3)
except zerocopy.GiveUp:
    pass
else:
    raise AssertionError("a file without a descriptor: no GiveUp")
assert left.sendfile(source, 0, 3) == 3 and received(3) == b"abc"

# A file the kernel refuses (EINVAL, as for a file sendfile cannot map): the copy loop.
real = os.sendfile
def refuse(*args):
    raise OSError(22, "Invalid argument")
os.sendfile = refuse
with tempfile.TemporaryFile() as file:
    file.write(b"refused")
    file.seek(0)  # the copy loop reads from the file's position when offset is 0, as stdlib's
    assert left.sendfile(file, 0, 7) == 7 and received(7) == b"refused"
os.sendfile = real
print("ok")
"""


def test_sendfile_is_zero_copy_and_falls_back_when_refused() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_file_work_off_the_hub_raises_its_error_in_the_caller() -> None:
    """An error of the pooled work comes back as a value and is raised by the caller, so
    gevent's pool never prints it as an unhandled error (a traceback per missing file)."""
    from showcase.web.downloads import capture_outcome

    assert capture_outcome(int, "7") == (True, 7)
    succeeded, error = capture_outcome(int, "x")
    assert not succeeded and isinstance(error, ValueError)
