"""textio.read_bytes: a regular file's bytes, whole, up to a limit — sized by what the file says
it holds, and still whole when the file says less (a /proc file says 0 bytes)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from blanktrack import textio
from blanktrack.errors import InputError


@given(st.binary(max_size=5000))
def test_the_bytes_come_back_whole(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("rb") / "f.csv"
    path.write_bytes(data)
    assert textio.read_bytes(path) == data


def test_a_file_at_the_limit_is_read(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(b"x" * 100)
    assert textio.read_bytes(path, limit=100) == b"x" * 100


def test_a_file_past_the_limit_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(b"x" * 101)
    with pytest.raises(InputError, match=r"f\.csv"):
        textio.read_bytes(path, limit=100)


def test_a_file_that_says_it_is_empty_is_read_whole() -> None:
    # /proc files are regular files whose size reads as 0.
    status = Path("/proc/self/status")
    assert status.stat().st_size == 0
    data = textio.read_bytes(status)
    assert data.startswith(b"Name:") and data.endswith(b"\n")


def test_a_file_that_says_it_is_empty_still_meets_the_limit() -> None:
    with pytest.raises(InputError, match="larger than"):
        textio.read_bytes(Path("/proc/self/status"), limit=8)
