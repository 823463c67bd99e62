# ruff: noqa: E501  (the expected table is written out literally, one line per row)
"""`blanktrack due`: per BAN and period, status, window and days left, with a fixed clock."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from archived_runs import SAMPLE_ALLOCATIONS, SAMPLE_INVOICES, make_run
from hypothesis import example, given
from hypothesis import strategies as st
from platform_answers import process_result

from blanktrack.cli import main
from blanktrack.due import DueRow, due
from blanktrack.period import Period

CLIENT = "10458575"  # a second client of the accounting office, with a clean period


def write_params(folder: Path, name: str, period: str, ban: str, allocations: list[Path],
                 invoices: list[Path]) -> Path:
    path = folder / name
    path.write_text(
        f"period: '{period}'\nban: '{ban}'\n"
        f"allocations: [{', '.join(str(p) for p in allocations)}]\n"
        f"invoices: [{', '.join(str(p) for p in invoices)}]\n", encoding="utf-8")
    return path


def clean_client(tmp_path: Path) -> tuple[list[Path], list[Path]]:
    """One allocation of 50 numbers, the first 10 issued: no error finding."""
    alloc = tmp_path / "client_alloc.csv"
    alloc.write_text("ban,invoice_type,period,track,begin_no,end_no,head_ban,machine,reported_by\n"
                     f"{CLIENT},07,10312,AB,00000000,00000049,{CLIENT},,\n", encoding="utf-8")
    inv = tmp_path / "client_invoices.csv"
    inv.write_text("invoice_number,invoice_date,seller_ban,status\n" + "".join(
        f"AB{n:08d},2014-11-{n + 1:02d},{CLIENT},issued\n" for n in range(10)), encoding="utf-8")
    return [alloc], [inv]


@pytest.fixture
def office(tmp_path: Path) -> tuple[Path, Path]:
    """A params folder of an accounting office and its archive."""
    params = tmp_path / "params"
    params.mkdir()
    archive = tmp_path / "archive"
    sample = ([SAMPLE_ALLOCATIONS], SAMPLE_INVOICES)
    client = clean_client(tmp_path)
    write_params(params, "a_10312.yaml", "10312", "53567686", *sample)   # run, error findings
    write_params(params, "b_10312.yaml", "10312", CLIENT, *client)       # clean run
    write_params(params, "c_10310.yaml", "10310", "53567686", *sample)   # never run: late
    write_params(params, "d_10402.yaml", "10402", "53567686", *sample)   # window not open
    write_params(params, "e_10310.yaml", "10310", "04595257", *sample)   # no 10312 file yet
    make_run(archive, "run-a", started="2015-01-06T09:00:00+00:00")
    make_run(archive, "run-b", started="2015-01-07T09:00:00+00:00", ban=CLIENT,
             allocations=client[0], invoices=client[1])
    return params, archive


def test_due_across_params_files(office: tuple[Path, Path], capsys) -> None:
    params, archive = office
    assert main(["due", str(params), "--archive", str(archive), "--today", "2015-01-08"]) == 1
    out = capsys.readouterr().out
    p = params
    assert out == (
        "BAN       period               window                  timing              status           parameter file / run\n"
        f"04595257  10310 103/09~103/10  2014-11-01..2014-11-10  59 day(s) late      not run          {p / 'e_10310.yaml'}\n"
        f"53567686  10310 103/09~103/10  2014-11-01..2014-11-10  59 day(s) late      not run          {p / 'c_10310.yaml'}\n"
        "04595257  10312 103/11~103/12  2015-01-01..2015-01-10  2 day(s) left       not run          (none) (no parameter file for this period yet)\n"
        f"10458575  10312 103/11~103/12  2015-01-01..2015-01-10  2 day(s) left       verified         {p / 'b_10312.yaml'} → {archive / '10312' / 'run-b'}\n"
        f"53567686  10312 103/11~103/12  2015-01-01..2015-01-10  2 day(s) left       run with errors  {p / 'a_10312.yaml'} → {archive / '10312' / 'run-a'}\n"
        f"53567686  10402 104/01~104/02  2015-03-01..2015-03-10  opens in 52 day(s)  not run          {p / 'd_10402.yaml'}\n"
        "attention: BAN 04595257 period 10310: not run, 59 day(s) late\n"
        "attention: BAN 53567686 period 10310: not run, 59 day(s) late\n"
        "attention: BAN 04595257 period 10312: not run, 2 day(s) left\n"
        "attention: BAN 53567686 period 10312: run with errors, 2 day(s) left\n"
    )


def test_a_clean_period_early_in_its_window_needs_nothing(office: tuple[Path, Path],
                                                          capsys) -> None:
    params, archive = office
    # Day 2 of the window: the erroneous run has 8 days left; only the clean client is asked.
    assert main(["due", str(params / "b_10312.yaml"), "--archive", str(archive),
                 "--today", "2015-01-02"]) == 0
    assert "attention" not in capsys.readouterr().out
    rows = due([params / "a_10312.yaml"], archive, clock=lambda: dt.date(2015, 1, 2))
    assert [(r.status, r.timing, r.needs_attention) for r in rows] == [
        ("run with errors", "8 day(s) left", False)]


def test_platform_answers_and_a_changed_run(office: tuple[Path, Path]) -> None:
    params, archive = office
    answer = archive.parent / "answer.xml"
    answer.write_bytes(process_result([("0",)], message_id="10458575_10312_07_AB_001"))
    assert main(["results", str(answer), "--archive", str(archive)]) == 0
    [row] = due([params / "b_10312.yaml"], archive, today=dt.date(2015, 1, 9))
    assert row.status == "platform accepted" and not row.needs_attention

    refused = archive.parent / "refused.xml"
    refused.write_bytes(process_result([("E0616",)], message_id="10458575_10312_07_AB_001"))
    main(["results", str(refused), "--archive", str(archive)])
    [row] = due([params / "b_10312.yaml"], archive, today=dt.date(2015, 1, 9))
    assert row.status == "platform failed" and row.needs_attention


def test_a_tampered_run_is_completed_not_verified(office: tuple[Path, Path]) -> None:
    params, archive = office
    [summary, *_] = sorted((archive / "10312" / "run-b" / "exports").rglob("summary.csv"))
    summary.write_text(summary.read_text(encoding="utf-8") + "x\n", encoding="utf-8")
    [row] = due([params / "b_10312.yaml"], archive, today=dt.date(2015, 1, 9))
    assert row.status == "completed"


def test_an_unreadable_params_file_is_shown_and_fails(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("period: 10312\n", encoding="utf-8")
    assert main(["due", str(bad), "--archive", str(tmp_path / "none"), "--today",
                 "2015-01-08"]) == 1
    out = capsys.readouterr().out
    assert "unreadable parameter file" in out and str(bad) in out


@given(st.dates(dt.date(2015, 1, 1), dt.date(2015, 1, 31)))
@example(dt.date(2015, 1, 7))   # 3 days left: attention
@example(dt.date(2015, 1, 6))   # 4 days left: not yet
@example(dt.date(2015, 1, 10))  # last day
@example(dt.date(2015, 1, 11))  # one day late
def test_attention_follows_the_window(day: dt.date) -> None:
    period = Period.parse("10312")
    row = DueRow("53567686", period, "not run", "p.yaml", None, day)
    clean = DueRow("53567686", period, "verified", "p.yaml", None, day)
    assert row.needs_attention == (day >= dt.date(2015, 1, 7))
    assert not clean.needs_attention
    left = (dt.date(2015, 1, 10) - day).days
    assert row.timing == (f"{left} day(s) left" if left >= 0 else f"{-left} day(s) late")
