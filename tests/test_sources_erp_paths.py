"""An ERP export through each way the engine reads it (the dense scan, the one-pass polars
path, the validating path), read in memory or streamed from the file: the report of the
canonical table of the same invoices. The reader hands the engine the few-valued columns as
codes (Categorical), so these tests hold each path to the same answer with them."""

from __future__ import annotations

import polars as pl
import pyarrow.parquet as pq
import pytest
from sources_period import BRANCH, HEAD, blanks, codes, run, write_allocations, write_canonical
from test_sources_tables import ERP_HEADER, INVOICES, _erp_rows, _platform_text

from blanktrack.errors import InputError
from blanktrack.sources import streamed
from blanktrack.sources.resolve import read_inputs
from blanktrack.usage import engine

# Padded cells, as fixed-width ERP exports write them: 字軌, 號碼, date, BAN, status, till.
PADDED = (
    f"S0, 103/11/01 ,{HEAD}, AB ,00000000 , 開立,POS-0 ,100\n"
    f"S1,1031105,{HEAD},AB, 00000001,作廢 , POS-0,101\n"
    f"S2,103/12/31, {HEAD} ,AB,00000002,開立,POS-0,102\n"
    f"S3,103/11/20,{BRANCH},CD,00000100,開立,,103\n"
    f"S4,1031121,{BRANCH},CD,00000107,開立,,104\n"  # 101–106 skipped: a finding
)
PADDED_CANONICAL = [*INVOICES, ("CD00000107", "2014-11-21", BRANCH, "issued")]


@pytest.fixture(params=["dense", "one-pass", "validating"])
def engine_path(request, monkeypatch):
    if request.param == "dense":
        monkeypatch.setattr(engine, "DENSE_MIN_ROWS", 0)  # a small period takes it too
    elif request.param == "validating":
        monkeypatch.setattr(engine, "fast_usage", lambda *a: None)
    return request.param


@pytest.fixture(params=["in-memory", "streamed"])
def reading(request, monkeypatch):
    if request.param == "streamed":
        monkeypatch.setattr(streamed, "STREAM_MIN_BYTES", 0)
    return request.param


def test_padded_erp_csv_gives_the_report_of_the_canonical_table(tmp_path, engine_path, reading):
    alloc = write_allocations(tmp_path)
    erp = tmp_path / "erp.csv"
    erp.write_text(ERP_HEADER + PADDED, encoding="utf-8")
    canonical = run(alloc, [write_canonical(tmp_path / "c.csv", PADDED_CANONICAL)])
    result = run(alloc, [erp])
    assert blanks(result) == blanks(canonical)
    assert (HEAD, "AB", "00000003", "00000099") in blanks(result)
    assert codes(result) == codes(canonical)
    assert "skipped-number" in codes(result)  # spec §4: CD00000101–106
    assert result.input_kinds[-1].rows == 5
    assert sorted(result.issuing["machine"].drop_nulls().unique().to_list()) == ["POS-0"]


def test_erp_bad_date_is_named_by_original_file_line_and_field(tmp_path, engine_path,
                                                                reading):
    alloc = write_allocations(tmp_path)
    erp = tmp_path / "erp.csv"
    erp.write_text(ERP_HEADER + PADDED.replace("103/11/20", "103/11/31"), encoding="utf-8")
    with pytest.raises(InputError) as err:
        run(alloc, [erp])
    problem = err.value.problems[0]
    assert (problem.file, problem.line, problem.field) == (str(erp), 5, "invoice_date")
    assert "'2014-11-31' is not a real calendar date" in problem.message


def test_erp_few_valued_columns_reach_the_engine_as_codes(tmp_path):
    erp = tmp_path / "erp.csv"
    erp.write_text(ERP_HEADER + PADDED, encoding="utf-8")
    work = tmp_path / "work"
    work.mkdir()
    read = read_inputs([], [erp], work)
    schema = pq.read_schema(read.invoice_paths[0])
    for column in ("invoice_date", "seller_ban", "status", "machine"):
        assert str(schema.field(column).type).startswith("dictionary<values=string"), column
    assert str(schema.field("invoice_number").type) in ("string", "large_string", "string_view")
    rows = pl.read_parquet(read.invoice_paths[0]).with_columns(pl.all().cast(pl.String))
    assert rows.row(0) == ("AB00000000", "2014-11-01", HEAD, "開立", "POS-0", None,
                           str(erp), "2")
    assert rows.row(3)[4] is None  # an empty till: no till


def test_folder_of_two_erp_exports_and_a_platform_download(tmp_path, engine_path):
    """Each table's codes have categories of their own: joined as text, the same report."""
    alloc = write_allocations(tmp_path)
    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "a.csv").write_text(ERP_HEADER + _erp_rows("roc-slash"), encoding="utf-8")
    (folder / "b.csv").write_text(ERP_HEADER + PADDED.splitlines(keepends=True)[-1],
                                  encoding="utf-8")
    (folder / "download.csv").write_text(_platform_text().replace("AB00000002", "AB00000009"),
                                         encoding="utf-8")
    every = [*PADDED_CANONICAL, ("AB00000009", "2014-12-31", HEAD, "issued")]
    canonical = run(alloc, [write_canonical(tmp_path / "c.csv", every)])
    result = run(alloc, [folder])
    assert blanks(result) == blanks(canonical)
    assert (HEAD, "AB", "00000010", "00000099") in blanks(result)
    found = result.input_kinds[-1]
    assert (dict(found.kinds), found.rows) == ({"ERP csv": 2, "platform download": 1}, 9)


def test_erp_row_with_an_empty_track_is_named_by_line_and_field(tmp_path, engine_path, reading):
    alloc = write_allocations(tmp_path)
    erp = tmp_path / "erp.csv"
    rows = PADDED.splitlines(keepends=True)
    rows[2] = rows[2].replace(",AB,", ",  ,")  # line 4: 字軌 blank, 號碼 00000002
    erp.write_text(ERP_HEADER + "".join(rows), encoding="utf-8")
    with pytest.raises(InputError) as err:
        run(alloc, [erp])
    problem = err.value.problems[0]
    assert (problem.file, problem.line, problem.field) == (str(erp), 4, "invoice_number")
    assert "00000002" in problem.message


def test_canonical_parquet_with_categorical_columns_of_their_own(tmp_path, engine_path):
    """A Categorical read back from Parquet has categories of its own (not the default ones):
    still text to the engine, as the ERP reader's own Parquet is."""
    alloc = write_allocations(tmp_path)
    canonical = write_canonical(tmp_path / "c.csv", PADDED_CANONICAL)
    frame = pl.read_csv(canonical, infer_schema=False)
    coded = tmp_path / "coded.parquet"
    frame.with_columns(pl.col("invoice_date", "seller_ban", "status").cast(
        pl.Categorical(pl.Categories.random()))).write_parquet(coded)
    assert isinstance(pl.read_parquet_schema(coded)["status"], pl.Categorical)
    result = run(alloc, [coded])
    assert blanks(result) == blanks(run(alloc, [canonical]))
    assert codes(result) == codes(run(alloc, [canonical]))
