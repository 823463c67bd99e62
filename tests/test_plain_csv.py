"""Small CSV files so plain that polars reads them from disk (invoices.read_from_disk): the same
frames, lines and problems as the in-memory reading, without holding every file in memory."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from blanktrack import invoices
from blanktrack.errors import InputError

HEADER = "invoice_number,invoice_date,seller_ban,status,machine,upload_status\n"
ROW = "AB{n:08d},2024-01-{d:02d},12345675,issued,POS-1,\n"


def rows(n: int) -> str:
    return "".join(ROW.format(n=k, d=1 + k % 28) for k in range(n))


def test_a_plain_utf8_file_is_read_from_disk(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text(HEADER + rows(5), encoding="utf-8")
    assert invoices.read_from_disk(path, str(path))
    _, in_memory = invoices.scan_csv_file(path, str(path))
    assert not in_memory


@pytest.mark.parametrize("content", [
    codecs.BOM_UTF8 + (HEADER + rows(2)).encode(),  # a BOM
    (HEADER + 'AB00000001,2024-01-02,12345675,issued,"POS, 1",\n').encode(),  # a quote
    (HEADER + rows(2)).encode("utf-16-le"),  # UTF-16 without its BOM: valid UTF-8, with NULs
    (HEADER + rows(2)).replace("\n", "\r").encode(),  # old Mac line ends
    (HEADER + rows(2)).replace("\n", "\r\n", 1).replace("\n", "\r").encode(),  # CRs mixed
    (HEADER + rows(1)).encode() + "AB00000009,2024-01-02,12345675,開立,機台,\n".encode("cp950"),
], ids=["bom", "quote", "utf16-no-bom", "cr", "mixed-cr", "big5"])
def test_anything_else_is_decoded_here(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes(content)
    assert not invoices.read_from_disk(path, str(path))


def test_utf8_beyond_ascii_is_plain(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes((HEADER + rows(1)).encode()
                     + "AB00000009,2024-01-02,12345675,開立,機台,\n".encode())
    assert invoices.read_from_disk(path, str(path))


def test_crlf_is_plain(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes((HEADER + rows(3)).replace("\n", "\r\n").encode())
    assert invoices.read_from_disk(path, str(path))


def _both(path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[object, object]:
    """What the reading gives from disk, and decoded in memory (or the problem each raises)."""
    def read() -> object:
        try:
            return invoices.load_invoices([path]).collect().to_dicts()
        except InputError as exc:
            return [str(p) for p in exc.problems]

    from_disk = read()
    with monkeypatch.context() as mp:
        mp.setattr(invoices, "read_from_disk", lambda *args: False)
        in_memory = read()
    return from_disk, in_memory


@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 6), blank_at=st.lists(st.integers(0, 7), max_size=3),
       bad_at=st.one_of(st.none(), st.integers(0, 5)), crlf=st.booleans())
def test_from_disk_reads_as_in_memory(tmp_path_factory: pytest.TempPathFactory, n: int,
                                      blank_at: list[int], bad_at: int | None,
                                      crlf: bool) -> None:
    """Rows, blank lines, a bad value: the same rows with the same lines, or the same problem."""
    lines = [ROW.format(n=k, d=1 + k % 28) for k in range(n)]
    if bad_at is not None and bad_at < n:
        lines[bad_at] = lines[bad_at].replace("2024-01", "2024-13")
    for k in sorted(blank_at, reverse=True):
        lines.insert(min(k, len(lines)), "\n")
    text = HEADER + "".join(lines)
    path = tmp_path_factory.mktemp("plain") / "a.csv"
    path.write_bytes((text.replace("\n", "\r\n") if crlf else text).encode())
    assert invoices.read_from_disk(path, str(path))
    from_disk, in_memory = _both(path, pytest.MonkeyPatch())
    assert from_disk == in_memory


def test_a_ragged_row_is_named_from_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                         ) -> None:
    path = tmp_path / "a.csv"
    path.write_text(HEADER + rows(2) + "AB00000009,2024-01-02,12345675,issued,POS-1,,extra\n",
                    encoding="utf-8")
    from_disk, in_memory = _both(path, monkeypatch)
    assert from_disk == in_memory == [
        f"{path}:4: expected 6 fields as in the header, found 7 — check for an extra comma "
        "(quote values that contain commas)"]
