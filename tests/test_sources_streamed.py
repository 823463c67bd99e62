"""Large platform downloads and ERP CSVs are read by polars straight from the file (issue 15):
the same rows, lines and messages as the in-memory path, and a bad byte past the first MiB
named by file. STREAM_MIN_BYTES is lowered so that small files take the streamed path, and
textio's decoder is made to fail so that a test cannot pass through the in-memory path."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sources_period import BRANCH, HEAD, blanks, run, write_allocations, write_canonical
from test_sources_tables import ERP_HEADER, INVOICES, _erp_rows, _m_row, _platform_text

from blanktrack import textio
from blanktrack.errors import InputError
from blanktrack.sources import streamed
from blanktrack.sources.dates import iso_date_expr, iso_dates
from blanktrack.sources.erp import STATUS_WORDS, UPLOAD_WORDS, PerCategory, per_distinct


def _stream(mp: pytest.MonkeyPatch) -> None:
    """Every invoice table streamed; decoding one in memory fails the test (the allocation
    table is still decoded by textio)."""
    mp.setattr(streamed, "STREAM_MIN_BYTES", 0)
    decode = textio.read_text

    def guarded(path):
        if "allocations" not in str(path):
            pytest.fail(f"{path} was decoded in memory")
        return decode(path)

    mp.setattr(textio, "read_text", guarded)


@pytest.fixture
def stream_all(monkeypatch):
    _stream(monkeypatch)


def test_platform_download_streamed_gives_the_blanks_of_the_canonical_table(tmp_path):
    alloc = write_allocations(tmp_path)
    canonical = run(alloc, [write_canonical(tmp_path / "c.csv", INVOICES)])
    download = tmp_path / "download.csv"
    download.write_text(_platform_text(), encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        _stream(mp)
        result = run(alloc, [download])
    assert blanks(result) == blanks(canonical)
    assert result.input_kinds[-1].rows == 4


def test_streamed_short_m_row_and_unknown_status_are_named_by_line(tmp_path, stream_all):
    alloc = write_allocations(tmp_path)
    download = tmp_path / "download.csv"
    good = _m_row("AB00000000", "20141101", HEAD, "開立已確認")
    short = ",".join(good.split(",")[:20])
    download.write_text(f"{good}\n\n{short}\n{short}\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        run(alloc, [download])
    problem = err.value.problems[0]
    assert (problem.file, problem.line, problem.field) == (str(download), 3, None)
    assert problem.message == "an M row has 20 fields, expected 28 (M and the 27 invoice columns)"
    assert err.value.more == 1
    download.write_text(f"{good}\r\n{_m_row('AB00000001', '20141102', HEAD, '註銷')}\r\n",
                        encoding="utf-8")
    with pytest.raises(InputError) as err:
        run(alloc, [download])
    problem = err.value.problems[0]
    assert (problem.line, problem.field) == (2, "發票狀態")
    assert problem.message.startswith("status '註銷' is not one blanktrack knows (開立已確認, ")


@pytest.mark.parametrize("date_style", ["roc-slash", "roc-compact", "western"])
def test_erp_csv_streamed_gives_the_blanks_of_the_canonical_table(tmp_path, date_style):
    alloc = write_allocations(tmp_path)
    canonical = run(alloc, [write_canonical(tmp_path / "c.csv", INVOICES)])
    erp = tmp_path / "erp.csv"
    erp.write_text("\n" + ERP_HEADER + _erp_rows(date_style), encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        _stream(mp)
        result = run(alloc, [erp])
    assert blanks(result) == blanks(canonical)
    assert set(result.issuing["machine"].to_list()) == {"POS-0", "POS-1"}


def test_erp_csv_streamed_bad_value_names_file_line_and_field(tmp_path, stream_all):
    alloc = write_allocations(tmp_path)
    erp = tmp_path / "erp.csv"
    erp.write_text("\n" + ERP_HEADER + _erp_rows("roc-slash").replace("103/11/20", "103/11/31"),
                   encoding="utf-8")
    with pytest.raises(InputError) as err:
        run(alloc, [erp])
    problem = err.value.problems[0]
    assert (problem.file, problem.line, problem.field) == (str(erp), 6, "invoice_date")


def test_a_byte_that_is_no_utf8_past_the_first_mib_is_named_by_file(tmp_path, stream_all):
    alloc = write_allocations(tmp_path)
    erp = tmp_path / "erp.csv"
    row = f"S,103/11/20,{BRANCH},CD,00000100,開立,POS-0,100\n"
    filler = row * (2**20 // len(row.encode("utf-8")) + 10)
    erp.write_bytes((ERP_HEADER + filler).encode("utf-8") + b"S,103/11/20,\xa4\xa4,CD\n")
    with pytest.raises(InputError) as err:
        run(alloc, [erp])
    problem = err.value.problems[0]
    assert problem.file == str(erp)
    assert "cannot read the file" in problem.message and "UTF-8" in problem.fix


_DATES = st.one_of(
    st.dates(dt.date(1912, 1, 1), dt.date(2099, 12, 31)).flatmap(lambda d: st.sampled_from([
        d.isoformat(), f"{d.year}/{d.month}/{d.day}", f"{d.year - 1911:03d}/{d:%m/%d}",
        f"{d.year - 1911:03d}{d:%m%d}", f"{d.year - 1911}/{d.month}/{d.day}",
        f"{d:%Y-%m-%d} 00:00:00"])),
    st.text(max_size=12), st.none())


@given(st.lists(_DATES, max_size=30))
@example(["113/11/05", "113/11/05", None, "1131105", "2024/2/30", "", "  ", " 1131105 "])
def test_iso_dates_per_distinct_date_equal_the_expression_per_row(dates):
    series = pl.Series("invoice_date", dates, dtype=pl.String)
    stripped = pl.col("invoice_date").str.strip_chars()
    expected = series.to_frame().select(pl.when(stripped.str.len_bytes() > 0).then(stripped)
                                        ).select(iso_date_expr("invoice_date")).to_series()
    assert iso_dates(series).to_list() == expected.to_list()


_CELLS = st.one_of(st.none(), st.sampled_from(["", " ", "開立", " 已作廢 ", "正常", "成功", "失敗 "]),
                   st.text(alphabet=" \tAB開立09", max_size=6))


@given(st.lists(_CELLS, max_size=30), st.sampled_from([None, STATUS_WORDS, UPLOAD_WORDS]))
@example([" 開立", "開立", "", None, "  "], STATUS_WORDS)
def test_values_per_distinct_equal_the_expression_per_row(cells, words):
    series = pl.Series("v", cells, dtype=pl.String)
    value = pl.col("v").str.strip_chars()
    value = pl.when(value.str.len_bytes() > 0).then(value)
    expected = series.to_frame().select(value.replace(words) if words else value).to_series()
    assert per_distinct(series, words).to_list() == expected.to_list()


@settings(deadline=None)  # polars' first calls are slow on a loaded machine
@given(st.lists(_CELLS, max_size=40), st.sampled_from([None, STATUS_WORDS, UPLOAD_WORDS]),
       st.integers(1, 7))
@example([" 開立", "開立", "", None, "  ", "開立", "已作廢"], STATUS_WORDS, 2)
def test_values_per_category_equal_the_expression_per_row(cells, words, batch):
    """A Categorical column in batches (as the CSV reader hands them out, categories growing),
    each worked out by one PerCategory: the per-row expression's values."""
    dtype = pl.Categorical(pl.Categories.random())
    series = pl.Series("v", cells, dtype=pl.String)
    value = pl.col("v").str.strip_chars()
    value = pl.when(value.str.len_bytes() > 0).then(value)
    expected = series.to_frame().select(value.replace(words) if words else value).to_series()
    clean = PerCategory(words)
    got = [clean(series[i:i + batch].cast(dtype)) for i in range(0, len(cells), batch)]
    assert all(isinstance(g.dtype, pl.Categorical) for g in got)  # a code a row, not a string
    text = [g.cast(pl.String) for g in got]
    assert pl.concat([pl.Series("v", [], pl.String), *text]).to_list() == expected.to_list()


@settings(deadline=None)
@given(st.lists(_DATES, max_size=30), st.integers(1, 7))
@example(["113/11/05", " 1131105", None, "", "113/11/05"], 2)
def test_dates_per_category_equal_iso_dates_per_row(dates, batch):
    dtype = pl.Categorical(pl.Categories.random())
    series = pl.Series("d", dates, dtype=pl.String)
    clean = PerCategory(dates=True)
    got = [clean(series[i:i + batch].cast(dtype)).cast(pl.String)
           for i in range(0, len(dates), batch)]
    assert (pl.concat([pl.Series("d", [], pl.String), *got]).to_list()
            == [iso_dates(pl.Series([d], dtype=pl.String)).item() for d in dates])
