"""Allocations that overlap, and numbers another seller used (spec §3, §4, §5.3).

Numbers two allocations claim (any BANs) are in no upload file until the overlap is resolved, and
`allocation-overlap` says so; a number any input shows used is never reported blank by any BAN.
`check` refuses a file whose rows overlap each other (any BAN), a range holding numbers two
allocations claim, and a file named after another BAN than its rows' reporting BAN.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from corpus.checks import findings_of, summary_of, upload_file, upload_files

from blanktrack.allocations import load_allocations
from blanktrack.cli import main
from blanktrack.mof_csv import lint_mof_csv
from blanktrack.reconcile import reconcile

BAN_A, BAN_B, BAN_X = "53567686", "04595257", "22099131"  # X holds no allocation
HEADER = "ban,invoice_type,period,track,begin_no,end_no,head_ban\n"


def write_inputs(folder: Path, allocations: list[tuple[str, int, int]],
                 invoices: list[tuple[str, int]]) -> tuple[Path, Path]:
    a = folder / "allocations.csv"
    a.write_text(HEADER + "".join(f"{ban},07,11302,AB,{lo:08d},{hi:08d},{ban}\n"
                                  for ban, lo, hi in allocations), encoding="utf-8")
    i = folder / "invoices.csv"
    i.write_text("invoice_number,invoice_date,seller_ban,status\n"
                 + "".join(f"AB{n:08d},2024-01-15,{ban},issued\n" for ban, n in invoices),
                 encoding="utf-8")
    return a, i


def run_cli(folder: Path, a: Path, i: Path, *extra: str) -> int:
    return main(["reconcile", "--period", "11302", "--allocations", str(a), "--invoices", str(i),
                 "--out-dir", str(folder / "out"), "--report-date", "2024-03-05", *extra])


def file_numbers(path: Path) -> dict[str, set[int]]:
    """BAN (field 2) → the numbers the upload file reports blank."""
    out: dict[str, set[int]] = {}
    for line in path.read_text(encoding="ascii").splitlines():
        _, ban, _, _, begin, end, _ = line.split(",")
        out.setdefault(ban, set()).update(range(int(begin), int(end) + 1))
    return out


def test_two_bans_overlap_withheld_from_both_files(tmp_path: Path) -> None:
    a, i = write_inputs(tmp_path, [(BAN_A, 0, 99), (BAN_B, 50, 149)],
                        [(BAN_A, 10), (BAN_B, 60), (BAN_X, 20), (BAN_A, 120)])
    assert run_cli(tmp_path, a, i) == 0
    out = tmp_path / "out"
    got_a = file_numbers(upload_file(out, BAN_A, "11302"))
    got_b = file_numbers(upload_file(out, BAN_B, "11302"))
    # X's 20 (X holds nothing) and A's 120 (B's numbers) are used: nobody reports them blank.
    assert got_a == {BAN_A: set(range(0, 50)) - {10, 20}}
    assert got_b == {BAN_B: set(range(100, 150)) - {120}}
    findings = findings_of(tmp_path / "out")
    overlap = findings.filter(pl.col("code") == "allocation-overlap").to_dicts()
    assert len(overlap) == 1 and overlap[0]["severity"] == "error"
    assert (overlap[0]["begin_no"], overlap[0]["end_no"]) == ("00000050", "00000099")
    message = overlap[0]["message"]
    assert f"{a}:2" in message and f"{a}:3" in message
    assert "00000000–00000099" in message and "00000050–00000149" in message
    assert "withheld from every upload file" in message
    for path in upload_files(out):
        assert main(["check", str(path), "--allocations", str(a)]) == 0
    # The summary's blank count is what the files report: withheld numbers are blank for nobody.
    summary = summary_of(out)
    assert summary.select("ban", "allocated", "used", "blank").rows() == [
        (BAN_B, "100", "2", "49"), (BAN_A, "100", "2", "48")]


def test_overlap_with_a_ban_out_of_scope_is_withheld_too(tmp_path: Path) -> None:
    """--ban A: B's allocation is not reported, but its claim still withholds the numbers, and
    the numbers B and X (left out) used on A's allocation are not blank either."""
    a, i = write_inputs(tmp_path, [(BAN_A, 0, 99), (BAN_B, 50, 149)],
                        [(BAN_A, 10), (BAN_B, 20), (BAN_X, 30)])
    assert run_cli(tmp_path, a, i, "--ban", BAN_A) == 0
    out = tmp_path / "out"
    assert [p.name for p in upload_files(out)] == [f"{BAN_A}_11302.csv"]
    assert file_numbers(upload_file(out, BAN_A, "11302")) == {BAN_A: set(range(0, 50)) - {10, 20, 30}}
    findings = findings_of(tmp_path / "out")
    assert findings.filter(pl.col("code") == "allocation-overlap").height == 1


def test_overlap_of_exactly_one_number(tmp_path: Path) -> None:
    a, i = write_inputs(tmp_path, [(BAN_A, 0, 99), (BAN_B, 99, 149)], [(BAN_A, 0)])
    result = reconcile("11302", [a], [i], report_date=dt.date(2024, 3, 5))
    ranges = result.exported_ranges.select("ban", "begin_no", "end_no").rows()
    assert ranges == [(BAN_B, "00000100", "00000149"), (BAN_A, "00000001", "00000098")]
    overlap = result.findings.filter(pl.col("code") == "allocation-overlap")
    assert overlap.select("begin_no", "end_no").rows() == [("00000099", "00000099")]


def test_the_same_allocation_twice_is_no_overlap(tmp_path: Path) -> None:
    a, i = write_inputs(tmp_path, [(BAN_A, 0, 49), (BAN_A, 0, 49)], [(BAN_A, 0)])
    result = reconcile("11302", [a], [i], report_date=dt.date(2024, 3, 5))
    assert result.exported_ranges.select("begin_no", "end_no").rows() == [("00000001", "00000049")]
    assert "allocation-overlap" not in result.findings["code"].to_list()


# ---------------------------------------------------------------------------------------------
# check (mof_csv lint).


def lint(text: str, name: str = f"{BAN_A}_11302.csv",
         allocations: pl.DataFrame | None = None) -> list[str]:
    return [str(p) for p in lint_mof_csv(text.encode(), name, allocations,
                                         name_ban=name[:8] if name[8:9] == "_" else None)]


def test_check_refuses_rows_of_two_bans_that_overlap(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / f"{BAN_A}_11302.csv"
    path.write_bytes(b"00001,04595257,11302,AB,00000050,00000149,07\r\n"
                     b"00002,53567686,11302,AB,00000000,00000050,07\r\n")
    assert main(["check", str(path)]) == 1
    out = capsys.readouterr().out
    assert f"{path}:2: AB00000000–AB00000050 overlaps the range on line 1" in out
    assert "BAN 53567686, the other BAN 04595257" in out and "空白發票新增失敗" in out


def test_check_passes_rows_of_two_bans_that_only_touch() -> None:
    assert lint("00001,04595257,11302,AB,00000050,00000149,07\r\n"
                "00002,53567686,11302,AB,00000000,00000049,07\r\n") == []


def test_check_refuses_numbers_two_allocations_claim(tmp_path: Path) -> None:
    a, _ = write_inputs(tmp_path, [(BAN_A, 0, 99), (BAN_B, 50, 149)], [])
    allocations = load_allocations([a])
    problems = lint("00001,53567686,11302,AB,00000000,00000099,07\r\n", allocations=allocations)
    assert len(problems) == 1
    assert problems[0].startswith(f"{BAN_A}_11302.csv:1: AB00000000–AB00000099 holds "
                                  "AB00000050–AB00000099, which two allocations claim")
    assert f"BAN {BAN_A} and BAN {BAN_B}" in problems[0]
    # One number shared is enough; a range that stops short of it is fine.
    a, _ = write_inputs(tmp_path, [(BAN_A, 0, 99), (BAN_B, 99, 149)], [])
    allocations = load_allocations([a])
    assert lint("00001,53567686,11302,AB,00000000,00000098,07\r\n", allocations=allocations) == []
    assert len(lint("00001,53567686,11302,AB,00000099,00000099,07\r\n",
                    allocations=allocations)) == 1


def test_check_refuses_a_file_named_after_another_reporting_ban(tmp_path: Path) -> None:
    a = tmp_path / "allocations.csv"
    a.write_text(HEADER + f"{BAN_B},07,11302,AB,00000000,00000049,{BAN_A}\n"
                 f"{BAN_X},07,11302,CD,00000000,00000049,\n", encoding="utf-8")
    allocations = load_allocations([a])
    branch = "00001,04595257,11302,AB,00000000,00000049,07\r\n"
    assert lint(branch, f"{BAN_A}_11302.csv", allocations) == []  # the head office uploads
    problems = lint(branch, f"{BAN_B}_11302.csv", allocations)
    likely = "likely E0606/E0611/E0614: 上傳之分支機構非該總機構所屬分支機構 / "
    assert len(problems) == 1 and problems[0].startswith(
        f"{BAN_B}_11302.csv:1: ban: AB00000000–AB00000049 of BAN {BAN_B} is reported "
        f"by BAN {BAN_A}, but the file is named after BAN {BAN_B}: it belongs in "
        f"{BAN_A}_11302.csv (") and likely in problems[0]
    own = "00001,22099131,11302,CD,00000000,00000049,07\r\n"
    assert lint(own, f"{BAN_X}_11302.csv", allocations) == []  # no head office: its own BAN
    problems = lint(own, f"{BAN_A}_11302.csv", allocations)
    assert len(problems) == 1 and (
        f"(if {BAN_A} is the head office of {BAN_X}, check against the allocation table whose "
        "head_ban says so: the MOF download does not)") in problems[0]
    assert lint(own, "upload.csv", allocations) == []  # a name of no BAN: nothing to compare
