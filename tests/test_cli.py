"""The CLI contract: files written, exit codes, nothing written on bad input, check."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest
from corpus.checks import e0402_files, findings_of, summary_of, upload_file, upload_files

from blanktrack.archive import sha256_file
from blanktrack.cli import main
from blanktrack.demo import SAMPLE_EXPECTED

SAMPLE = Path(__file__).resolve().parents[1] / "blanktrack" / "sample" / "10312"
INVOICES = [str(p) for p in sorted(SAMPLE.glob("invoices_*.csv"))]


def reconcile(out: Path, *extra: str, allocations: str | None = None) -> int:
    return main(["reconcile", "--period", "10312",
                 "--allocations", allocations or str(SAMPLE / "allocations.csv"),
                 "--invoices", *INVOICES, "--out-dir", str(out),
                 "--report-date", "2015-01-08", *extra])


def test_sample_gives_the_expected_report(tmp_path: Path) -> None:
    assert reconcile(tmp_path) == 0
    assert [p.name for p in upload_files(tmp_path)] == SAMPLE_EXPECTED["upload_files"]
    mof = upload_file(tmp_path, "53567686", "10312").read_bytes().decode("ascii").splitlines()
    expected = [
        f"{i:05d},{r['ban']},10312,{r['track']},{r['begin_no']},{r['end_no']},{r['invoice_type']}"
        for i, r in enumerate(SAMPLE_EXPECTED["blank_ranges"], start=1)
    ]
    assert mof == expected
    findings = findings_of(tmp_path)
    got = sorted(findings.select("code", "ban", "track", "begin_no", "end_no").rows())
    want = sorted((f["code"], f["ban"], f["track"], f["begin_no"], f["end_no"])
                  for f in SAMPLE_EXPECTED["findings"])
    assert got == want
    summary = summary_of(tmp_path)
    totals = SAMPLE_EXPECTED["totals"]
    for col in ("allocated", "used", "blank"):
        assert summary[col].cast(pl.Int64).sum() == totals[col]
    assert len(e0402_files(tmp_path)) == 5


def test_mof_download_gives_the_same_blanks(tmp_path: Path) -> None:
    assert reconcile(tmp_path / "a") == 0
    assert reconcile(tmp_path / "b", allocations=str(SAMPLE / "invnoapply_10312.csv")) == 0
    # the download has no head_ban: each BAN reports for itself, same ranges, two files
    a = upload_file(tmp_path / "a", "53567686", "10312").read_text().splitlines()
    b = sorted(line for f in upload_files(tmp_path / "b") for line in f.read_text().splitlines())
    assert sorted(x[6:] for x in a) == sorted(x[6:] for x in b)


def test_split_allocation(tmp_path: Path) -> None:
    assert reconcile(tmp_path, "--split", "allocation") == 0
    text = upload_file(tmp_path, "53567686", "10312").read_text()
    assert ",LQ,00500032,00500049,07" in text and ",LQ,00500050,00500099,07" in text


def test_same_input_gives_byte_identical_files(tmp_path: Path) -> None:
    assert reconcile(tmp_path / "a") == 0
    shuffled = list(reversed(INVOICES))
    assert main(["reconcile", "--period", "10312", "--allocations",
                 str(SAMPLE / "allocations.csv"), "--invoices", *shuffled, "--out-dir",
                 str(tmp_path / "b"), "--report-date", "2015-01-08"]) == 0
    files_a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*")
                     if p.is_file())
    assert files_a == sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*")
                             if p.is_file())
    for rel in files_a:
        if rel.name != "findings.csv":  # findings name the file each invoice came from
            assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes()


def test_strict_exits_3_after_writing_findings(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert reconcile(tmp_path, "--strict") == 3
    assert (tmp_path / "10312/53567686/findings.csv").is_file()
    assert "error finding" in capsys.readouterr().err


def test_ban_filter(tmp_path: Path) -> None:
    assert reconcile(tmp_path, "--ban", "04595257") == 0
    text = upload_file(tmp_path, "53567686", "10312").read_text()
    assert ",04595257," in text and ",53567686,10312" not in text


def test_invalid_input_exits_1_and_writes_nothing(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "alloc.csv"
    bad.write_text("ban,invoice_type,period,track,begin_no,end_no\n"
                   "53567687,07,10312,MB,02034200,02034299\n")
    out = tmp_path / "out"
    assert reconcile(out, allocations=str(bad)) == 1
    err = capsys.readouterr().err
    assert "alloc.csv:2" in err and "ban" in err
    assert not out.exists()


def test_missing_file_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert reconcile(tmp_path / "out", allocations=str(tmp_path / "nope.csv")) == 1
    assert "nope.csv" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_period_without_allocations_exits_1(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["reconcile", "--period", "11302", "--allocations", str(SAMPLE / "allocations.csv"),
               "--invoices", *INVOICES, "--out-dir", str(tmp_path / "o")])
    assert rc == 1 and "no allocation of period 11302" in capsys.readouterr().err


@pytest.mark.parametrize("args", [
    [], ["reconcile"], ["reconcile", "--period", "11301", "--allocations", "a", "--invoices", "b",
                        "--out-dir", "d"],
    ["reconcile", "--period", "11302", "--allocations", "a", "--invoices", "b", "--out-dir", "d",
     "--split", "track"],
    ["reconcile", "--period", "11302", "--allocations", "a", "--invoices", "b", "--out-dir", "d",
     "--ban", "53567687"],
])
def test_usage_errors_exit_2(args: list[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(args)
    assert info.value.code == 2


def test_check_passes_own_output_and_flags_bad_lines(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert reconcile(tmp_path / "o") == 0
    own = upload_file(tmp_path / "o", "53567686", "10312")
    assert main(["check", str(own), "--allocations", str(SAMPLE / "allocations.csv")]) == 0
    bad = tmp_path / "53567686_10312.csv"
    shutil.copy(own, bad)
    with open(bad, "ab") as fh:
        fh.write(b"00011,53567686,10312,MB,02034299,02034268,07\r\n")
    assert main(["check", str(bad), "--allocations", str(SAMPLE / "allocations.csv")]) == 1
    out = capsys.readouterr().out
    assert ":11:" in out and "發票迄號必須大於或等於起號" in out


def test_demo_sample_command(tmp_path: Path) -> None:
    assert main(["demo", "sample", "--out", str(tmp_path)]) == 0
    for name in SAMPLE_EXPECTED["files"]:  # a file, or POS-3's Turnkey folder
        assert sha256_file(tmp_path / name) == sha256_file(SAMPLE / name)


def test_unreadable_path_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert reconcile(tmp_path / "out", allocations=str(tmp_path / ("x" * 300))) == 1
    assert "cannot be read" in capsys.readouterr().err


def test_command_exits_with_its_code_and_all_its_output(tmp_path: Path) -> None:
    """`python -m blanktrack` leaves through os._exit (no interpreter teardown): its output must
    still be complete and its exit code the command's."""
    import subprocess
    import sys

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "blanktrack", *args], capture_output=True,
                              text=True, timeout=120, check=False)

    ok = run("reconcile", "--period", "10312", "--allocations", str(SAMPLE / "allocations.csv"),
             "--invoices", *INVOICES, "--out-dir", str(tmp_path / "out"), "--report-date", "2014-12-05")
    assert ok.returncode == 0, ok.stderr
    written = [line for line in ok.stdout.splitlines() if line.startswith("  wrote ")]
    # every file but the set's hidden ledger
    assert len(written) == sum(1 for p in (tmp_path / "out").rglob("*") if p.is_file()) - 1
    *_, last_written, verdict, deadline = ok.stdout.splitlines()  # the verdict comes last
    assert last_written.endswith("summary.csv")
    assert verdict == ("verdict 10312 (103/11~103/12), reporting BAN 53567686: 253 blank "
                       "number(s) in 10 range(s) to report; 2 error(s), 5 warning(s) to look at")
    assert deadline == ("deadline: period not over yet: window 2015-01-01 ~ 2015-01-10 "
                        "(104/01/01~104/01/10) opens in 27 day(s) (尚未截止, 27 天後開始申報)")
    bad = run("reconcile", "--period", "10312", "--allocations", str(tmp_path / "missing.csv"),
              "--invoices", *INVOICES, "--out-dir", str(tmp_path / "out2"))
    assert bad.returncode == 1 and "does not exist" in bad.stderr
    assert run("--help").returncode == 0
    usage = run("reconcile")
    assert usage.returncode == 2 and "required" in usage.stderr
