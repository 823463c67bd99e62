"""A small period for the source-reader tests: allocations, canonical invoices, and the blanks
and findings a reconciliation gives."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from blanktrack.reconcile import Reconciliation, reconcile

PERIOD = "10312"
HEAD = "53567686"
BRANCH = "04595257"
REPORT_DATE = dt.date(2015, 1, 8)
ALLOCATIONS = (
    "ban,invoice_type,period,track,begin_no,end_no,head_ban,machine,reported_by\n"
    f"{HEAD},07,10312,AB,00000000,00000049,,,\n"
    f"{HEAD},07,10312,AB,00000050,00000099,,,\n"
    f"{BRANCH},07,10312,CD,00000100,00000149,{HEAD},,\n"
)
CANONICAL_HEADER = "invoice_number,invoice_date,seller_ban,status,machine,upload_status\n"


def write_allocations(folder: Path) -> Path:
    path = folder / "allocations.csv"
    path.write_text(ALLOCATIONS, encoding="utf-8")
    return path


def write_canonical(path: Path, rows: list[tuple[str, str, str, str]],
                    upload: str = "") -> Path:
    """rows: (invoice_number, YYYY-MM-DD, seller_ban, status)."""
    lines = [CANONICAL_HEADER] + [f"{n},{d},{b},{s},,{upload}\n" for n, d, b, s in rows]
    path.write_text("".join(lines), encoding="utf-8")
    return path


def run(allocations: Path, invoices: list[Path], **kw) -> Reconciliation:
    return reconcile(PERIOD, [allocations], invoices, report_date=REPORT_DATE, **kw)


def blanks(result: Reconciliation) -> list[tuple[str, str, str, str]]:
    return [tuple(r) for r in result.blank_ranges.select("ban", "track", "begin_no", "end_no").rows()]


def codes(result: Reconciliation) -> list[str]:
    return sorted(result.findings["code"].to_list())


def finding_messages(result: Reconciliation, code: str) -> list[str]:
    return result.findings.filter(pl.col("code") == code)["message"].to_list()
