"""The first row groups read ahead while the command starts (usage/read_ahead.py): the scan takes
them in place of reading them, and only when they are what it would read itself; the result is
the same whatever was read ahead. (Every reading shape against the model, read ahead: the
`dense-read-ahead` engine of tests/test_reference.py.)"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from reference import Allocation, Invoice, findings, upload_rows
from reference_period import (
    HEAD,
    PERIOD,
    InCallThread,
    in_period,
    invoice_findings,
    reconciled,
    write_allocations,
)
from reference_period import upload_rows as exported

from blanktrack import cli
from blanktrack.usage import dense, read_ahead, scan_plan

WHOLE = Allocation(HEAD, "07", PERIOD, "AB", 0, 199)


def _rows(numbers: range, machine: str = "POS-1") -> list[Invoice]:
    return [Invoice(f"AB{n:08d}", in_period(0, 3 + n % 20), HEAD, "issued", "accepted", machine)
            for n in numbers]


def _write(path: Path, rows: list[Invoice], row_group: int = 10) -> Path:
    pl.DataFrame({
        "invoice_number": [r.number for r in rows], "invoice_date": [r.date for r in rows],
        "seller_ban": [r.seller_ban for r in rows], "status": [r.status for r in rows],
        "machine": [r.machine for r in rows], "upload_status": [r.upload_status for r in rows],
    }).write_parquet(path, row_group_size=row_group)
    return path


@pytest.fixture
def eager(monkeypatch: pytest.MonkeyPatch):
    """Reading ahead of any period, wholly, in the caller (not on a thread); undone after."""
    monkeypatch.setattr(read_ahead, "DENSE_MIN_ROWS", 0)
    monkeypatch.setattr(read_ahead, "READ_AHEAD_ROWS", 10**9)
    monkeypatch.setattr(read_ahead, "Thread", InCallThread)
    yield
    read_ahead.discard()


def _spy_takes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int, bool]]:
    taken: list[tuple[str, int, bool]] = []
    take = read_ahead.take

    def spy(path, group, columns, dictionary):  # type: ignore[no-untyped-def]
        table = take(path, group, columns, dictionary)
        taken.append((Path(path).name, group, table is not None))
        return table

    monkeypatch.setattr(read_ahead, "take", spy)
    return taken


def _check(result, allocs: list[Allocation], rows: list[Invoice]) -> None:  # type: ignore[no-untyped-def]
    assert exported(result) == sorted(upload_rows(allocs, rows, PERIOD, "none"))
    assert invoice_findings(result) == findings(allocs, rows, PERIOD)


def test_the_scan_takes_the_row_groups_read_ahead(tmp_path: Path, eager: None,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # two files of three row groups (10, 10, 5 rows), the tills' rows out of order across them
    rows = _rows(range(0, 50, 2), "POS-1") + _rows(range(1, 50, 2), "POS-2")
    paths = [_write(tmp_path / "a.parquet", rows[::2]), _write(tmp_path / "b.parquet", rows[1::2])]
    taken = _spy_takes(monkeypatch)
    read_ahead.start(paths)
    result = reconciled(write_allocations(tmp_path, [WHOLE]), paths, "dense-in-small-batches")
    assert sorted(taken) == [(name, g, True) for name in ("a.parquet", "b.parquet")
                             for g in range(3)]
    _check(result, [WHOLE], rows)


@pytest.mark.parametrize(("files", "per_file", "min_rows", "ahead"), [
    # the first group of each of the first two files, then the second of the first
    (3, 30, 0, [("0.parquet", 0), ("0.parquet", 1), ("1.parquet", 0)]),
    # daily files of one group, planned until DENSE_MIN_ROWS rows: the first few, in turn
    (6, 10, 40, [("0.parquet", 0), ("1.parquet", 0), ("2.parquet", 0)]),
])
def test_the_first_row_groups_are_read_ahead_in_turn(
        tmp_path: Path, eager: None, monkeypatch: pytest.MonkeyPatch, files: int, per_file: int,
        min_rows: int, ahead: list[tuple[str, int]]) -> None:
    monkeypatch.setattr(read_ahead, "DENSE_MIN_ROWS", min_rows)
    monkeypatch.setattr(read_ahead, "READ_AHEAD_ROWS", 30)  # groups of 10 rows: three of them
    rows = _rows(range(files * per_file))
    paths = [_write(tmp_path / f"{k}.parquet", rows[k * per_file:(k + 1) * per_file])
             for k in range(files)]
    taken = _spy_takes(monkeypatch)
    read_ahead.start(paths)
    result = reconciled(write_allocations(tmp_path, [WHOLE]), paths, "dense")
    assert sorted((name, group) for name, group, hit in taken if hit) == ahead
    assert len(taken) == files * per_file // 10  # every group asked for once; the rest read
    _check(result, [WHOLE], rows)


def test_a_file_changed_since_is_read_again(tmp_path: Path, eager: None,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path / "a.parquet", _rows(range(20)))
    read_ahead.start([path])
    rows = _rows(range(100, 130))  # another export in its place, before the scan reads it
    _write(tmp_path / "new.parquet", rows)
    os.replace(tmp_path / "new.parquet", path)
    taken = _spy_takes(monkeypatch)
    result = reconciled(write_allocations(tmp_path, [WHOLE]), [path], "dense")
    assert taken and not any(hit for _, _, hit in taken)
    _check(result, [WHOLE], rows)


def test_a_group_read_with_other_columns_is_not_taken(tmp_path: Path, eager: None) -> None:
    path = _write(tmp_path / "a.parquet", _rows(range(15), "POS-1") + _rows(range(15, 30), "POS-2"))
    read_ahead.start([path])
    file = dense._parquet_file(path)
    assert file is not None
    columns, dictionary = list(file.columns.values()), scan_plan.dictionary_columns(file.columns)
    assert columns == ["invoice_number", "invoice_date", "machine"]  # the rest: one value each
    assert dictionary == ["machine", "invoice_date"]  # a Date column is read as it is
    assert read_ahead.take(path, 0, columns[:-1], dictionary) is None
    assert read_ahead.take(path, 0, columns, dictionary) is None  # asked once: gone
    assert read_ahead.take(path, 1, columns, []) is None
    table = read_ahead.take(path, 2, columns, dictionary)
    assert table is not None and table.column_names == columns


def test_a_group_not_begun_is_left_to_the_scan_and_one_being_read_is_waited_for(
        tmp_path: Path, eager: None, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path / "a.parquet", _rows(range(20)))  # two row groups of ten
    file = dense._parquet_file(path)
    assert file is not None
    columns, dictionary = list(file.columns.values()), scan_plan.dictionary_columns(file.columns)
    read = pq.ParquetFile.read_row_group
    reads: list[int] = []
    asked: list[pa.Table | None] = []
    waiting = threading.Thread(target=lambda: asked.append(
        read_ahead.take(path, 0, columns, dictionary)))

    def reading(self, group, **kwargs):  # type: ignore[no-untyped-def]
        reads.append(group)
        if group == 0:  # the scan asks meanwhile for group 1, not begun: its own to read
            assert read_ahead.take(path, 1, columns, dictionary) is None
            waiting.start()  # and for group 0, being read: it waits
            waiting.join(0.05)
            assert waiting.is_alive()
        return read(self, group, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "read_row_group", reading)
    read_ahead.start([path])
    waiting.join()
    assert reads == [0]  # group 1 passed by
    assert len(asked) == 1 and asked[0] is not None and asked[0].num_rows == 10


@pytest.mark.parametrize("kind", ["csv", "small", "fifo", "missing"])
def test_nothing_is_read_ahead_of_what_the_scan_would_not_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    monkeypatch.setattr(read_ahead, "Thread", InCallThread)
    monkeypatch.setattr(read_ahead, "DENSE_MIN_ROWS", 1000 if kind == "small" else 0)
    path = tmp_path / "invoices.parquet"
    if kind == "csv":
        path.write_text("invoice_number,invoice_date,seller_ban,status\n")
    elif kind == "small":
        _write(path, _rows(range(20)))
    elif kind == "fifo":
        if not hasattr(os, "mkfifo"):
            pytest.skip("no FIFOs here")
        os.mkfifo(path)  # opening it would wait for a writer forever
    read_ahead.start([path])
    try:
        assert read_ahead._current is not None and read_ahead._current.groups == {}
    finally:
        read_ahead.discard()


def test_discard_lets_go_and_puts_the_memory_pool_back(tmp_path: Path, eager: None) -> None:
    before = pa.default_memory_pool().backend_name
    path = _write(tmp_path / "a.parquet", _rows(range(20)))
    read_ahead.start([path])
    read_ahead.discard()
    assert read_ahead._current is None
    assert read_ahead.take(path, 0, ["invoice_number"], []) is None
    assert pa.default_memory_pool().backend_name == before


def test_batches_read_ahead_are_cut_as_the_scan_cuts_them(tmp_path: Path, eager: None,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # a batch is read again by its place in its row group (_Scan._batch_again): the batches of
    # a group read ahead hold the same rows as pyarrow's own batches of it
    monkeypatch.setattr(dense, "BATCH_ROWS", 7)
    path = _write(tmp_path / "a.parquet", _rows(range(60)), row_group=25)
    read_ahead.start([path])
    file = dense._parquet_file(path)
    assert file is not None
    taken = _spy_takes(monkeypatch)
    for group in range(3):
        ahead = list(file.batches(file.reader(), group))
        own = list(file.batches(file.reader(), group, ahead=False))
        assert [b.num_rows for b in ahead] == [b.num_rows for b in own]
        assert [b.to_pylist() for b in ahead] == [b.to_pylist() for b in own]
    assert taken == [("a.parquet", g, True) for g in range(3)]


def test_the_command_reads_ahead_and_lets_go(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    from blanktrack.usage import engine

    monkeypatch.setattr(read_ahead, "DENSE_MIN_ROWS", 0)
    monkeypatch.setattr(engine, "DENSE_MIN_ROWS", 0)
    monkeypatch.setattr(read_ahead, "Thread", InCallThread)
    rows = _rows(range(0, 120, 3))
    path = _write(tmp_path / "a.parquet", rows)
    alloc = write_allocations(tmp_path, [WHOLE])
    taken = _spy_takes(monkeypatch)
    out = {}
    for run, ahead in (("ahead", True), ("plain", False)):
        monkeypatch.setattr(read_ahead, "READ_AHEAD_ROWS", 10**9 if ahead else 0)
        code = cli.main(["reconcile", "--period", PERIOD, "--allocations", str(alloc),
                         "--invoices", str(path), "--out-dir", str(tmp_path / run),
                         "--report-date", "2024-03-05"])
        assert code == 0
        assert read_ahead._current is None
        out[run] = {p.relative_to(tmp_path / run): p.read_bytes()
                    for p in (tmp_path / run).rglob("*") if p.is_file()}
    capsys.readouterr()
    assert [hit for _, _, hit in taken].count(True) == 4  # the run reading ahead: 4 groups
    assert out["ahead"] == out["plain"]


def test_reading_ahead_loads_no_polars() -> None:
    # it begins before polars is imported, so that the imports and the reading overlap
    code = ("import sys, blanktrack.cli, blanktrack.usage.read_ahead; "
            "print('polars' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False"]
