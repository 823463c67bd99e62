"""Spec §4's findings table, copied here as literals, held against the real engine.

Each code is produced by `reconcile` on small files and its severity compared with the spec's
word for it, never with the code's own catalogue: a severity changed in the code, or a code the
spec requires and the code lacks, fails here.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from blanktrack.cli import main
from blanktrack.findings import CATALOGUE
from blanktrack.reconcile import reconcile

# Spec §4, as written (domain.md): code -> severity. late-report has two: see LATE below.
SPEC_FINDINGS = {
    "outside-allocation": "error",
    "duplicate-number": "error",
    "void-not-reissued": "warning",
    "skipped-number": "warning",
    "dated-outside-period": "warning",
    "dated-far-from-period": "error",
    "allocation-misaligned": "warning",
    "allocation-overlap": "error",
    "upload-failed": "error",
    "late-report": "error",  # after day 10; info when made before P has ended
    "no-invoices": "warning",
    "allocation-unused": "info",
    "invoice-rejected": "warning",
}
# The project's own codes beyond the spec's "at least" (README, Findings).
PROJECT_FINDINGS = {
    "allocation-duplicate": "info",
    "reported-elsewhere": "info",
    "unknown-file": "info",  # README: a file of no known kind in an invoice folder
    "unofficial-namespace": "warning",  # README: an E0501 outside the MOF's namespaces
}

A_HEAD = "ban,invoice_type,period,track,begin_no,end_no,head_ban,machine,reported_by"
I_HEAD = "invoice_number,invoice_date,seller_ban,status,machine,upload_status"
AB = "53567686,07,11302,AB,00000000,00000049,,,"  # one booklet of period 11302 (2024 Jan–Feb)
USED = [f"AB{n:08d},2024-01-15,53567686,issued,," for n in range(50)]  # all of AB used
NOWHERE = ["ZZ00000000,2020-01-01,53567686,issued,,"]  # years away, in no allocation: uses nothing


def findings(tmp_path: Path, alloc_rows: list[str], invoice_rows: list[str],
             report_date: dt.date = dt.date(2024, 3, 5),
             extra_invoices: tuple[Path, ...] = ()) -> pl.DataFrame:
    """The findings of reconcile() for period 11302 on these canonical CSV rows."""
    a, i = tmp_path / "allocations.csv", tmp_path / "invoices.csv"
    a.write_text("\n".join([A_HEAD, *alloc_rows]) + "\n", encoding="utf-8")
    i.write_text("\n".join([I_HEAD, *invoice_rows]) + "\n", encoding="utf-8")
    result = reconcile("11302", [a], [i, *extra_invoices], report_date=report_date)
    known = SPEC_FINDINGS | PROJECT_FINDINGS
    for code, severity in result.findings.select("code", "severity").iter_rows():
        assert code in known, f"code {code!r} is in neither spec §4 nor the README"
        assert severity == known[code] or (code, severity) == ("late-report", "info"), (code,
                                                                                       severity)
    return result.findings


def of(f: pl.DataFrame, code: str) -> list[tuple[str, str | None, str | None]]:
    """(severity, ban, begin_no) of each finding of `code`."""
    return f.filter(pl.col("code") == code).select("severity", "ban", "begin_no").rows()


def with_used(*changed: str) -> list[str]:
    """All of AB used, the invoices whose numbers `changed` rows name replaced by them."""
    names = {row[:10] for row in changed}
    return [r for r in USED if r[:10] not in names] + list(changed)


def test_clean_period_has_no_findings(tmp_path: Path) -> None:
    assert findings(tmp_path, [AB], USED).is_empty()


def test_outside_allocation_is_an_error(tmp_path: Path) -> None:
    f = findings(tmp_path, [AB], [*USED, "ZZ00000005,2024-01-15,53567686,issued,,"])
    assert of(f, "outside-allocation") == [("error", "53567686", "00000005")]


def test_duplicate_number_is_an_error(tmp_path: Path) -> None:
    f = findings(tmp_path, [AB], [*USED, "AB00000003,2024-01-16,53567686,issued,,"])
    assert of(f, "duplicate-number") == [("error", "53567686", "00000003")]


def test_void_not_reissued_is_a_warning(tmp_path: Path) -> None:
    f = findings(tmp_path, [AB], with_used("AB00000001,2024-01-15,53567686,voided,,"))
    assert of(f, "void-not-reissued") == [("warning", "53567686", "00000001")]


def test_skipped_number_is_a_warning(tmp_path: Path) -> None:
    f = findings(tmp_path, [AB], [r for r in USED if not r.startswith("AB00000002")])
    assert of(f, "skipped-number") == [("warning", "53567686", "00000002")]


def test_dated_outside_period_is_a_warning(tmp_path: Path) -> None:
    f = findings(tmp_path, [AB], with_used("AB00000049,2024-03-01,53567686,issued,,"))
    assert of(f, "dated-outside-period") == [("warning", "53567686", "00000049")]


def test_dated_far_from_period_is_an_error(tmp_path: Path) -> None:
    f = findings(tmp_path, [AB], with_used("AB00000049,1970-01-01,53567686,issued,,"))
    assert [(s, b) for s, b, _ in of(f, "dated-far-from-period")] == [("error", "53567686")]


@pytest.mark.parametrize(("begin", "end"), [("00000000", "00000048"), ("00000001", "00000049"),
                                            ("00000000", "00000074")])
def test_allocation_misaligned_is_a_warning(tmp_path: Path, begin: str, end: str) -> None:
    f = findings(tmp_path, [f"53567686,07,11302,AB,{begin},{end},,,"], NOWHERE)
    assert of(f, "allocation-misaligned") == [("warning", "53567686", begin)]


def test_allocation_overlap_is_an_error(tmp_path: Path) -> None:
    f = findings(tmp_path, [AB, "04595257,07,11302,AB,00000049,00000099,,,"], USED)
    assert [s for s, _, _ in of(f, "allocation-overlap")] == ["error"]


def test_upload_failed_is_an_error(tmp_path: Path) -> None:
    f = findings(tmp_path, [AB], with_used("AB00000007,2024-01-15,53567686,issued,,failed"))
    assert of(f, "upload-failed") == [("error", "53567686", "00000007")]


def late(tmp_path: Path, day: dt.date) -> list[str]:
    f = findings(tmp_path, [AB], USED, report_date=day)
    return f.filter(pl.col("code") == "late-report")["severity"].to_list()


@pytest.mark.parametrize("day", [
    pytest.param(dt.date(2024, 3, 11), id="day-11"),
    pytest.param(dt.date(2024, 5, 1), id="next-period"),
])
def test_late_report_after_day_10_is_an_error(tmp_path: Path, day: dt.date) -> None:
    assert late(tmp_path, day) == ["error"]


@pytest.mark.parametrize("day", [dt.date(2024, 1, 1), dt.date(2024, 2, 29)])
def test_late_report_before_the_period_ended_is_info(tmp_path: Path, day: dt.date) -> None:
    assert late(tmp_path, day) == ["info"]


@pytest.mark.parametrize("day", [
    dt.date(2024, 3, 1), dt.date(2024, 3, 9),
    pytest.param(dt.date(2024, 3, 10), id="day-10"),
])
def test_late_report_inside_the_window_is_no_finding(tmp_path: Path, day: dt.date) -> None:
    assert late(tmp_path, day) == []


def test_no_invoices_for_a_ban_is_a_warning(tmp_path: Path) -> None:
    # the branch 04595257 holds track CD and no input has a single invoice of it
    f = findings(tmp_path, [AB, "04595257,07,11302,CD,00000000,00000049,,,"], USED)
    assert [(s, b) for s, b, _ in of(f, "no-invoices")] == [("warning", "04595257")]


def test_no_invoices_in_a_file_is_a_warning(tmp_path: Path) -> None:
    empty = tmp_path / "pos-2.csv"
    empty.write_text(I_HEAD + "\n", encoding="utf-8")
    f = findings(tmp_path, [AB], USED, extra_invoices=(empty,))
    rows = f.filter(pl.col("code") == "no-invoices")
    assert rows["severity"].to_list() == ["warning"] and "pos-2.csv" in rows["message"][0]


def test_allocation_unused_is_info(tmp_path: Path) -> None:
    f = findings(tmp_path, [AB, "53567686,07,11302,AB,00000050,00000099,,,"], USED)
    assert of(f, "allocation-unused") == [("info", "53567686", "00000050")]


REJECT = """\
<?xml version="1.0" encoding="UTF-8"?>
<RejectInvoice xmlns="urn:GEINV:eInvoiceMessage:A0601:3.2">
  <RejectInvoiceNumber>AB00000010</RejectInvoiceNumber>
  <InvoiceDate>20240115</InvoiceDate>
  <BuyerId>04595257</BuyerId>
  <SellerId>53567686</SellerId>
  <RejectDate>20240116</RejectDate>
  <RejectTime>10:00:00</RejectTime>
  <RejectReason>wrong amount</RejectReason>
</RejectInvoice>
"""


def test_invoice_rejected_is_a_warning_and_its_number_used(tmp_path: Path) -> None:
    xml = tmp_path / "A0601.xml"
    xml.write_text(REJECT, encoding="utf-8")
    f = findings(tmp_path, [AB], with_used(), extra_invoices=(xml,))
    assert of(f, "invoice-rejected") == [("warning", "53567686", "00000010")]
    assert of(f, "skipped-number") == []  # the rejected number stays used


def test_allocation_duplicate_is_info(tmp_path: Path) -> None:
    f = findings(tmp_path, [AB, AB], USED)
    assert of(f, "allocation-duplicate") == [("info", "53567686", "00000000")]


def test_reported_elsewhere_is_info(tmp_path: Path) -> None:
    f = findings(tmp_path, [AB, "53567686,07,11302,AB,00000050,00000099,,,VAC"], USED)
    assert [s for s, _, _ in of(f, "reported-elsewhere")] == ["info"]


@pytest.mark.parametrize("code", [
    pytest.param(code, id=code) for code in SPEC_FINDINGS])
def test_the_catalogue_has_every_code_of_the_spec(code: str) -> None:
    severity = CATALOGUE[code][0]
    assert severity == SPEC_FINDINGS[code]


@pytest.mark.parametrize(("invoice", "exit_code"), [
    ("AB00000003,2024-01-16,53567686,issued,,", 3),  # duplicate-number: an error
    ("ZZ00000003,2024-01-16,53567686,issued,,", 3),  # outside-allocation: an error
    ("AB00000003,2024-01-16,53567686,issued,,failed", 3),  # upload-failed: an error
    ("AB00000049,2024-03-01,53567686,issued,,", 0),  # dated-outside-period: a warning
    pytest.param("AB00000049,1970-01-01,53567686,issued,,", 3, id="dated-far-from-period"),  # an error
])
def test_strict_fails_on_error_findings_only(tmp_path: Path, invoice: str, exit_code: int,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    a, i = tmp_path / "allocations.csv", tmp_path / "invoices.csv"
    a.write_text(f"{A_HEAD}\n{AB}\n", encoding="utf-8")
    rows = with_used(invoice) if invoice.startswith("AB00000049") else [*USED, invoice]
    i.write_text("\n".join([I_HEAD, *rows]) + "\n", encoding="utf-8")
    rc = main(["reconcile", "--period", "11302", "--report-date", "2024-03-05", "--strict",
               "--allocations", str(a), "--invoices", str(i), "--out-dir", str(tmp_path / "o")])
    capsys.readouterr()
    assert rc == exit_code
