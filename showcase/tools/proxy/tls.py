"""The self-signed certificate of nginx's TLS listener, made with the ``openssl`` CLI on the
first run into the run directory and reused after (a browser's exception for it holds), but
only while both files are regular files of ours (``showcase.tools.proxy.rundir``)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from showcase.tools.proxy.rundir import check_private_file

CERT_NAME = "localhost.crt"
KEY_NAME = "localhost.key"
CERT_DAYS = 3650
SUBJECT_ALT_NAMES = "subjectAltName=IP:127.0.0.1,DNS:localhost"
OPENSSL_TIMEOUT_S = 60.0


class CertificateError(RuntimeError):
    """openssl is missing or failed; the message carries its output."""


def certificate_paths(run_dir: Path) -> tuple[Path, Path]:
    """Where the certificate and its key live in ``run_dir`` (whether made yet or not)."""
    return run_dir / CERT_NAME, run_dir / KEY_NAME


def ensure_certificate(run_dir: Path) -> tuple[Path, Path]:
    """The certificate and key in ``run_dir``, made first when either is missing: a P-256
    key, valid ten years, for 127.0.0.1 and localhost. RunDirError (never reused) when
    either is there but a symlink or not ours. openssl writes both into a new private
    directory inside ``run_dir`` and they are renamed into place, so a run that is stopped
    half-way leaves no half certificate and openssl never writes through a planted name."""
    cert, key = certificate_paths(run_dir)
    # Both are checked (each raises for a symlink or a foreign file) before either is used.
    if all([check_private_file(cert), check_private_file(key)]):
        return cert, key
    openssl = shutil.which("openssl")
    if openssl is None:
        raise CertificateError("openssl is not installed (Debian: apt-get install openssl)")
    with tempfile.TemporaryDirectory(dir=run_dir, prefix=".openssl-") as work:
        new_cert, new_key = Path(work) / CERT_NAME, Path(work) / KEY_NAME
        argv = [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
        argv += ["-nodes", "-days", str(CERT_DAYS), "-subj", "/CN=localhost"]
        argv += ["-addext", SUBJECT_ALT_NAMES, "-keyout", str(new_key), "-out", str(new_cert)]
        done = subprocess.run(
            argv, capture_output=True, text=True, check=False, timeout=OPENSSL_TIMEOUT_S
        )
        if done.returncode:
            raise CertificateError(f"openssl req failed ({done.returncode}): {done.stderr[-500:]}")
        os.chmod(new_key, 0o600)
        new_key.replace(key)
        new_cert.replace(cert)
    return cert, key
