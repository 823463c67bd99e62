"""Whether a file starts like XML, from its first chunk alone (no XML parser: a folder of Parquet
or CSV files is told from a Turnkey folder without loading lxml or a process pool)."""

from __future__ import annotations

import os

CHUNK = 16384  # a Turnkey message is a few KiB: most files are read in one call


def looks_like_xml(data: bytes) -> bool:
    """A file's first bytes start like XML: '<' after a byte-order mark and blanks."""
    return data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<")


def size_if_not_xml(path: str) -> int | None:
    """The size of a file that does not start like XML (the XML reader passes it over after its
    first chunk too), or None for one that does; OSError as reading it raises it."""
    fd = os.open(path, os.O_RDONLY)
    try:
        return None if looks_like_xml(os.read(fd, CHUNK)) else os.fstat(fd).st_size
    finally:
        os.close(fd)
