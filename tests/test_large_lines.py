"""Findings name the physical line of an invoice in a large CSV whose records span lines.

Issue #13 item 12: a quoted field with an embedded line break shifted every later line number
by one. Small files are corrected as they are read; a large CSV (over LARGE_FILE_BYTES, scanned
by polars) is corrected in the filtered scan that fetches the invoices findings name. Every path
of a reconcile is covered (dense, one-pass, validate-then-aggregate), LF and CRLF line ends.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import blanktrack.reconcile as rec
from blanktrack import invoices as inv
from blanktrack.usage import engine

BAN = "53567686"
ALLOCATIONS = "ban,invoice_type,period,track,begin_no,end_no\n" f"{BAN},07,11302,AB,00000000,00000099\n"
HEADER = "invoice_number,invoice_date,seller_ban,status,machine,upload_status"
PATHS = ("dense", "one-pass", "validate-then-aggregate")


def record(number: str, machine: str = "POS-1", day: str = "2024-01-15") -> str:
    return f"{number},{day},{BAN},issued,{machine},accepted"


# Line 1 header; AB00000001 spans lines 3-4, AB00000002 lines 5-7 (an empty line inside its
# value); so ZZ00000010 (in no allocation) is on line 9 and AB00000003 on lines 8 and 10.
MULTI_LINE = [
    HEADER,
    record("AB00000000"),
    record("AB00000001", '"POS\nnorth"'),
    record("AB00000002", '"POS\n\nsouth"'),
    record("AB00000003"),
    record("ZZ00000010", day="2024-01-20"),
    record("AB00000003"),
]
# The same invoices, each on one line (a quoted comma spans no line): ZZ00000010 on line 6.
ONE_LINE = [
    HEADER,
    record("AB00000000"),
    record("AB00000001", '"POS,north"'),
    record("AB00000002", "POS-south"),
    record("AB00000003"),
    record("ZZ00000010", day="2024-01-20"),
    record("AB00000003"),
]


def force_path(monkeypatch: pytest.MonkeyPatch, path: str) -> None:
    """The reading path a reconcile takes, and the streamed reading of every invoice CSV."""
    monkeypatch.setattr(inv, "LARGE_FILE_BYTES", 0)
    if path == "dense":
        monkeypatch.setattr(engine, "DENSE_MIN_ROWS", 0)
    else:
        monkeypatch.setattr(engine, "dense_scan", lambda *a, **k: None)
    if path == "validate-then-aggregate":
        monkeypatch.setattr(engine, "fast_usage", lambda *a, **k: None)


def run(folder: Path, content: bytes) -> tuple[Path, pl.DataFrame]:
    allocations = folder / "allocations.csv"
    allocations.write_text(ALLOCATIONS, encoding="utf-8")
    invoices = folder / "invoices.csv"
    invoices.write_bytes(content)
    result = rec.reconcile("11302", [allocations], [invoices], report_date=dt.date(2024, 3, 5))
    return invoices, result.findings


def message(findings: pl.DataFrame, code: str) -> str:
    return findings.filter(pl.col("code") == code)["message"].item()


@pytest.mark.parametrize("ends", ["\n", "\r\n"], ids=["lf", "crlf"])
@pytest.mark.parametrize("path", PATHS)
def test_findings_count_line_breaks_in_earlier_records(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, path: str, ends: str) -> None:
    force_path(monkeypatch, path)
    content = ends.join(line.replace("\n", ends) for line in MULTI_LINE) + ends
    invoices, findings = run(tmp_path, content.encode())
    assert invoices.stat().st_size > inv.LARGE_FILE_BYTES  # the streamed path
    outside = message(findings, "outside-allocation")
    assert f"Invoice ZZ00000010 dated 2024-01-20 ({invoices}:9)" in outside
    duplicate = message(findings, "duplicate-number")
    for line in (8, 10):  # (listed sorted as text, :10 before :8: findings.py's order)
        assert f"{invoices}:{line} (issued, 2024-01-15)" in duplicate


@pytest.mark.parametrize("path", PATHS)
def test_records_on_one_line_keep_their_row_lines(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, path: str) -> None:
    force_path(monkeypatch, path)
    invoices, findings = run(tmp_path, ("\n".join(ONE_LINE) + "\n").encode())
    assert f"({invoices}:6)" in message(findings, "outside-allocation")
    duplicate = message(findings, "duplicate-number")
    assert f"{invoices}:5 (issued, 2024-01-15); {invoices}:7 (issued, 2024-01-15)" in duplicate
    assert f"{invoices}:8" not in duplicate


def test_large_and_small_reading_agree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    content = ("\n".join(MULTI_LINE) + "\n").encode()
    _, small = run(tmp_path, content)
    monkeypatch.setattr(inv, "LARGE_FILE_BYTES", 0)
    _, large = run(tmp_path, content)
    assert large.equals(small)


@st.composite
def files(draw: st.DrawFn) -> tuple[bytes, int]:
    """A CSV whose records before the one in no allocation hold 0-2 line breaks each, and the
    physical line of that record (counted on the bytes, as an editor does)."""
    ends = draw(st.sampled_from(["\n", "\r\n"]))
    breaks = draw(st.lists(st.integers(0, 2), max_size=6))
    lines = [HEADER]
    for k, n in enumerate(breaks):
        machine = '"' + ends.join(["POS"] * (n + 1)) + '"' if n else '"POS"'
        lines.append(record(f"AB{k:08d}", machine))
    lines.append(record("ZZ00000010", day="2024-01-20"))
    lines.append(record("AB00000099", '"POS' + ends + 'after"'))  # a later one: no shift
    head = ends.join(lines[:-2]) + ends
    return (head + ends.join(lines[-2:]) + ends).encode(), head.count("\n") + 1


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(files())
@example(((HEADER + "\n" + record("ZZ00000010", day="2024-01-20") + "\n").encode(), 2))
@example((("\r\n".join([HEADER, record("AB00000000", '"\r\n\r\n"'),
                         record("ZZ00000010", day="2024-01-20")]) + "\r\n").encode(), 5))
def test_the_named_line_is_the_physical_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: tuple[bytes, int]) -> None:
    content, line = case
    force_path(monkeypatch, "one-pass")
    invoices, findings = run(tmp_path, content)
    assert f"({invoices}:{line})" in message(findings, "outside-allocation")


def test_a_filtered_scan_of_a_large_csv_names_physical_lines(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The loader's own answer: only the rows asked for, at their physical lines; unfiltered,
    the usual scan stays as it was (row + 2, no extra work)."""
    monkeypatch.setattr(inv, "LARGE_FILE_BYTES", 0)
    path = tmp_path / "invoices.csv"
    path.write_bytes(("\r\n".join(MULTI_LINE) + "\r\n").encode())
    wanted = pl.Series(["ZZ00000010", "AB00000003"])
    for exact in (True, False):
        rows = inv.scan_raw_invoices([path], wanted, exact=exact).collect()
        assert rows.select("invoice_number", "line").rows() == [
            ("AB00000003", 8), ("ZZ00000010", 9), ("AB00000003", 10)]
    every = inv.scan_raw_invoices([path]).collect()
    assert every["line"].to_list() == [2, 3, 4, 5, 6, 7]


def test_a_large_csv_without_a_quote_skips_the_look_at_every_value(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No quote, no record over several lines: the filtered scan is what it was."""
    monkeypatch.setattr(inv, "LARGE_FILE_BYTES", 0)
    monkeypatch.setattr(inv, "_with_physical_lines",
                        lambda *a: pytest.fail("looked at every value of a file without quotes"))
    path = tmp_path / "invoices.csv"
    path.write_bytes(("\n".join(ONE_LINE).replace('"POS,north"', "POS-north") + "\n").encode())
    rows = inv.scan_raw_invoices([path], pl.Series(["ZZ00000010"])).collect()
    assert rows.select("invoice_number", "line").rows() == [("ZZ00000010", 6)]
