"""Every boundary rule of the spec at its edge, one number either side (spec §2, §3, §4, §5.3, §6).

Expected values are literals from the spec; the engine is driven through its public entry points
(reconcile, load_allocations, lint_mof_csv).
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import polars as pl
import pytest

from blanktrack.allocations import load_allocations
from blanktrack.ban import is_valid_ban
from blanktrack.cli import main
from blanktrack.errors import InputError
from blanktrack.mof_csv import lint_mof_csv
from blanktrack.period import Period, deadline_status
from blanktrack.reconcile import reconcile

A_HEAD = "ban,invoice_type,period,track,begin_no,end_no,head_ban,machine,reported_by"
I_HEAD = "invoice_number,invoice_date,seller_ban,status,machine,upload_status"
NOWHERE = "ZZ00000000,2020-01-01,53567686,issued,,"  # years away, in no allocation: uses nothing


def write(tmp_path: Path, name: str, head: str, rows: list[str]) -> Path:
    path = tmp_path / name
    path.write_text("\n".join([head, *rows]) + "\n", encoding="utf-8")
    return path


def run(tmp_path: Path, alloc_rows: list[str], invoice_rows: list[str], split: str = "none",
        period: str = "11302", report_date: dt.date = dt.date(2024, 3, 5)):
    a = write(tmp_path, "allocations.csv", A_HEAD, alloc_rows)
    i = write(tmp_path, "invoices.csv", I_HEAD, invoice_rows or [NOWHERE])
    return reconcile(period, [a], [i], split=split, report_date=report_date)  # type: ignore[arg-type]


def ranges(result) -> list[tuple[str, str]]:
    return result.blank_ranges.select("begin_no", "end_no").rows()


def codes(result, code: str) -> list[tuple[str | None, str | None]]:
    return result.findings.filter(pl.col("code") == code).select("begin_no", "end_no").rows()


def alloc(begin: int, end: int, track: str = "AB", ban: str = "53567686") -> str:
    return f"{ban},07,11302,{track},{begin:08d},{end:08d},,,"


def issued(n: int, day: str = "2024-01-15", track: str = "AB", ban: str = "53567686") -> str:
    return f"{track}{n:08d},{day},{ban},issued,,"


# --- allocation-misaligned: begin at …00/…50, end at …49/…99 (spec §2 booklet, §4) ---------------

@pytest.mark.parametrize(("begin", "end", "misaligned"), [
    (0, 49, False), (50, 99, False), (0, 99, False), (50, 149, False), (2_034_200, 2_034_299, False),
    (0, 48, True),  # begin aligned, end one short
    (0, 50, True),  # begin aligned, end one past a booklet
    (1, 49, True),  # end aligned, begin one late
    (49, 99, True),  # end aligned, begin one early
    (1, 48, True),  # neither
    (0, 0, True), (49, 50, True),  # one number; two across a booklet edge
    (0, 74, True), (25, 74, True),  # length 75 / 50 at the wrong place
])
def test_allocation_misaligned_edges(tmp_path: Path, begin: int, end: int,
                                     misaligned: bool) -> None:
    r = run(tmp_path, [alloc(begin, end)], [])
    expected = [(f"{begin:08d}", f"{end:08d}")] if misaligned else []
    assert codes(r, "allocation-misaligned") == expected
    assert ranges(r) == [(f"{begin:08d}", f"{end:08d}")]  # still reported in full


# --- blank runs across allocation edges: merged when adjacent, never across a gap (spec §3) -----

@pytest.mark.parametrize(("allocs", "expected"), [
    ([(0, 49), (50, 99)], [("00000000", "00000099")]),  # adjacent: one run
    ([(0, 49), (51, 99)], [("00000000", "00000049"), ("00000051", "00000099")]),  # one-number gap
    ([(0, 49), (100, 149)], [("00000000", "00000049"), ("00000100", "00000149")]),
    ([(50, 99), (0, 49)], [("00000000", "00000099")]),  # in any order
])
def test_blank_runs_merge_only_adjacent_allocations(tmp_path: Path, allocs: list[tuple[int, int]],
                                                    expected: list[tuple[str, str]]) -> None:
    assert ranges(run(tmp_path, [alloc(b, e) for b, e in allocs], [])) == expected


@pytest.mark.parametrize(("split", "expected"), [
    ("none", [("00000049", "00000050")]),
    ("booklet", [("00000049", "00000049"), ("00000050", "00000050")]),
    ("allocation", [("00000049", "00000049"), ("00000050", "00000050")]),
])
def test_a_blank_run_across_a_booklet_edge(tmp_path: Path, split: str,
                                           expected: list[tuple[str, str]]) -> None:
    used = [issued(n) for n in range(100) if n not in (49, 50)]
    assert ranges(run(tmp_path, [alloc(0, 49), alloc(50, 99)], used, split=split)) == expected


@pytest.mark.parametrize(("used", "expected"), [
    (range(0, 49), [("00000049", "00000099")]),  # …48 the last used: …49 is blank
    (range(0, 50), [("00000050", "00000099")]),  # a whole booklet used
    (range(0, 51), [("00000051", "00000099")]),  # one into the next booklet
    (range(1, 100), [("00000000", "00000000")]),  # only the first number blank
    (range(0, 99), [("00000099", "00000099")]),  # only the last number blank
    (range(0, 100), []),  # nothing blank: no row
])
def test_booklet_edges(tmp_path: Path, used: range, expected: list[tuple[str, str]]) -> None:
    r = run(tmp_path, [alloc(0, 99)], [issued(n) for n in used])
    assert ranges(r) == expected


def test_a_track_with_no_blank_number_has_no_upload_row(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    a = write(tmp_path, "allocations.csv", A_HEAD, [alloc(0, 49), alloc(0, 49, track="CD")])
    i = write(tmp_path, "invoices.csv", I_HEAD, [issued(n) for n in range(50)])
    out = tmp_path / "out"
    assert main(["reconcile", "--period", "11302", "--report-date", "2024-03-05",
                 "--allocations", str(a), "--invoices", str(i), "--out-dir", str(out)]) == 0
    capsys.readouterr()
    uploads = [p for p in out.rglob("*.csv") if p.name == "53567686_11302.csv"]
    assert [p.read_bytes() for p in uploads] == [b"00001,53567686,11302,CD,00000000,00000049,07\r\n"]
    assert not [p for p in out.rglob("*.xml") if "_AB_" in p.name]


# --- the period of an invoice's date: P uses, P±1 uses with a finding, farther never (§3) -----

@pytest.mark.parametrize(("day", "used", "adjacent"), [
    ("2024-01-01", True, False),  # first day of P (11302)
    ("2024-02-29", True, False),  # last day of P (a leap year)
    ("2024-03-01", True, True),  # first day of P+1
    ("2024-04-30", True, True),  # last day of P+1
    ("2023-12-31", True, True),  # last day of P-1, across the year
    ("2023-11-01", True, True),  # first day of P-1
    ("2023-10-31", False, False),  # last day of P-2
    ("2024-05-01", False, False),  # first day of P+2
    ("1970-01-01", False, False),  # a till whose clock was reset
])
def test_invoice_date_edges(tmp_path: Path, day: str, used: bool, adjacent: bool) -> None:
    r = run(tmp_path, [alloc(0, 49)], [issued(n) for n in range(49)] + [issued(49, day)])
    assert ranges(r) == ([] if used else [("00000049", "00000049")])
    assert codes(r, "dated-outside-period") == ([("00000049", "00000049")] if adjacent else [])


@pytest.mark.parametrize("day", ["2023-10-31", "2024-05-01", "1970-01-01", "2099-12-31"])
def test_a_date_farther_than_one_period_is_an_error_finding(tmp_path: Path, day: str) -> None:
    r = run(tmp_path, [alloc(0, 49)], [issued(n) for n in range(49)] + [issued(49, day)])
    far = r.findings.filter(pl.col("code") == "dated-far-from-period")
    assert far.select("severity", "begin_no").rows() == [("error", "00000049")]


@pytest.mark.parametrize(("day", "outside"), [
    ("2024-01-01", True), ("2024-02-29", True),  # dated in P: must be in an allocation
    ("2024-03-01", False), ("2023-12-31", False),  # adjacent periods' invoices are not P's
])
def test_outside_allocation_only_for_invoices_dated_in_the_period(tmp_path: Path, day: str,
                                                                  outside: bool) -> None:
    r = run(tmp_path, [alloc(0, 49)], [issued(n) for n in range(50)] + [issued(50, day)])
    assert codes(r, "outside-allocation") == ([("00000050", "00000050")] if outside else [])


# --- the report window: days 1–10 of the month after P (spec §6) ------------------------------

@pytest.mark.parametrize(("code", "day", "state"), [
    ("11302", dt.date(2024, 2, 29), "early"),  # P's last day: P has not ended
    ("11302", dt.date(2024, 3, 1), "open"),
    ("11302", dt.date(2024, 3, 10), "open"),  # day 10: still in time
    ("11302", dt.date(2024, 3, 11), "late"),  # day 11
    ("11312", dt.date(2025, 1, 10), "open"),  # across the year
    ("11312", dt.date(2025, 1, 11), "late"),
    ("11312", dt.date(2024, 12, 31), "early"),
])
def test_report_window_edges(code: str, day: dt.date, state: str) -> None:
    assert deadline_status(Period.parse(code), day).state == state


# --- BAN check digit: the spec's literal BANs (§2) --------------------------------------------

BOTH_RULES = ["04595257", "10458575", "53567686"]
NEW_RULE_ONLY = ["04595252", "12345670", "10000073"]


@pytest.mark.parametrize("ban", BOTH_RULES + NEW_RULE_ONLY)
def test_spec_bans_are_valid_in_every_reader(tmp_path: Path, ban: str) -> None:
    assert is_valid_ban(ban)
    path = write(tmp_path, "a.csv", A_HEAD, [alloc(0, 49, ban=ban)])
    assert load_allocations([path])["ban"].to_list() == [ban]
    line = f"00001,{ban},11302,AB,00000000,00000049,07\r\n".encode()
    assert lint_mof_csv(line, "f.csv", expected_period="11302") == []
    r = run(tmp_path, [alloc(0, 49, ban=ban)], [issued(n, ban=ban) for n in range(49)])
    assert r.blank_ranges.select("ban", "begin_no").rows() == [(ban, "00000049")]


@pytest.mark.parametrize("ban", ["53567687", "04595258", "10000075"])  # spec §2; hand-checked
def test_bans_failing_the_check_digit_are_refused_everywhere(tmp_path: Path, ban: str) -> None:
    assert not is_valid_ban(ban)
    path = write(tmp_path, "a.csv", A_HEAD, [alloc(0, 49, ban=ban)])
    with pytest.raises(InputError, match=f"a.csv:2: field 'ban': BAN '{ban}' fails the check"):
        load_allocations([path])
    line = f"00001,{ban},11302,AB,00000000,00000049,07\r\n".encode()
    assert [(p.line, p.field) for p in lint_mof_csv(line, "f.csv")] == [(1, "ban")]


# --- lint: a range must lie inside the allocations; a one-number gap is not covered (§5.3) -----

def allocations_frame(tmp_path: Path, allocs: list[tuple[int, int]]) -> pl.DataFrame:
    return load_allocations([write(tmp_path, "a.csv", A_HEAD, [alloc(b, e) for b, e in allocs])])


def not_inside(tmp_path: Path, allocs: list[tuple[int, int]], begin: int, end: int) -> list[int]:
    """The lines lint reports as holding numbers never allocated."""
    data = f"00001,53567686,11302,AB,{begin:08d},{end:08d},07\r\n".encode()
    problems = lint_mof_csv(data, "f.csv", allocations_frame(tmp_path, allocs), "11302")
    assert all(p.line == 1 and p.is_error for p in problems), problems
    return [p.line for p in problems if "never allocated" in p.message]  # type: ignore[misc]


@pytest.mark.parametrize(("allocs", "begin", "end", "covered"), [
    ([(0, 49), (50, 99)], 0, 99, True),  # adjacent allocations, no gap
    ([(0, 49), (51, 99)], 0, 99, False),  # a gap of exactly one number
    ([(0, 49), (51, 99)], 49, 51, False),  # a range only over the gap's edges
    ([(0, 49), (52, 99)], 0, 99, False),  # a gap of two
    ([(0, 49), (51, 99)], 51, 99, True),  # beside the gap
    ([(0, 49), (51, 99)], 0, 49, True),
    ([(0, 49)], 0, 50, False),  # one past the end
    ([(50, 99)], 49, 99, False),  # one before the begin
    ([(0, 49)], 49, 49, True), ([(0, 49)], 0, 0, True),  # single numbers at the edges
    ([(100, 149), (0, 49), (50, 99)], 0, 149, True),  # three, in any order
])
def test_lint_range_inside_allocations(tmp_path: Path, allocs: list[tuple[int, int]], begin: int,
                                       end: int, covered: bool) -> None:
    assert not_inside(tmp_path, allocs, begin, end) == ([] if covered else [1])


@pytest.mark.parametrize(("second", "problem"), [
    ("00002,53567686,11302,AB,00000050,00000099,07", None),  # adjacent: no overlap
    ("00002,53567686,11302,AB,00000049,00000099,07", 2),  # one shared number
    ("00002,53567686,11302,AB,00000000,00000049,07", 2),  # the same range twice
    ("00002,53567686,11302,CD,00000000,00000049,07", None),  # another track
])
def test_lint_overlap_edges(second: str, problem: int | None) -> None:
    data = f"00001,53567686,11302,AB,00000000,00000049,07\r\n{second}\r\n".encode()
    lines = [p.line for p in lint_mof_csv(data, "f.csv", expected_period="11302")]
    assert lines == ([] if problem is None else [problem])


@pytest.mark.parametrize(("line", "field"), [
    ("00001,53567686,11302,AB,00000049,00000049,07", None),  # begin = end: a single number
    ("00001,53567686,11302,AB,00000050,00000049,07", "end_no"),  # end one below begin
    ("00001,53567686,11302,AB,0000049,00000049,07", "begin_no"),  # 7 digits
    ("00001,53567686,11302,AB,00000049,000000049,07", "end_no"),  # 9 digits
    ("00001,53567686,11301,AB,00000000,00000049,07", "period"),  # odd month
    ("00000,53567686,11302,AB,00000000,00000049,07", "serial"),  # serials start at 00001
    ("00001,53567686,11302,A,00000000,00000049,07", "track"),
    ("00001,53567686,11302,ABC,00000000,00000049,07", "track"),
    ("00001,53567686,11302,AB,00000000,00000049,7", "invoice_type"),  # 2 digits in the file
    ("00001,53567686,11302,AB,00000000,00000049,09", "invoice_type"),
])
def test_lint_field_edges(line: str, field: str | None) -> None:
    problems = lint_mof_csv(f"{line}\r\n".encode(), "f.csv")
    assert [p.field for p in problems if p.is_error] == ([] if field is None else [field])


# --- allocations of two BANs that overlap (spec §3) -------------------------------------------

def test_overlapping_numbers_are_withheld_and_used_numbers_never_blank(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # 53567686 holds AB 0–99, the branch 04595257 AB 50–149 (a wrong row): 50–99 are claimed
    # twice; 53567686 issued 0–60, so 50–60 are used whoever's allocation they are.
    a = write(tmp_path, "allocations.csv", A_HEAD, [alloc(0, 99), alloc(50, 149, ban="04595257")])
    i = write(tmp_path, "invoices.csv", I_HEAD, [issued(n) for n in range(61)])
    out = tmp_path / "out"
    rc = main(["reconcile", "--period", "11302", "--report-date", "2024-03-05",
               "--allocations", str(a), "--invoices", str(i), "--out-dir", str(out)])
    capsys.readouterr()
    assert rc == 0
    uploads = sorted(p for p in out.rglob("*.csv") if re.fullmatch(r"[0-9]{8}_11302\.csv", p.name))
    rows = [line for p in uploads for line in p.read_text().splitlines()]
    assert rows == ["00001,04595257,11302,AB,00000100,00000149,07"]
