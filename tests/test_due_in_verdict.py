"""The reconcile notebook's verdict shows what `blanktrack due` says of its BAN and period: the
window, days left or late, and in the archive the status of an earlier run (issue 17 item 3)."""

from __future__ import annotations

import datetime as dt
import html
import re
from pathlib import Path

from archived_runs import make_run
from platform_answers import process_result
from test_due import CLIENT, clean_client

from blanktrack import archive, report
from blanktrack.cli import main
from blanktrack.due import status_here
from blanktrack.params import load_params
from blanktrack.reconcile import reconcile
from blanktrack.runner import run_period

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "params" / "sample.yaml"


def running_run(root: Path, name: str, ban: str) -> Path:
    """A run folder as `blanktrack run` has it while the notebook executes."""
    here = root / "10312" / name
    here.mkdir(parents=True)
    archive.write_manifest(here, {"status": "running", "pid": 1, "host": "elsewhere",
                                  "started": "2015-01-09T00:00:00+00:00", "run_by": "x@y",
                                  "parameters": {"period": "10312", "ban": ban}})
    return here


def test_outside_an_archive_the_window_and_days_only(tmp_path: Path) -> None:
    row = status_here("10312", "53567686", dt.date(2015, 1, 8), here=tmp_path)
    said, bad = report.due_words(row)
    assert said == ("not run from an archive: earlier runs unknown; window "
                    "2015-01-01..2015-01-10, 2 day(s) left")
    assert bad is None


def test_in_the_archive_the_earlier_runs_status(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    allocations, invoices = clean_client(tmp_path)
    make_run(root, "run-a", started="2015-01-07T00:00:00+00:00", ban=CLIENT,
             allocations=allocations, invoices=invoices)
    here = running_run(root, "run-b", CLIENT)
    row = status_here("10312", CLIENT, dt.date(2015, 1, 12), here=here)
    assert (row.run_dir, row.status) == (root / "10312" / "run-a", "verified")
    assert report.due_words(row) == (
        "earlier run 10312/run-a: verified; window 2015-01-01..2015-01-10, 2 day(s) late", False)
    answer = tmp_path / "answer.xml"
    answer.write_bytes(process_result([("E0616",)], message_id=f"{CLIENT}_10312_07_AB_001"))
    assert main(["results", str(answer), "--archive", str(root)]) == 1  # a refusal
    row = status_here("10312", CLIENT, dt.date(2015, 1, 9), here=here)
    assert report.due_words(row) == (
        "earlier run 10312/run-a: platform failed; window 2015-01-01..2015-01-10, "
        "1 day(s) left", True)
    # another BAN's run, or none at all: no earlier run
    other = status_here("10312", "53567686", dt.date(2015, 1, 9), here=here)
    assert report.due_words(other) == (
        "no earlier run of this period 本期尚無先前執行; window 2015-01-01..2015-01-10, "
        "1 day(s) left", None)


def test_the_verdict_shows_the_status_row(tmp_path: Path) -> None:
    sample = ROOT / "blanktrack" / "sample" / "10312"
    result = reconcile("10312", [sample / "allocations.csv"],
                       sorted(sample.glob("invoices_*.csv")), ban="53567686",
                       report_date=dt.date(2015, 1, 8))
    row = status_here("10312", "53567686", dt.date(2015, 1, 8), here=tmp_path)
    shown = report.verdict(result, row).data
    assert ("<tr><th>申報進度 status (as blanktrack due)</th><td>not run from an archive: "
            "earlier runs unknown; window 2015-01-01..2015-01-10, 2 day(s) left</td></tr>") in shown
    assert "申報進度" not in report.verdict(result).data


def test_a_run_after_an_earlier_one_shows_its_status(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    make_run(root, "run-a", started="2015-01-07T00:00:00+00:00")  # the sample: error findings
    outcome = run_period(load_params(SAMPLE, base_dir=ROOT), root, progress=False)
    assert outcome.status == "completed", outcome.error
    page = (outcome.run_dir / "reconcile.html").read_text(encoding="utf-8")
    text = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))
    assert ("申報進度 status (as blanktrack due) earlier run 10312/run-a: run with errors; "
            "window 2015-01-01..2015-01-10, 2 day(s) left") in text
