"""Parquet text columns that hold one value in every row: told by the statistics, not read.

one_value_columns.one_value reads a column's row-group statistics; the dense scan codes such a
column as its one value and leaves it out of what pyarrow decodes. Held to the plain model
(tests/reference.py) on plain pages, dictionary pages, Categorical (Arrow dictionary) columns
and Categorical columns whose pages fell back to plain, with the one-value path forced (the
columns made one-valued) and asserted to have run.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from reference import Allocation, Invoice
from reference_period import HEAD, OTHER, PERIOD, as_read, chunks, ordered, periods
from test_shapes_dense import check

from blanktrack.usage import dense
from blanktrack.usage.one_value_columns import one_value

D = dt.date
ENCODINGS = ("plain", "dictionary-pages", "categorical", "categorical-fallen-to-plain")
ONE_VALUED = ("upload_status", "machine", "status", "seller_ban", "invoice_date")


def write(path: Path, rows: list[Invoice], encoding: str, optional: bool = True,
          row_group_size: int = 2, statistics: bool = True) -> Path:
    """The rows as one Parquet file, the text columns (all but the number) encoded so."""
    columns = {"invoice_number": [r.number for r in rows],
               "invoice_date": [r.date.isoformat() for r in rows],
               "seller_ban": [r.seller_ban for r in rows],
               "status": [r.status for r in rows]}
    if optional:
        columns["machine"] = [r.machine for r in rows]
        columns["upload_status"] = [r.upload_status for r in rows]
    categorical = encoding.startswith("categorical")
    table = pa.table({c: pa.array(v, pa.string()).dictionary_encode()
                      if categorical and c != "invoice_number" else pa.array(v, pa.string())
                      for c, v in columns.items()})
    options = {"categorical-fallen-to-plain": {"dictionary_pagesize_limit": 1,
                                               "data_page_size": 1}}.get(encoding, {})
    pq.write_table(table, path, row_group_size=row_group_size, write_statistics=statistics,
                   use_dictionary=encoding != "plain", **options)
    return path


ROWS = [Invoice("AB00000001", D(2024, 1, 2), HEAD, "issued", "accepted", "POS-1"),
        Invoice("AB00000002", D(2024, 1, 2), HEAD, "cancelled", "accepted", "POS-1"),
        Invoice("AB00000003", D(2024, 1, 3), HEAD, "issued", "accepted", "POS-1"),
        Invoice("AB00000004", D(2024, 1, 3), HEAD, "voided", "accepted", "POS-1"),
        Invoice("AB00000005", D(2024, 1, 4), HEAD, "issued", "accepted", "POS-1")]


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_the_statistics_tell_the_one_value_columns(tmp_path: Path, encoding: str) -> None:
    path = write(tmp_path / "invoices.parquet", ROWS, encoding)
    metadata = pq.read_metadata(path)
    assert metadata.num_row_groups == 3
    assert {c: one_value(metadata, c) for c in ("invoice_number", *ONE_VALUED)} == {
        "invoice_number": None, "invoice_date": None, "status": None,
        "seller_ban": "53567686", "machine": "POS-1", "upload_status": "accepted"}
    file = dense._parquet_file(path)
    assert file is not None
    assert file.one_values == {"seller_ban": "53567686", "machine": "POS-1",
                               "upload_status": "accepted"}
    assert sorted(file.columns) == ["invoice_date", "invoice_number", "status"]  # what is read


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_no_one_value_where_the_statistics_do_not_show_one(tmp_path: Path,
                                                           encoding: str) -> None:
    """A null, another value in a later row group, a file without statistics, a file without
    rows: the column is read."""
    late = [*ROWS[:4], Invoice("AB00000005", D(2024, 1, 4), HEAD, "issued", "failed", "POS-2")]
    a_null = [*ROWS[:4], Invoice("AB00000005", D(2024, 1, 4), HEAD, "issued", None, None)]
    for name, rows, statistics in (("late", late, True), ("null", a_null, True),
                                   ("none", ROWS, False), ("empty", [], True)):
        path = write(tmp_path / f"{name}.parquet", rows, encoding, statistics=statistics)
        metadata = pq.read_metadata(path)
        assert [one_value(metadata, c) for c in ("machine", "upload_status")] == [None, None]
        assert one_value(metadata, "seller_ban") == (HEAD if name in ("late", "null") else None)


def test_a_typed_date_of_one_day_is_read(tmp_path: Path) -> None:
    """Only text columns: a Date column's statistics are days, not the text validated."""
    path = tmp_path / "invoices.parquet"
    pq.write_table(pa.table({"invoice_number": ["AB00000001", "AB00000002"],
                             "invoice_date": pa.array([D(2024, 1, 2)] * 2, pa.date32()),
                             "seller_ban": [HEAD, HEAD], "status": ["issued", "issued"]}), path)
    file = dense._parquet_file(path)
    assert file is not None
    assert file.one_values == {"seller_ban": "53567686", "status": "issued"}
    assert sorted(file.columns) == ["invoice_date", "invoice_number"]


def test_a_nested_column_of_the_name_is_not_taken(tmp_path: Path) -> None:
    path = tmp_path / "nested.parquet"
    pq.write_table(pa.table({"machine": pa.array([{"machine": "POS-1"}] * 2)}), path)
    assert one_value(pq.read_metadata(path), "machine") is None  # its leaf is machine.machine


def spied_check(allocs: list[Allocation], rows: list[Invoice], parts: list[list[Invoice]],
                encoding: str, optional: bool, engine: str) -> None:
    """check() with the files written in `encoding`; each file's one-value columns must be the
    text columns whose rows there all hold one value (not a null), and the scan must have coded
    them as one value (_one_code ran)."""
    coded: list[str] = []
    one_code = dense._one_code
    columns = [c for c in ONE_VALUED if optional or c not in ("machine", "upload_status")]
    expected = [{c for c in columns if len(held := {getattr(r, FIELD[c]) for r in part}) == 1
                 and None not in held} for part in parts]

    def spy(rows_: int, value: str):  # type: ignore[no-untyped-def]
        coded.append(value)
        return one_code(rows_, value)

    def paths_of(folder: Path) -> list[Path]:
        paths = [write(folder / f"invoices_{k}.parquet", part, encoding, optional)
                 for k, part in enumerate(parts)]
        for path, one_valued in zip(paths, expected, strict=True):
            file = dense._parquet_file(path)
            assert file is not None and set(file.one_values) == one_valued
        return paths

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(dense, "_one_code", spy)
        check(allocs, rows, paths_of, engine)
    assert bool(coded) == any(expected), "the one-value columns were not coded as one value"


FIELD = {"invoice_date": "date", "seller_ban": "seller_ban", "status": "status",
         "machine": "machine", "upload_status": "upload_status"}


def test_one_value_rows_outside_the_slots_keep_their_values() -> None:
    """Rows the dense model leaves to polars (outside the allocations, another seller's number)
    take the one value of the columns that were not read: the upload failures are counted."""
    allocs = [Allocation(HEAD, "07", PERIOD, "AB", 0, 49), Allocation(OTHER, "08", PERIOD, "XA", 0, 49)]
    rows = [Invoice("AB00000001", D(2024, 1, 2), HEAD, "issued", "failed", "POS-1"),
            Invoice("AB00000070", D(2024, 1, 2), HEAD, "issued", "failed", "POS-1"),
            Invoice("XA00000003", D(2024, 1, 2), HEAD, "issued", "failed", "POS-1")]
    for encoding in ENCODINGS:
        spied_check(allocs, rows, [rows], encoding, True, "dense")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(period=periods(), encoding=st.sampled_from(ENCODINGS),
       one_valued=st.sets(st.sampled_from(ONE_VALUED)), optional=st.booleans(),
       order=st.sampled_from(("till", "date", "random")), seed=st.integers(0, 2**16),
       parts=st.integers(1, 3), engine=st.sampled_from(("dense", "dense-in-small-batches")))
@example(period=([Allocation(HEAD, "07", PERIOD, "AB", 0, 49)], ROWS), encoding="plain",
         one_valued={"invoice_date"}, optional=True, order="random", seed=1, parts=2,
         engine="dense-in-small-batches")
def test_one_value_columns_follow_the_model(period, encoding, one_valued, optional, order, seed,
                                            parts, engine) -> None:
    allocs, rows = period
    rows = as_read(rows, "canonical", optional)
    if not rows:
        return  # no file at all: nothing for the dense scan to take
    if "invoice_date" in one_valued:
        one_valued = one_valued | {"status"}  # one day for all: no void then re-issue to order
    first = rows[0]
    rows = [Invoice(r.number,
                    first.date if "invoice_date" in one_valued else r.date,
                    first.seller_ban if "seller_ban" in one_valued else r.seller_ban,
                    first.status if "status" in one_valued else r.status,
                    first.upload_status if "upload_status" in one_valued else r.upload_status,
                    first.machine if "machine" in one_valued else r.machine) for r in rows]
    spied_check(allocs, rows, chunks(ordered(rows, order, seed), parts), encoding, optional,
                engine)
