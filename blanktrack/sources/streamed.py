"""Which text tables are read by polars straight from the file (never held whole in memory):
large UTF-8 ones. Smaller files, and those in other encodings, are decoded in Python (textio),
which knows Big5/cp950 and UTF-16 and names a line it cannot decode."""

from __future__ import annotations

import codecs
from pathlib import Path

from .. import textio

STREAM_MIN_BYTES = 64 * 2**20  # below this, decoding in memory costs little
_HEAD = 2**20


def streamed(path: Path, name: str) -> bool:
    """Whether `path` is read by polars: at least STREAM_MIN_BYTES and UTF-8 in its first MiB
    (an invalid byte further on is named by the caller when polars meets it)."""
    try:
        if path.stat().st_size < STREAM_MIN_BYTES:
            return False
    except OSError:
        return False  # textio names the file
    head = textio.read_head(path, _HEAD, name)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return False
    if b"\r" in head and b"\n" not in head:  # bare CR line ends: textio reads them
        return False
    if len(head) == _HEAD and b"\n" in head:  # never cut a character in two
        head = head[: head.rindex(b"\n") + 1]
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
