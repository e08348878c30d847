"""Compressing a stream's body: which coding a client accepts, and gzip/deflate chunks that
either batch (a compressor flushed only at the end) or stay one decodable chunk per write.

Pure byte work: no Flask, no I/O. The web layer picks the coding from the request's
``Accept-Encoding`` (``choose_encoding``), wraps the body (``compress_chunks``) and sets
``Content-Encoding`` and ``Vary``.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable, Iterator

GZIP = "gzip"
DEFLATE = "deflate"
# What this server can send, in its order of preference when a client ranks them equally.
ENCODINGS = (GZIP, DEFLATE)
# zlib's wbits for each Content-Encoding: "gzip" is the gzip container (16 + 15), HTTP's
# "deflate" is the zlib container (RFC 9110 §8.4.1.2), not a raw deflate stream.
WBITS = {GZIP: 16 + zlib.MAX_WBITS, DEFLATE: zlib.MAX_WBITS}
# Level 6 is zlib's default; a stream's small messages gain little from more.
LEVEL = 6

# One element of Accept-Encoding: a coding, then parameters; only q is read (RFC 9110 §12.4.2).
QVALUE = re.compile(r"(?:0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)")


def choose_encoding(accept_encoding: str | None) -> str | None:
    """The coding to send for this ``Accept-Encoding`` value: ``"gzip"``, ``"deflate"``, or
    None for identity (no header, nothing acceptable, or the header unreadable).

    q-values are honoured: the higher wins, gzip on a tie; ``q=0`` refuses a coding, and
    ``*`` stands for every coding not named. ``x-gzip`` counts as gzip (RFC 9110 §8.4.1.3).
    An element whose q is not a valid qvalue is ignored.
    """
    if not accept_encoding:
        return None
    named: dict[str, float] = {}
    wildcard: float | None = None
    for element in accept_encoding.split(","):
        coding, *parameters = (part.strip() for part in element.split(";"))
        coding = coding.lower()
        if not coding:
            continue
        quality: float | None = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                value = value.strip()
                quality = float(value) if QVALUE.fullmatch(value) else None
        if quality is None:
            continue
        if coding == "x-gzip":
            coding = GZIP
        if coding == "*":
            wildcard = quality
        elif coding in ENCODINGS:
            named[coding] = max(quality, named.get(coding, 0.0))
    best: str | None = None
    best_quality = 0.0
    for coding in ENCODINGS:
        quality = named.get(coding, wildcard if wildcard is not None else 0.0)
        if quality > best_quality:
            best, best_quality = coding, quality
    return best


def compress_chunks(chunks: Iterable[bytes], encoding: str, *, sync: bool) -> Iterator[bytes]:
    """``chunks`` compressed with ``encoding`` (``"gzip"`` or ``"deflate"``), never an empty
    chunk.

    ``sync=True``: every input chunk is followed by a ``Z_SYNC_FLUSH``, so the compressed
    bytes yielded for it decode, with what came before, to exactly that chunk: one write in,
    one decodable write out (a stream stays a stream). ``sync=False``: the compressor keeps
    what it was given until its window fills or the input ends, as a compressing middleware
    does; the messages arrive in batches, mostly at the end.
    Closing this iterator closes ``chunks`` (its source's cleanup runs).
    """
    compressor = zlib.compressobj(LEVEL, zlib.DEFLATED, WBITS[encoding])
    try:
        for chunk in chunks:
            if not chunk:
                continue
            if sync:
                yield compressor.compress(chunk) + compressor.flush(zlib.Z_SYNC_FLUSH)
            else:
                data = compressor.compress(chunk)
                if data:
                    yield data
        # The trailer (gzip: CRC and length) only after a complete body: a stream cut by an
        # error never gets one, so the client sees it as truncated.
        yield compressor.flush(zlib.Z_FINISH)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
