"""Taiwan's conventions where a person types or reads a date: ROC dates and period forms, times in
the local zone, columns aligned when a cell holds wide characters."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from blanktrack import console
from blanktrack.cli import _date, _period, main
from blanktrack.period import Period, parse_date, roc_date

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "blanktrack" / "sample" / "10312"


@pytest.mark.parametrize(("text", "code"), [
    ("11312", "11312"), ("113/11~113/12", "11312"), ("113/11 ~ 113/12", "11312"),
    (" 113/01~113/02 ", "11302"), ("103/11~103/12", "10312"),
])
def test_period_forms(text: str, code: str) -> None:
    assert Period.parse(text).code == code
    assert _period(text).code == code


@pytest.mark.parametrize("text", ["113/12~114/01", "113/10~113/12", "11311", "113/11", "2024-12",
                                  "113/11~113/12~", ""])
def test_period_forms_refused(text: str) -> None:
    with pytest.raises(ValueError, match="period"):
        Period.parse(text)
    with pytest.raises(argparse.ArgumentTypeError):
        _period(text)


@pytest.mark.parametrize(("text", "day"), [
    ("114/01/06", dt.date(2025, 1, 6)), ("114-01-06", dt.date(2025, 1, 6)),
    ("114.1.6", dt.date(2025, 1, 6)), ("1140106", dt.date(2025, 1, 6)),
    ("99/12/31", dt.date(2010, 12, 31)), ("2025-01-06", dt.date(2025, 1, 6)),
    ("20250106", dt.date(2025, 1, 6)), ("2025/01/06", dt.date(2025, 1, 6)),
    ("113/02/29", dt.date(2024, 2, 29)),
])
def test_dates_roc_and_gregorian(text: str, day: dt.date) -> None:
    assert parse_date(text) == day
    assert _date(text) == day


@pytest.mark.parametrize(("text", "says"), [
    ("114/02/29", "does not exist"), ("114/13/01", "does not exist"), ("0/01/01", "is not a date"),
    ("114/01", "is not a date"), ("Jan 6", "is not a date"), ("", "is not a date"),
])
def test_dates_refused_say_why(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_date(text)
    with pytest.raises(argparse.ArgumentTypeError, match="114/01/06"):
        _date("114/02/30x")


@given(st.dates(min_value=dt.date(1912, 1, 1), max_value=dt.date(2910, 12, 31)))
@example(dt.date(1912, 1, 1))  # ROC year 1
@example(dt.date(2024, 2, 29))  # leap day, 113/02/29
@example(dt.date(2011, 1, 1))  # ROC 100: the year gets its third digit
def test_roc_date_round_trip(day: dt.date) -> None:
    assert parse_date(roc_date(day)) == day
    assert parse_date(roc_date(day).replace("/", "")) == day
    assert parse_date(day.isoformat()) == day


def test_cli_takes_roc_forms(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["reconcile", "--period", "103/11~103/12", "--report-date", "104/01/15",
               "--allocations", str(SAMPLE / "allocations.csv"),
               "--invoices", *[str(p) for p in sorted(SAMPLE.glob("invoices_*.csv"))],
               "--out-dir", str(tmp_path / "out")])
    assert rc == 0
    assert capsys.readouterr().out.startswith("period 10312 (103/11~103/12):")
    findings = (tmp_path / "out" / "10312" / "53567686" / "findings.csv").read_text(encoding="utf-8-sig")
    assert "late-report" in findings and "2015-01-15" in findings


def test_cli_refuses_a_bad_roc_date(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["reconcile", "--period", "11312", "--report-date", "114/02/30",
              "--allocations", "a.csv", "--invoices", "b.csv", "--out-dir", "out"])
    assert stop.value.code == 2
    assert "date '114/02/30' does not exist" in capsys.readouterr().err


def test_local_time_in_taipei_unless_tz_says_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    moment = dt.datetime(2026, 12, 5, 7, 21, 33, tzinfo=dt.UTC)
    monkeypatch.delenv("TZ", raising=False)
    assert console.local_time(moment) == "2026-12-05 15:21:33 CST"
    assert console.local_time(moment.replace(tzinfo=None)) == "2026-12-05 15:21:33 CST"
    monkeypatch.setenv("TZ", "Europe/Berlin")
    assert console.local_time(moment) == "2026-12-05 08:21:33 CET"
    monkeypatch.setenv("TZ", "UTC")
    assert console.local_time(moment) == "2026-12-05 07:21:33 UTC"
    monkeypatch.setenv("TZ", "No/Such_Zone")
    assert console.local_time(moment) == "2026-12-05 15:21:33 CST"


@pytest.mark.parametrize(("text", "width"), [
    ("", 0), ("abc", 3), ("空白", 4), ("跳號 skipped", 12), ("ＡＢ", 4), ("e\u0301", 1),
])
def test_display_width(text: str, width: int) -> None:
    assert console.display_width(text) == width


def test_columns_stay_aligned_with_cjk() -> None:
    lines = console.columns([["run", "note", "blank"],
                             ["a1", "月底補登 late entries", "253"],
                             ["b22", "sample", "7"]], right=[2])
    assert lines == [
        "run  note                   blank",
        "a1   月底補登 late entries    253",
        "b22  sample                     7",
    ]
    # the last column is right-aligned, so every line ends at the same terminal column
    assert {console.display_width(line) for line in lines} == {33}
