"""Every command ends with its verdict (issue 16): `reconcile` and `run` print blank numbers,
errors, warnings and the deadline; `runs` shows times in the local zone and the platform's
answer per run."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from archived_runs import make_run
from corpus.checks import SAMPLE
from platform_answers import process_result

from blanktrack.cli import main
from blanktrack.period import Period
from blanktrack.reconcile import reconcile
from blanktrack.verdict import verdict_lines_of as verdict_lines
from blanktrack.verdict import verdict_of_exports

INVOICES = sorted(SAMPLE.glob("invoices_*.csv"))


@pytest.mark.parametrize(("report_date", "deadline"), [
    (dt.date(2015, 1, 8), "deadline: 2 day(s) left 尚餘 2 天 — window 2015-01-01 ~ 2015-01-10 "
                          "(104/01/01~104/01/10)"),
    (dt.date(2015, 1, 10), "deadline: last day today 今日截止 — window 2015-01-01 ~ 2015-01-10 "
                           "(104/01/01~104/01/10)"),
    (dt.date(2015, 1, 13), "deadline: LATE — 3 day(s) late 逾期 3 天 — window was 2015-01-01 ~ "
                           "2015-01-10 (104/01/01~104/01/10)"),
])
def test_the_verdict_read_back_from_the_files_is_the_reconciliations(
        tmp_path: Path, report_date: dt.date, deadline: str) -> None:
    """`run` (whose reconciliation lives in its kernel) reads the verdict back from the files;
    it must say what `reconcile` says of the same period."""
    out = tmp_path / "out"
    assert main(["reconcile", "--period", "10312", "--allocations",
                 str(SAMPLE / "allocations.csv"), "--invoices", *map(str, INVOICES),
                 "--out-dir", str(out), "--report-date", report_date.isoformat()]) in (0, 3)
    result = reconcile("10312", [SAMPLE / "allocations.csv"], INVOICES, report_date=report_date)
    late = report_date > dt.date(2015, 1, 10)  # a late report is an error finding too
    expected = [f"verdict 10312 (103/11~103/12), reporting BAN 53567686: 253 blank number(s) in "
                f"10 range(s) to report; {3 if late else 2} error(s), 5 warning(s) to look at",
                deadline]
    assert verdict_lines(result) == expected
    assert verdict_of_exports(out, Period.parse("10312"), report_date) == expected


def test_run_ends_with_the_verdict(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    params = tmp_path / "p.yaml"
    params.write_text(
        "period: '10312'\n"
        f"allocations: ['{SAMPLE / 'allocations.csv'}']\n"
        f"invoices: [{', '.join(repr(str(p)) for p in INVOICES)}]\n"
        "report_date: '2015-01-08'\n", encoding="utf-8")
    assert main(["run", "--params", str(params), "--archive", str(tmp_path / "archive")]) == 0
    *_, verdict, deadline = capsys.readouterr().out.splitlines()
    assert verdict == ("verdict 10312 (103/11~103/12), reporting BAN 53567686: 253 blank "
                       "number(s) in 10 range(s) to report; 2 error(s), 5 warning(s) to look at")
    assert deadline.startswith("deadline: 2 day(s) left")


def test_runs_shows_local_times_and_the_platforms_answer(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TZ", "Asia/Taipei")
    archive = tmp_path / "archive"
    answered = make_run(archive, "run-a", started="2015-01-07T01:30:00+00:00")
    make_run(archive, "run-b", started="2015-01-06T01:30:00+00:00")
    answer = tmp_path / "answer.xml"
    answer.write_bytes(process_result([("0",)], message_id="53567686_10312_07_MB_001"))
    assert main(["results", str(answer), "--archive", str(archive)]) == 0
    capsys.readouterr()
    assert main(["runs", "--archive", str(archive)]) == 0
    header, *rows = capsys.readouterr().out.splitlines()
    assert header.split() == ["period", "run", "by", "started", "finished", "status", "platform",
                              "note", "folder"]
    assert rows[0].split()[:6] == ["10312", "test@host", "2015-01-07", "09:30:00", "CST",
                                   "2015-01-07"]
    assert "completed  uploaded  " in rows[0] and str(answered) in rows[0]
    assert "completed  —" in rows[1]


def test_a_run_of_many_reporting_bans_names_how_many_not_all() -> None:
    """An accounting office's run of hundreds of BANs: the verdict stays one line."""
    from blanktrack.verdict import verdict_lines as text_verdict

    bans = [f"{n:08d}" for n in range(6)]
    first, _ = text_verdict(Period.parse("10312"), bans, 10, 2, 0, 1, dt.date(2015, 1, 8))
    assert first == ("verdict 10312 (103/11~103/12), 6 reporting BANs (00000000, 00000001, "
                     "00000002, 00000003, 00000004, …): 10 blank number(s) in 2 range(s) to "
                     "report; 0 error(s), 1 warning(s) to look at")
    first, _ = text_verdict(Period.parse("10312"), bans[:5], 10, 2, 0, 1, dt.date(2015, 1, 8))
    assert first.startswith("verdict 10312 (103/11~103/12), reporting BAN 00000000, 00000001, "
                            "00000002, 00000003, 00000004: ")
