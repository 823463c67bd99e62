"""The dense scan on every Parquet column type a real system writes, held to the plain model.

Each shape is the canonical table with its columns stored another way: the date as date32,
date64 or a timestamp (any unit, with or without a time zone), text as plain, large, view or
dictionary strings, the seller as an integer (its leading zeros lost, as a database writes it).
The dense scan must take every one of them itself (not decline it to the polars paths) and
find what tests/reference.py finds; a timestamp counts on its calendar day in its own time zone,
as the validate-then-aggregate path reads it.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from reference import Allocation, Invoice, findings, upload_rows
from reference_period import (
    BRANCH,
    FAR,
    HEAD,
    OTHER,
    PERIOD,
    as_read,
    chunks,
    invoice_findings,
    ordered,
    periods,
    reconciled,
    write_allocations,
)
from reference_period import upload_rows as exported

from blanktrack.usage import dense

D = dt.date
DATES = ("date32", "date64", "timestamp-s", "timestamp-ms", "timestamp-us", "timestamp-ns",
         "timestamp-us-Asia/Taipei", "timestamp-ns-UTC", "text")
TEXTS = ("string", "large_string", "string_view", "dictionary")

# Dates from far before to far after the period (the days spread wider than dense.DAY_SPAN),
# a BAN with a leading zero (BRANCH), every status, both upload results, tills and none.
MIXED = ([Allocation(HEAD, "07", PERIOD, "AB", 0, 99),
          Allocation(BRANCH, "07", PERIOD, "CD", 50, 149, HEAD),
          Allocation(OTHER, "08", PERIOD, "XA", 0, 49)],
         [Invoice("AB00000001", D(2024, 1, 1), HEAD, "issued", "accepted", "POS-1"),
          Invoice("AB00000002", D(2024, 2, 29), HEAD, "cancelled", None, "POS-1"),
          Invoice("AB00000003", D(2023, 12, 31), HEAD, "voided", "failed", "POS-1"),
          Invoice("AB00000060", D(2024, 3, 1), HEAD, "issued", None, None),
          Invoice("AB00000061", FAR[0], HEAD, "issued", None, None),
          Invoice("AB00000062", D(1969, 12, 31), HEAD, "issued", None, None),  # before day 0
          Invoice("CD00000070", D(2024, 1, 15), BRANCH, "issued", "failed", "POS-2"),
          Invoice("CD00000071", FAR[1], BRANCH, "issued", None, "POS-2"),
          Invoice("CD00000200", D(2024, 1, 16), BRANCH, "issued", None, "POS-2"),
          Invoice("XA00000010", D(2024, 2, 1), OTHER, "issued", "accepted", "POS-9")])


def _date_array(days: list[dt.date], shape: str) -> pa.Array:
    """The dates as `shape` stores them: a timestamp is the day's 09:30 in its time zone (UTC
    when it has none), so its day there is the invoice's date."""
    if shape == "text":
        return pa.array([d.isoformat() for d in days], pa.string())
    if shape.startswith("date"):
        return pa.array(days, pa.date32() if shape == "date32" else pa.date64())
    _, unit, *zone = shape.split("-", 2)
    # A naive timestamp is its wall-clock time; Asia/Taipei has had no summer time since 1979.
    tz = dt.timezone(dt.timedelta(hours=8)) if zone == ["Asia/Taipei"] else dt.UTC
    stamps = [dt.datetime(d.year, d.month, d.day, 9, 30, tzinfo=tz) for d in days]
    return pa.array(stamps, pa.timestamp(unit, tz=zone[0] if zone else None))


def _text_array(values: list[str | None], shape: str) -> pa.Array:
    if shape == "dictionary":
        return pa.array(values, pa.string()).dictionary_encode()
    return pa.array(values, getattr(pa, shape)())


def write_shape(folder: Path, parts: list[list[Invoice]], dates: str, texts: str,
                integer_ban: bool, optional: bool) -> list[Path]:
    paths = []
    for k, part in enumerate(parts):
        columns = {
            "invoice_number": _text_array([r.number for r in part], texts),
            "invoice_date": _date_array([r.date for r in part], dates),
            "seller_ban": (pa.array([int(r.seller_ban) for r in part], pa.int64()) if integer_ban
                           else _text_array([r.seller_ban for r in part], texts)),
            "status": _text_array([r.status for r in part], texts),
        }
        if optional:
            columns["machine"] = _text_array([r.machine for r in part], texts)
            columns["upload_status"] = _text_array([r.upload_status for r in part], texts)
        path = folder / f"invoices_{k}.parquet"
        pq.write_table(pa.table(columns), path, row_group_size=4)
        paths.append(path)
    return paths


def check(allocs: list[Allocation], rows: list[Invoice], paths_of, engine: str) -> None:
    """Reconcile with the dense scan forced; it must take the files itself and agree with the
    model (upload rows, invoice findings per number)."""
    taken: list[bool] = []
    scan = dense.scan

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        result = scan(*args, **kwargs)
        taken.append(result is not None)
        return result

    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as mp:
        mp.setattr(dense, "scan", spy)
        folder = Path(tmp)
        result = reconciled(write_allocations(folder, allocs), paths_of(folder), engine)
    assert taken == [True], "the dense scan declined the files"
    assert exported(result) == sorted(upload_rows(allocs, rows, PERIOD, "none")), "upload rows"
    assert invoice_findings(result) == findings(allocs, rows, PERIOD), "invoice findings"


@pytest.mark.parametrize("dates", DATES)
@pytest.mark.parametrize("texts", TEXTS)
def test_every_column_type_takes_the_dense_scan(dates: str, texts: str) -> None:
    allocs, rows = MIXED
    check(allocs, rows, lambda folder: write_shape(folder, [rows], dates, texts, False, True),
          "dense")


@pytest.mark.parametrize("dates", ["date32", "text"])
def test_an_integer_seller_takes_the_dense_scan(dates: str) -> None:
    """A seller BAN stored as an integer loses its leading zero (04595257 → 4595257): the
    validation restores it, and so does the dense scan."""
    allocs, rows = MIXED
    check(allocs, rows, lambda folder: write_shape(folder, [rows], dates, "string", True, True),
          "dense-in-small-batches")


def test_a_timestamp_counts_on_its_day_in_its_own_time_zone(tmp_path: Path) -> None:
    """2024-02-29 20:00 UTC is 2024-03-01 in Taiwan: a UTC column counts it on the 29th (in
    the period), as validate-then-aggregate does; the same instant stored in Asia/Taipei counts
    on 1 March (next to the period: a dated-outside-period warning)."""
    allocs = [Allocation(HEAD, "07", PERIOD, "AB", 0, 49)]
    instant = dt.datetime(2024, 2, 29, 20, 0, tzinfo=dt.UTC)
    for zone, outside in (("UTC", 0), ("Asia/Taipei", 1)):
        folder = tmp_path / zone.replace("/", "-")
        folder.mkdir()
        path = folder / "invoices.parquet"
        pq.write_table(pa.table({
            "invoice_number": ["AB00000001"], "seller_ban": [HEAD], "status": ["issued"],
            "invoice_date": pa.array([instant], pa.timestamp("us", tz=zone))}), path)
        counts = []
        for engine in ("dense", "validate-then-aggregate"):
            result = reconciled(write_allocations(folder, allocs), [path], engine)
            counts.append(invoice_findings(result)[("dated-outside-period", HEAD, "AB00000001")])
        assert counts == [outside, outside]


def test_a_null_date_is_left_to_the_validation(tmp_path: Path) -> None:
    """An empty Date cell: the dense scan declines the file, and the polars path names it."""
    path = tmp_path / "invoices.parquet"
    pq.write_table(pa.table({
        "invoice_number": ["AB00000001", "AB00000002"], "seller_ban": [HEAD, HEAD],
        "status": ["issued", "issued"],
        "invoice_date": pa.array([D(2024, 1, 2), None], pa.date32())}), path)
    from blanktrack.errors import InputError

    with pytest.raises(InputError, match=r"invoices\.parquet.*invoice_date"):
        reconciled(write_allocations(tmp_path, [Allocation(HEAD, "07", PERIOD, "AB", 0, 49)]),
                   [path], "dense")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(period=periods(), dates=st.sampled_from(DATES), texts=st.sampled_from(TEXTS),
       integer_ban=st.booleans(), order=st.sampled_from(("till", "date", "random")),
       seed=st.integers(0, 2**16), parts=st.integers(1, 3), optional=st.booleans(),
       engine=st.sampled_from(("dense", "dense-in-small-batches")))
@example(period=MIXED, dates="timestamp-ns-UTC", texts="string_view", integer_ban=True,
         order="random", seed=3, parts=2, optional=True, engine="dense-in-small-batches")
@example(period=MIXED, dates="date64", texts="dictionary", integer_ban=False, order="date",
         seed=0, parts=1, optional=False, engine="dense")
def test_typed_shapes_follow_the_model(period, dates, texts, integer_ban, order, seed, parts,
                                       optional, engine) -> None:
    allocs, rows = period
    rows = as_read(rows, "canonical", optional)
    if not rows:
        return  # no file at all: nothing for the dense scan to take
    check(allocs, rows, lambda folder: write_shape(
        folder, chunks(ordered(rows, order, seed), parts), dates, texts, integer_ban, optional),
        engine)


def test_the_finding_counts_are_literal() -> None:
    """The model's counts for MIXED, written out from the spec (§3, §4), so that check() is
    not only the model agreeing with itself."""
    allocs, rows = MIXED
    assert findings(allocs, rows, PERIOD) == Counter({
        ("dated-outside-period", HEAD, "AB00000003"): 1,
        ("dated-outside-period", HEAD, "AB00000060"): 1,
        ("dated-far-from-period", HEAD, "AB00000061"): 1,
        ("dated-far-from-period", HEAD, "AB00000062"): 1,
        ("dated-far-from-period", BRANCH, "CD00000071"): 1,
        ("outside-allocation", BRANCH, "CD00000200"): 1,
        ("void-not-reissued", HEAD, "AB00000003"): 1,
        ("upload-failed", HEAD, "AB00000003"): 1,
        ("upload-failed", BRANCH, "CD00000070"): 1,
    })


def test_a_span_of_days_is_coded_with_the_text_the_validation_reads() -> None:
    """A typed batch's days are coded from its first day, their text kept per span: a second
    batch of the same span gets the same text (a copy: the caller's list is its own)."""
    days = pa.array([D(2024, 1, 3), D(2023, 12, 31), D(2024, 1, 3)], pa.date32())
    for _ in range(2):
        codes, text = dense._day_codes(days)
        assert codes.tolist() == [3, 0, 3]
        assert text == ["2023-12-31", "2024-01-01", "2024-01-02", "2024-01-03"]
        text.append(None)
    stamps = pa.array([dt.datetime(1969, 12, 31, 23, 59)], pa.timestamp("ms"))
    assert [c.tolist() for c in dense._day_codes(stamps)[:1]] == [[0]]
    assert dense._day_codes(stamps)[1] == ["1969-12-31"]


def _pools_seen(monkeypatch: pytest.MonkeyPatch) -> tuple[str, list[str], str]:
    """(pyarrow's default pool before, the default pool while dense.scan ran, after) of a
    reconciliation of MIXED with the dense scan forced, which must agree with the model."""
    seen: list[str] = []
    scan = dense.scan

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(pa.default_memory_pool().backend_name)
        return scan(*args, **kwargs)

    monkeypatch.setattr(dense, "scan", spy)
    before = pa.default_memory_pool().backend_name
    allocs, rows = MIXED
    check(allocs, rows, lambda folder: write_shape(folder, [rows], "timestamp-us", "string",
                                                   False, True), "dense")
    return before, seen, pa.default_memory_pool().backend_name


@pytest.mark.skipif("jemalloc" not in pa.supported_memory_backends(),
                    reason="this pyarrow is built without jemalloc")
def test_the_scan_reads_into_jemalloc_and_puts_the_default_pool_back(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL", raising=False)
    before, seen, after = _pools_seen(monkeypatch)
    assert seen == ["jemalloc"]
    assert after == before


def test_a_pool_the_user_chose_is_kept_for_the_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    """ARROW_DEFAULT_MEMORY_POOL (read by pyarrow at import) is the user's word: not overridden."""
    monkeypatch.setenv("ARROW_DEFAULT_MEMORY_POOL", "system")
    before, seen, after = _pools_seen(monkeypatch)
    assert seen == [before]
    assert after == before


@pytest.mark.skipif("jemalloc" not in pa.supported_memory_backends(),
                    reason="this pyarrow is built without jemalloc")
def test_the_default_pool_is_put_back_when_the_scan_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    from blanktrack.usage import engine

    monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL", raising=False)
    before = pa.default_memory_pool().backend_name

    def failing(*args, **kwargs):  # type: ignore[no-untyped-def]
        assert pa.default_memory_pool().backend_name == "jemalloc"
        raise OSError("disk gone")

    monkeypatch.setattr(dense, "scan", failing)
    with pytest.raises(OSError, match="disk gone"):
        engine.dense_scan([], PERIOD, None, None)  # type: ignore[arg-type]
    assert pa.default_memory_pool().backend_name == before


@pytest.mark.parametrize(("first", "last", "text"), [
    (D(2024, 1, 1), D(2024, 1, 2), ["2024-01-01", "2024-01-02"]),
    # across two blocks of dense.DAY_BLOCK (256) days: 2023-12-21 is day 19712 = 77 * 256
    (D(2023, 12, 20), D(2023, 12, 22), ["2023-12-20", "2023-12-21", "2023-12-22"]),
    (D(1969, 12, 30), D(1970, 1, 2), ["1969-12-30", "1969-12-31", "1970-01-01", "1970-01-02"]),
    (D(1, 1, 1), D(1, 1, 2), ["0001-01-01", "0001-01-02"]),
    (D(9999, 12, 30), D(9999, 12, 31), ["9999-12-30", "9999-12-31"]),
])
def test_the_text_of_a_span_of_days_at_the_edges_of_its_blocks(first: dt.date, last: dt.date,
                                                               text: list[str]) -> None:
    days = pa.array([last, first], pa.date32())
    codes, made = dense._day_codes(days)
    assert codes.tolist() == [len(text) - 1, 0]
    assert made == text
