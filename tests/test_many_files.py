"""Many invoice files (a day's file each): what is asked of every file before the scan is
asked of as few as the answer needs, nothing is asked of a file twice (its footer, its frame
for the file checks), and one bad file among many is still named with its line and field."""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from collections import Counter
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest
from reference import Allocation, Invoice, findings, upload_rows
from reference_period import HEAD, PERIOD, invoice_findings, reconciled, write_allocations
from reference_period import upload_rows as exported

from blanktrack import invoices, textio
from blanktrack.errors import InputError
from blanktrack.usage import csv_batches, dense, engine

WHOLE = Allocation(HEAD, "07", PERIOD, "AB", 0, 99)
HEADER = "invoice_number,invoice_date,seller_ban,status,machine,upload_status"
DAYS, ROWS = 12, 5  # twelve daily files of five invoices: AB00000000 … AB00000059


def _day_files(folder: Path, days: int, rows: int) -> list[Path]:
    paths = []
    for day in range(days):
        path = folder / f"day-{day:02d}.parquet"
        pl.DataFrame({"invoice_number": [f"AB{day * rows + n:08d}" for n in range(rows)],
                      "invoice_date": ["2024-01-05"] * rows, "seller_ban": ["53567686"] * rows,
                      "status": ["issued"] * rows}).write_parquet(path)
        paths.append(path)
    return paths


@pytest.mark.parametrize(("threshold", "large", "footers"),
                         [(10, True, 2), (24, True, 4), (30, True, 5), (31, False, 5), (0, True, 1)])
def test_a_period_is_known_large_at_the_footer_that_makes_it_so(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, threshold: int, large: bool,
        footers: int) -> None:
    # five files of six rows: the footers read until the rows reach the threshold, no more
    paths = _day_files(tmp_path, 5, 6)
    read: list[str] = []
    rows_of = engine.parquet_rows

    def counted(path: Path, name: str) -> int:
        read.append(Path(path).name)
        return rows_of(path, name)

    monkeypatch.setattr(engine, "parquet_rows", counted)
    monkeypatch.setattr(engine, "DENSE_MIN_ROWS", threshold)
    engine._rows.cache_clear()
    assert engine.is_large(paths) is large
    assert read == [p.name for p in paths[:footers]]


def test_no_invoice_file_is_not_large(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "DENSE_MIN_ROWS", 0)
    assert engine.is_large([]) is False


def _invoices(day: int) -> list[str]:
    return [f"AB{day * ROWS + n:08d},2024-01-{day + 2:02d},{HEAD},issued,POS-1,accepted"
            for n in range(ROWS)]


def _daily(folder: Path, fmt: str) -> list[Path]:
    paths = []
    for day in range(DAYS):
        path = folder / f"day-{day:02d}.{fmt}"
        text = HEADER + "\n" + "\n".join(_invoices(day)) + "\n"
        if fmt == "csv":
            path.write_text(text)
        else:
            pl.read_csv(text.encode(), infer_schema=False).write_parquet(path)
        paths.append(path)
    return paths


def _want() -> list[Invoice]:
    return [Invoice(f"AB{day * ROWS + n:08d}", dt.date(2024, 1, day + 2), HEAD, "issued",
                    "accepted", "POS-1") for day in range(DAYS) for n in range(ROWS)]


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_a_dense_scan_of_many_files_opens_each_once_and_builds_no_frame_for_checks(
        tmp_path: Path, fmt: str) -> None:
    """Each Parquet footer is parsed once (the scanning threads reuse it), and after the scan
    no file's lazy frame is built for the file checks (the scan made them); the report is the
    model's."""
    paths = _daily(tmp_path, fmt)
    opened: list[tuple[str, bool]] = []
    parquet_file = pq.ParquetFile

    def recorded(source, *args, metadata=None, **kwargs):  # type: ignore[no-untyped-def]
        opened.append((Path(source).name, metadata is not None))
        return parquet_file(source, *args, metadata=metadata, **kwargs)

    def refused(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("a frame per file for the file checks after a dense scan")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pq, "ParquetFile", recorded)
        mp.setattr(engine, "scan_raw_invoices", refused)
        scanned: list[object] = []
        scan = engine.dense_scan
        mp.setattr(engine, "dense_scan", lambda *a, **k: scanned.append(scan(*a, **k))
                   or scanned[-1])
        result = reconciled(write_allocations(tmp_path, [WHOLE]), paths, "dense")
    assert len(scanned) == 1 and scanned[0] is not None
    if fmt == "parquet":
        assert Counter(name for name, reused in opened if not reused) == Counter(
            p.name for p in paths)
        assert Counter(name for name, reused in opened if reused) == Counter(
            p.name for p in paths)
    else:
        assert opened == []
    assert exported(result) == sorted(upload_rows([WHOLE], _want(), PERIOD, "none"))
    assert invoice_findings(result) == Counter(findings([WHOLE], _want(), PERIOD))


@pytest.mark.parametrize("threads", [1, 2])
def test_the_next_small_csv_file_is_read_while_one_is_tallied(tmp_path: Path,
                                                              threads: int) -> None:
    """Daily CSV files through the dense scan: a thread begins to read its next file (polars'
    query started) before it tallies the file it has; each file read once; the model's
    report."""
    paths = _daily(tmp_path, "csv")
    events: list[tuple[str, str, str]] = []
    collect, tally = csv_batches.CsvBatches.collect_batches, dense._Scan._csv_batch

    def begun(self, chunk_size):  # type: ignore[no-untyped-def]
        events.append((threading.current_thread().name, "read", self.path.name))
        return collect(self, chunk_size)

    def tallied(self, t, i, frame, again):  # type: ignore[no-untyped-def]
        events.append((threading.current_thread().name, "tally", self.files[i].path.name))
        return tally(self, t, i, frame, again)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(dense, "THREADS", threads)
        mp.setattr(csv_batches.CsvBatches, "collect_batches", begun)
        mp.setattr(dense._Scan, "_csv_batch", tallied)
        result = reconciled(write_allocations(tmp_path, [WHOLE]), paths, "dense")
    assert Counter(name for _, what, name in events if what == "read") == Counter(
        p.name for p in paths)
    for thread in {thread for thread, _, _ in events}:
        mine = [(what, name) for t, what, name in events if t == thread]
        tallies = [name for what, name in mine if what == "tally"]
        for this, following in itertools.pairwise(tallies):
            assert mine.index(("read", following)) < mine.index(("tally", this)), mine
    assert exported(result) == sorted(upload_rows([WHOLE], _want(), PERIOD, "none"))
    assert invoice_findings(result) == Counter(findings([WHOLE], _want(), PERIOD))


@pytest.mark.parametrize("quoted", [False, True])
def test_a_small_csv_file_is_read_whole_once(tmp_path: Path, quoted: bool) -> None:
    """Daily CSV files through the dense scan: a plain one read whole once (polars then reads
    those bytes); one that is not (a quoted field) read for its check and once more to be
    decoded here, its plainness not asked of the file again; the model's report."""
    paths = _daily(tmp_path, "csv")
    if quoted:
        for path in paths:
            path.write_text(path.read_text().replace(",POS-1,", ',"POS-1",'))
    read: list[str] = []
    read_bytes = textio.read_bytes

    def counted(path, name):  # type: ignore[no-untyped-def]
        read.append(Path(path).name)
        return read_bytes(path, name)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(textio, "read_bytes", counted)
        result = reconciled(write_allocations(tmp_path, [WHOLE]), paths, "dense")
    reads = 2 if quoted else 1
    assert Counter(n for n in read if n.startswith("day-")) == Counter(
        {p.name: reads for p in paths}), read
    assert exported(result) == sorted(upload_rows([WHOLE], _want(), PERIOD, "none"))
    assert invoice_findings(result) == Counter(findings([WHOLE], _want(), PERIOD))


def _hostile(folder: Path, fmt: str, kind: str) -> tuple[Path, str]:
    """Writes the bad file over day 07 of the daily files; (its path, the text the error must
    name: file, line, field)."""
    path = folder / f"day-07.{fmt}"
    good = HEADER + "\n" + "\n".join(_invoices(7)) + "\n"
    if kind == "truncated":
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
        return path, f"{path}: cannot read the Parquet file"
    if kind == "empty":
        path.write_bytes(b"")
        return path, f"{path}: the file is empty: no header"
    if kind == "unknown-column":
        text = good.replace("upload_status", "uploadstatus")
        if fmt == "csv":
            path.write_text(text)
            return path, f"{path}:1: field 'uploadstatus': unknown column(s) 'uploadstatus'"
        pl.read_csv(text.encode(), infer_schema=False).write_parquet(path)
        return path, f"{path}: field 'uploadstatus': unknown column(s) 'uploadstatus'"
    assert kind == "bad-row-deep-in"  # a seven-digit BAN on the file's 5th line
    rows = _invoices(7)
    rows[3] = rows[3].replace(HEAD, HEAD[1:])
    path.write_text(HEADER + "\n" + "\n".join(rows) + "\n")
    return path, f"{path}:5: field 'seller_ban': seller BAN '3567686' has 7 digits"


@pytest.mark.parametrize(("fmt", "kind", "large"), [
    ("parquet", "truncated", False),
    ("parquet", "unknown-column", False),
    ("csv", "empty", False), ("csv", "empty", True),
    ("csv", "unknown-column", False), ("csv", "unknown-column", True),
    ("csv", "bad-row-deep-in", False), ("csv", "bad-row-deep-in", True),
])
def test_one_bad_file_among_many_is_named(tmp_path: Path, fmt: str, kind: str,
                                          large: bool) -> None:
    """Through the dense scan (forced), one hostile file among twelve daily files fails the
    run with the file, line and field named; the others are not blamed. `large`: CSV files
    read by polars from disk (their checks: the head), else decoded in memory."""
    paths = _daily(tmp_path, fmt)
    bad, named = _hostile(tmp_path, fmt, kind)
    with pytest.MonkeyPatch.context() as mp:
        if large:
            mp.setattr(invoices, "LARGE_FILE_BYTES", 0)
        with pytest.raises(InputError) as error:
            reconciled(write_allocations(tmp_path, [WHOLE]), paths, "dense")
    message = str(error.value)
    assert named in message, message
    assert all(str(p) not in message for p in paths if p != bad), message


def test_a_header_after_the_checked_head_is_still_found(tmp_path: Path) -> None:
    """The file checks look at a 64 KiB head where it holds the header's line; 70,000 blank
    lines first: the whole 1 MiB is looked at, and the header's own line is named."""
    path = tmp_path / "late-header.csv"
    path.write_text("\n" * 70_000 + HEADER.replace("upload_status", "uploadstatus") + "\n"
                    + "\n".join(_invoices(0)) + "\n")
    with pytest.raises(InputError) as error:
        invoices.check_csv_file(path, str(path), invoices.HEADER_BYTES)
    assert f"{path}:70001: field 'uploadstatus': unknown column(s)" in str(error.value)


def test_bytes_not_utf8_past_the_header_head_are_named_through_the_dense_scan(
        tmp_path: Path) -> None:
    """A large file with a Big5 line 100 KB in (past the dense scan's 64 KiB head, inside the
    1 MiB the file checks read): the dense scan declines it (polars cannot read it), and the
    validating path's check names the line."""
    path = tmp_path / "big5-at-100k.csv"
    good = "".join(f"AB{n % 100:08d},2024-01-05,{HEAD},issued,POS-1,accepted\n"
                   for n in range(2_000))  # about 100 KB
    bad = f"AB00000099,2024-01-05,{HEAD},開立,POS-1,accepted\n".encode("cp950")
    path.write_bytes((HEADER + "\n" + good).encode() + bad)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(invoices, "LARGE_FILE_BYTES", 0)
        assert invoices.check_csv_file(path, str(path), invoices.HEADER_BYTES)
        with pytest.raises(InputError) as error:
            reconciled(write_allocations(tmp_path, [WHOLE]), [path], "dense")
    assert f"{path}:2002: this line is not UTF-8" in str(error.value)
