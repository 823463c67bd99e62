"""CSV invoices in the dense scan (usage/csv_batches.py). Held to the plain model of spec §3 with
the CSV path forced and seen to run, in every way a CSV is written (BOM, CRLF, quotes, Chinese
values, spaced capital headers, missing optional columns, read from disk or decoded in memory,
in batches of a few rows); and a file polars cannot read as it goes (a large file is checked
only at its head) declined, so that the validating path names file and line, where polars'
own error used to escape from the scanning thread.
"""

from __future__ import annotations

import codecs
import datetime as dt
import tempfile
import threading
from collections import Counter
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from reference import Allocation, Invoice, findings, upload_rows
from reference_period import (
    HEAD,
    PERIOD,
    canonical_frame,
    chunks,
    invoice_findings,
    ordered,
    periods,
    reconciled,
    write_allocations,
)
from reference_period import upload_rows as exported

from blanktrack import invoices
from blanktrack.errors import InputError
from blanktrack.usage import csv_batches, dense, engine
from blanktrack.usage.distinct_values import NotClean

D = dt.date
WHOLE = Allocation(HEAD, "07", PERIOD, "AB", 0, 99)
HEADER = "invoice_number,invoice_date,seller_ban,status,machine,upload_status"
STYLES = ("plain", "bom-crlf", "quoted", "spaced-capitals")


def tills_with_commas(rows: list[Invoice]) -> list[Invoice]:
    """The same rows, each till named in Chinese with a comma and quotes (a quoted field)."""
    return [Invoice(r.number, r.date, r.seller_ban, r.status, r.upload_status,
                    None if r.machine is None else f'收銀機 "{r.machine}", 一樓') for r in rows]


def write_csv(path: Path, frame: pl.DataFrame, style: str) -> Path:
    """One canonical CSV as a system might write it."""
    if style == "spaced-capitals":
        frame = frame.rename({c: f" {c.upper()} " for c in frame.columns})
    if style == "quoted":  # every value quoted, an empty (null) cell not: `""` is text
        lines = [frame.columns, *frame.iter_rows()]
        text = "".join(",".join("" if v is None else '"' + v.replace('"', '""') + '"'
                                for v in line) + "\n" for line in lines)
    else:
        text = frame.write_csv()
    data = text.encode("utf-8")
    if style == "bom-crlf":
        data = codecs.BOM_UTF8 + data.replace(b"\n", b"\r\n")
    path.write_bytes(data)
    return path


class Spy:
    """What the forced dense scan did: batches tallied through _csv_batch, its result."""

    def __init__(self, mp: pytest.MonkeyPatch) -> None:
        self.csv_batches = 0
        self.csv_rows = 0
        self.scanned: list[object] = []
        tally, scan = dense._Scan._csv_batch, engine.dense_scan

        def counted(work, t, i, batch, again):  # type: ignore[no-untyped-def]
            self.csv_batches += 1
            self.csv_rows += len(batch)
            return tally(work, t, i, batch, again)

        def recorded(*args, **kwargs):  # type: ignore[no-untyped-def]
            result = scan(*args, **kwargs)
            self.scanned.append(result)
            return result

        mp.setattr(dense._Scan, "_csv_batch", counted)
        mp.setattr(engine, "dense_scan", recorded)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(period=periods(), style=st.sampled_from(STYLES), from_disk=st.booleans(),
       order=st.sampled_from(("till", "date", "random")), seed=st.integers(0, 2**16),
       parts=st.integers(1, 3), optional=st.booleans(), chinese=st.booleans(),
       dates=st.sampled_from(("iso", "compact")), batch=st.sampled_from((7, 1 << 19)))
@example(period=([WHOLE], [Invoice("AB00000005", D(2024, 1, 3), HEAD, "issued")]),
         style="plain", from_disk=True, order="till", seed=0, parts=1, optional=True,
         chinese=False, dates="iso", batch=7)
@example(period=([WHOLE], [Invoice(f"AB{n:08d}", D(2024, 1, 1 + n % 28), HEAD,
                                   "voided" if n % 7 == 0 else "issued",
                                   "failed" if n % 5 == 0 else "accepted", f"POS-{n % 3}")
                           for n in range(0, 100, 2)]),
         style="bom-crlf", from_disk=True, order="random", seed=1, parts=2, optional=True,
         chinese=True, dates="iso", batch=7)
@example(period=([WHOLE], [Invoice(f"AB{n:08d}", D(2024, 2, 1), HEAD, "issued", None, "T1")
                           for n in range(60)]),
         style="quoted", from_disk=False, order="till", seed=0, parts=1, optional=True,
         chinese=False, dates="compact", batch=1 << 19)
def test_csv_through_the_dense_scan_follows_the_model(period, style, from_disk, order, seed,
                                                      parts, optional, chinese, dates,
                                                      batch) -> None:
    allocs, rows = period
    if not optional:
        rows = [Invoice(r.number, r.date, r.seller_ban, r.status) for r in rows]
    elif chinese:  # Chinese statuses (canonical_frame), and tills
        rows = tills_with_commas(rows)
    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as mp:
        folder = Path(tmp)
        spy = Spy(mp)
        mp.setattr(dense, "CSV_BATCH_ROWS", batch)
        if from_disk:  # every file scanned from disk by polars, not decoded in memory
            mp.setattr(invoices, "LARGE_FILE_BYTES", 0)
        paths = [write_csv(folder / f"invoices_{k}.csv",
                           canonical_frame(part, dates, optional, chinese), style)
                 for k, part in enumerate(chunks(ordered(rows, order, seed), parts))]
        result = reconciled(write_allocations(folder, allocs), paths, "dense")
        got_rows, got_findings = exported(result), invoice_findings(result)
    assert got_rows == sorted(upload_rows(allocs, rows, PERIOD, "none")), "upload rows"
    assert got_findings == findings(allocs, rows, PERIOD), "invoice findings per number"
    if rows:  # the CSV path ran, every row through it, and its result was used
        assert spy.csv_rows == len(rows)
        assert spy.scanned and spy.scanned[-1] is not None
        if batch == 7 and len(rows) > 7 * parts:
            assert spy.csv_batches > parts


def _large(mp: pytest.MonkeyPatch) -> None:
    mp.setattr(invoices, "LARGE_FILE_BYTES", 0)


ROWS = [f"AB{n:08d},2024-01-05,{HEAD},issued,POS-1,accepted" for n in range(6)]


def _batches(path: Path) -> list[pl.DataFrame]:
    return list(csv_batches.CsvBatches(path).collect_batches(1 << 19))


@pytest.mark.parametrize(("name", "data", "line"), [
    # polars reads the line with a bare CR as one line of 11 fields.
    ("bare-cr", (HEADER + "\n" + ROWS[0] + "\r" + "\n".join(ROWS[1:]) + "\n").encode(), 2),
    # polars fills the row with nulls: the validating path names the empty fields.
    ("too-few-fields", (HEADER + "\n" + "\n".join(ROWS[:3]) + "\nAB00000009,2024-01-05\n"
                        ).encode(), 5),
    ("too-many-fields", (HEADER + "\n" + "\n".join(ROWS[:2]) + "\n" + ROWS[2] + ",x\n"
                         ).encode(), 4),
    ("not-utf-8", (HEADER + "\n" + "\n".join(ROWS) + "\n").encode()
     + f"AB00000099,2024-01-05,{HEAD},開立,POS-1,accepted\n".encode("cp950"), 8),
])
def test_what_polars_cannot_read_is_declined(tmp_path: Path, name: str, data: bytes,
                                            line: int) -> None:
    """Each is declined by the dense scan (NotClean in the scanning thread where polars cannot
    read the file; the empty fields' values otherwise); the validating path then names the
    file and the line."""
    path = tmp_path / f"{name}.csv"
    path.write_bytes(data)
    with pytest.MonkeyPatch.context() as mp:
        _large(mp)
        if name == "not-utf-8":  # in the head: the file checks the batches make first
            with pytest.raises(InputError, match="not UTF-8"):
                _batches(path)
        elif name != "too-few-fields":
            with pytest.raises(NotClean):
                _batches(path)
        spy = Spy(mp)
        with pytest.raises(InputError) as error:
            reconciled(write_allocations(tmp_path, [WHOLE]), [path], "dense")
        assert f"{path}:{line}:" in str(error.value)
    # Bytes not UTF-8 in a large file's head: its file checks, made by the scanning thread
    # before polars reads it, raise the same error, and the scan ends there.
    assert spy.scanned == ([] if name == "not-utf-8" else [None])


def test_a_blank_line_goes_the_validating_path(tmp_path: Path) -> None:
    """A blank line is a row of nulls: the dense scan declines, and the validating path's report
    is the one given."""
    path = tmp_path / "blank.csv"
    path.write_text(HEADER + "\n" + ROWS[0] + "\n\n" + "\n".join(ROWS[1:]) + "\n")
    allocations = write_allocations(tmp_path, [WHOLE])
    with pytest.MonkeyPatch.context() as mp:
        _large(mp)
        spy = Spy(mp)
        forced = reconciled(allocations, [path], "dense")
        assert spy.scanned == [None]
        validated = reconciled(allocations, [path], "validate-then-aggregate")
    assert exported(forced) == exported(validated)
    assert invoice_findings(forced) == invoice_findings(validated)


def test_a_bad_value_ends_on_the_validating_path(tmp_path: Path) -> None:
    """A seller BAN of seven digits on line 4: declined by the dense scan's value check, named
    with file, line and field by the validating path."""
    path = tmp_path / "bad.csv"
    bad = ROWS[2].replace(HEAD, HEAD[1:])
    path.write_text(HEADER + "\n" + "\n".join([*ROWS[:2], bad, *ROWS[3:]]) + "\n")
    with pytest.MonkeyPatch.context() as mp:
        _large(mp)
        spy = Spy(mp)
        with pytest.raises(InputError) as error:
            reconciled(write_allocations(tmp_path, [WHOLE]), [path], "dense")
    assert spy.csv_rows == len(ROWS) and spy.scanned == [None]
    message = str(error.value)
    assert f"{path}:4:" in message and "seller_ban" in message


def test_a_small_big5_file_is_decoded_in_memory(tmp_path: Path) -> None:
    """A small file in cp950 (Chinese statuses) is decoded as the validating path decodes it
    and scanned as one batch: no decline."""
    path = tmp_path / "big5.csv"
    rows = [f"AB{n:08d},2024-01-05,{HEAD},{'開立' if n % 2 else '作廢'},POS-1,accepted"
            for n in range(6)]
    path.write_bytes((HEADER + "\r\n" + "\r\n".join(rows) + "\r\n").encode("cp950"))
    assert not invoices.read_from_disk(path, str(path))
    with pytest.MonkeyPatch.context() as mp:
        spy = Spy(mp)
        result = reconciled(write_allocations(tmp_path, [WHOLE]), [path], "dense")
    assert spy.csv_rows == 6 and spy.scanned[-1] is not None
    want = [Invoice(f"AB{n:08d}", D(2024, 1, 5), HEAD, "issued" if n % 2 else "cancelled",
                    "accepted", "POS-1") for n in range(6)]
    assert exported(result) == sorted(upload_rows([WHOLE], want, PERIOD, "none"))
    assert invoice_findings(result) == Counter(findings([WHOLE], want, PERIOD))


@pytest.mark.parametrize("missing", [("machine",), ("upload_status",), ("machine",
                                                                        "upload_status")])
def test_missing_optional_columns_are_null(tmp_path: Path, missing: tuple[str, ...]) -> None:
    """A file without machine or upload_status: those columns come all null."""
    frame = pl.DataFrame({"invoice_number": ["AB00000001"], "invoice_date": ["2024-01-05"],
                          "seller_ban": [HEAD], "status": ["issued"], "machine": ["POS-1"],
                          "upload_status": ["accepted"]}).drop(missing)
    path = write_csv(tmp_path / "a.csv", frame, "plain")
    (batch,) = _batches(path)
    assert batch.columns == list(invoices.RAW_COLUMNS)
    assert [batch[c].null_count() for c in missing] == [1] * len(missing)


def test_bytes_not_utf8_beyond_the_checked_head_are_named(tmp_path: Path) -> None:
    """A large file is checked for its encoding in its first MiB only: a Big5 line after it
    made polars' error escape from the dense scan; now the validating path names the line."""
    path = tmp_path / "late-big5.csv"
    good = "".join(f"AB{n % 100:08d},2024-01-05,{HEAD},issued,POS-1,accepted\n"
                   for n in range(30_000))  # 1.5 MB
    bad = f"AB00000099,2024-01-05,{HEAD},開立,POS-1,accepted\n".encode("cp950")
    path.write_bytes((HEADER + "\n" + good).encode() + bad)
    with pytest.MonkeyPatch.context() as mp:
        _large(mp)
        spy = Spy(mp)
        with pytest.raises(InputError) as error:
            reconciled(write_allocations(tmp_path, [WHOLE]), [path], "dense")
    assert spy.scanned == [None]
    assert f"{path}:30002:" in str(error.value) and "not UTF-8" in str(error.value)


def test_a_file_without_a_required_column_is_declined(tmp_path: Path) -> None:
    """Its file checks are made in the scanning thread, before its frame: the scan ends there
    with the InputError naming the file and the missing column (its batches, read alone, the
    same)."""
    path = tmp_path / "no-status.csv"
    path.write_text(HEADER.replace(",status", "") + "\n"
                    + "\n".join(r.replace(",issued", "") for r in ROWS) + "\n")
    with pytest.raises(InputError, match="missing column"):
        _batches(path)
    with pytest.MonkeyPatch.context() as mp:
        _large(mp)
        spy = Spy(mp)
        with pytest.raises(InputError) as error:
            reconciled(write_allocations(tmp_path, [WHOLE]), [path], "dense")
    assert spy.scanned == [] and spy.csv_rows == 0
    assert f"{path}:1:" in str(error.value) and "missing column(s) status" in str(error.value)


@pytest.mark.parametrize("small", [True, False])
def test_csv_files_are_looked_at_by_the_scanning_threads(tmp_path: Path, small: bool) -> None:
    """Whether polars may read a file from disk (a small file is read whole to know) is asked
    first by the thread that scans the file, not by the main thread before the threads start
    (two hundred daily files kept a core idle meanwhile); the file checks after the scan ask
    again (the answer is kept per file)."""
    paths = []
    for k in range(4):
        paths.append(tmp_path / f"day-{k}.csv")
        paths[-1].write_text(HEADER + "\n" + "\n".join(r.replace("AB0000000", f"AB000000{k}")
                                                        for r in ROWS) + "\n")
    asked: list[tuple[str, str]] = []

    def recorded(ask):  # type: ignore[no-untyped-def]
        def asking(path: Path, name: str):  # type: ignore[no-untyped-def]
            asked.append((Path(path).name, threading.current_thread().name))
            return ask(path, name)
        return asking

    with pytest.MonkeyPatch.context() as mp:
        if not small:
            _large(mp)
        # asked as read_from_disk, or (the dense scan) as plain_bytes, which keeps the bytes
        for ask in ("read_from_disk", "plain_bytes"):
            mp.setattr(invoices, ask, recorded(getattr(invoices, ask)))
        spy = Spy(mp)
        reconciled(write_allocations(tmp_path, [WHOLE]), paths, "dense")
    assert spy.csv_rows == 4 * len(ROWS) and spy.scanned[-1] is not None
    first = {}
    for name, thread in asked:
        first.setdefault(name, thread)
    assert sorted(first) == [p.name for p in paths]
    assert all(thread.startswith("blanktrack-scan-") for thread in first.values()), first
