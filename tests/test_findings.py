"""One test per finding code of the spec's catalogue (§4), on hand-made frames: what each finding
names and says. Their severities are held to the spec's own words in test_spec_catalogue.py."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from factories import allocations, invoices

from blanktrack.findings import CATALOGUE
from blanktrack.reconcile import reconcile
from blanktrack.schemas import FINDING_SCHEMA


def run(tmp_path: Path, alloc: pl.DataFrame, inv: pl.LazyFrame,
        report_date: dt.date = dt.date(2024, 3, 5)) -> pl.DataFrame:
    """reconcile() on the given frames, written as canonical CSV files."""
    a_path, i_path = tmp_path / "allocations.csv", tmp_path / "invoices.csv"
    alloc.drop("source", "line").write_csv(a_path)
    rows = inv.collect()
    if rows.is_empty():  # a header-only file is refused; an invoice years away uses nothing
        rows = invoices([{"track": "ZZ", "number": 0, "date": dt.date(2020, 1, 1)}]).collect()
    rows.select("invoice_number", "invoice_date", "seller_ban", "status", "machine",
                "upload_status").write_csv(i_path)
    result = reconcile("11302", [a_path], [i_path], report_date=report_date)
    assert result.findings.schema == pl.Schema(FINDING_SCHEMA)
    return result.findings


def codes(f: pl.DataFrame) -> list[str]:
    return f["code"].to_list()


def only(f: pl.DataFrame, code: str, severity: str) -> dict:
    """The one finding of `code`; `severity` is spec §4's word for it."""
    rows = f.filter(pl.col("code") == code).to_dicts()
    assert len(rows) == 1, f"expected one {code}: {f}"
    assert rows[0]["severity"] == severity
    return rows[0]


def test_clean_period_has_no_findings(tmp_path: Path) -> None:
    f = run(tmp_path, allocations([{"begin": 0, "end": 49}]),
            invoices([{"number": n} for n in range(20)]))
    assert f.is_empty()


def test_outside_allocation(tmp_path: Path) -> None:
    f = run(tmp_path, allocations([{"begin": 0, "end": 49}]), invoices([
        {"number": 0}, {"track": "ZZ", "number": 5}, {"number": 60},
        {"ban": "04595257", "number": 1},  # another BAN's numbers
        {"track": "ZZ", "number": 7, "date": dt.date(2023, 12, 1)},  # adjacent period: not ours
    ]))
    out = f.filter(pl.col("code") == "outside-allocation")
    assert sorted(out["message"].str.extract(r"Invoice (\w{10}) ").to_list()) == ["AB00000001", "AB00000060",
                                                                 "ZZ00000005"]
    assert all("in no allocation of BAN" in m and "invoices.csv:" in m for m in out["message"])
    assert set(out["severity"]) == {"error"}


def test_duplicate_number(tmp_path: Path) -> None:
    f = run(tmp_path, allocations([{"begin": 0, "end": 49}]), invoices([
        {"number": 3}, {"number": 3, "status": "cancelled"}, {"number": 4}]))
    row = only(f, "duplicate-number", "error")
    assert row["begin_no"] == "00000003" and "issued 2 times" in row["message"]


def test_void_then_reissue_is_not_a_duplicate(tmp_path: Path) -> None:
    f = run(tmp_path, allocations([{"begin": 0, "end": 49}]), invoices([
        {"number": 3, "status": "voided", "date": dt.date(2024, 1, 3)},
        {"number": 3, "status": "issued", "date": dt.date(2024, 1, 4)}]))
    assert "duplicate-number" not in codes(f) and "void-not-reissued" not in codes(f)


def test_void_not_reissued(tmp_path: Path) -> None:
    f = run(tmp_path, allocations([{"begin": 0, "end": 49}]),
            invoices([{"number": 0}, {"number": 1, "status": "voided"}, {"number": 2}]))
    row = only(f, "void-not-reissued", "warning")
    assert row["begin_no"] == "00000001" and "never re-issued" in row["message"]


def test_skipped_number_per_allocation(tmp_path: Path) -> None:
    f = run(tmp_path, allocations([{"begin": 0, "end": 99}]),
            invoices([{"number": n} for n in range(0, 60) if n not in (10, 11, 55)]))
    skipped = f.filter(pl.col("code") == "skipped-number")
    assert skipped.select("begin_no", "end_no").rows() == [("00000010", "00000011"),
                                                           ("00000055", "00000055")]
    assert "跳號" in skipped["message"][0]


def test_skipped_number_per_till_ignores_a_tills_unused_tail(
        tmp_path: Path) -> None:
    # two tills share one allocation: POS-1 issues from 0, POS-2 from 50
    inv = [{"number": n, "machine": "POS-1"} for n in range(0, 20) if n != 7]
    inv += [{"number": n, "machine": "POS-2"} for n in range(50, 70)]
    f = run(tmp_path, allocations([{"begin": 0, "end": 99}]), invoices(inv))
    skipped = f.filter(pl.col("code") == "skipped-number")
    assert skipped.select("begin_no", "end_no", "machine").rows() == [
        ("00000007", "00000007", "POS-1")]


def test_skipped_number_per_allocated_machine_segment(tmp_path: Path) -> None:
    alloc = allocations([{"begin": 0, "end": 49, "machine": "POS-1"},
                         {"begin": 50, "end": 99, "machine": "POS-2"}])
    inv = [{"number": n} for n in (1, 2, 3, 50, 51)]  # POS-1 never issued 0
    f = run(tmp_path, alloc, invoices(inv))
    skipped = f.filter(pl.col("code") == "skipped-number")
    assert skipped.select("begin_no", "end_no", "machine").rows() == [
        ("00000000", "00000000", "POS-1")]


def test_dated_outside_period(tmp_path: Path) -> None:
    f = run(tmp_path, allocations([{"begin": 0, "end": 49}]),
            invoices([{"number": 0}, {"number": 1, "date": dt.date(2024, 3, 1)}]))
    row = only(f, "dated-outside-period", "warning")
    assert row["begin_no"] == "00000001" and "2024-03-01" in row["message"]
    assert "11304" in row["message"]


def test_dated_far_from_period(tmp_path: Path) -> None:
    f = run(tmp_path, allocations([{"begin": 0, "end": 49}]),
            invoices([{"number": 0}, {"number": 1, "date": dt.date(1970, 1, 1)}]))
    row = only(f, "dated-far-from-period", "error")
    assert row["severity"] == "error" and row["begin_no"] == "00000001"
    assert "1970-01-01" in row["message"] and "invoices.csv:3" in row["message"]


def test_allocation_misaligned(tmp_path: Path) -> None:
    f = run(tmp_path, allocations([{"begin": 10, "end": 49}, {"track": "CD", "begin": 0,
                                                                  "end": 99}]), invoices([]))
    row = only(f, "allocation-misaligned", "warning")
    assert row["track"] == "AB" and "whole booklets" in row["message"]


def test_allocation_overlap(tmp_path: Path) -> None:
    alloc = allocations([{"begin": 0, "end": 99}, {"ban": "04595257", "begin": 50, "end": 149}])
    f = run(tmp_path, alloc, invoices([]))
    row = only(f, "allocation-overlap", "error")
    assert (row["begin_no"], row["end_no"]) == ("00000050", "00000099")
    assert "allocations.csv:2" in row["message"] and "allocations.csv:3" in row["message"]
    assert "withheld from every upload file" in row["message"]


def test_allocation_duplicate(tmp_path: Path) -> None:
    alloc = allocations([{"begin": 0, "end": 49}, {"begin": 0, "end": 49}])
    f = run(tmp_path, alloc, invoices([]))
    row = only(f, "allocation-duplicate", "info")
    assert "listed 2 times" in row["message"] and "allocations.csv:2, " in row["message"]
    assert "allocation-overlap" not in codes(f)


def test_upload_failed(tmp_path: Path) -> None:
    f = run(tmp_path, allocations([{"begin": 0, "end": 49}]),
            invoices([{"number": 0, "upload_status": "accepted"},
                      {"number": 1, "upload_status": "failed"}]))
    row = only(f, "upload-failed", "error")
    assert row["begin_no"] == "00000001" and "not accepted by the MOF" in row["message"]


@pytest.mark.parametrize(("day", "severity", "words"), [
    (dt.date(2024, 2, 20), "info", "has not ended"),
    (dt.date(2024, 3, 5), None, ""),
    (dt.date(2024, 3, 1), None, ""),
    (dt.date(2024, 3, 10), None, ""),  # the window's last day (spec §6)
    (dt.date(2024, 3, 11), "error", "1 day(s) late"),
    (dt.date(2024, 3, 14), "error", "4 day(s) late"),
])
def test_late_report(tmp_path: Path, day: dt.date, severity: str | None,
                     words: str) -> None:
    f = run(tmp_path, allocations([{"begin": 0, "end": 49}]), invoices([]), report_date=day)
    late = f.filter(pl.col("code") == "late-report")
    if severity is None:
        assert late.is_empty()
    else:
        assert late["severity"].to_list() == [severity] and words in late["message"][0]


def test_reported_elsewhere(tmp_path: Path) -> None:
    alloc = allocations([{"begin": 0, "end": 49}, {"begin": 50, "end": 99, "reported_by": "VAC"}])
    f = run(tmp_path, alloc, invoices([]))
    row = only(f, "reported-elsewhere", "info")
    assert "reported by VAC" in row["message"] and "50 blank" in row["message"]


def test_findings_sorted_errors_first(tmp_path: Path) -> None:
    f = run(tmp_path, allocations([{"begin": 0, "end": 99}]), invoices([
        {"number": 0}, {"number": 2}, {"number": 2}, {"number": 70, "upload_status": "failed"}]),
        report_date=dt.date(2024, 5, 1))
    ranks = [{"error": 0, "warning": 1, "info": 2}[s] for s in f["severity"]]
    assert ranks == sorted(ranks) and "late-report" in codes(f)


def test_input_findings_of_issue_15_in_the_catalogue() -> None:
    """Severities from spec §4; the behaviour is in tests/test_sources_*.py."""
    assert CATALOGUE["no-invoices"][0] == "warning"
    assert CATALOGUE["allocation-unused"][0] == "info"
    assert CATALOGUE["invoice-rejected"][0] == "warning"
    assert CATALOGUE["unofficial-namespace"][0] == "warning"
    assert CATALOGUE["unknown-file"][0] == "info"
