"""reconcile runs some domain steps on a second thread (beside the scan and the blank ranges):
an error there reaches the caller as it was raised, naming file, line and field, and the
command line exits non-zero with those words; the result is the same as step by step."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import blanktrack.reconcile as rec
from blanktrack.cli import main
from blanktrack.errors import InputError, Problem

SAMPLE = Path(__file__).resolve().parents[1] / "blanktrack" / "sample" / "10312"
INVOICES = sorted(SAMPLE.glob("invoices_*.csv"))
REPORT_DATE = dt.date(2014, 12, 5)
BAD = Problem("invoices_x.csv", 7, "invoice_date", "not a date: '2014-13-01'", "write YYYY-MM-DD")


def _refuse(*args: object, **kwargs: object) -> pl.DataFrame:
    raise InputError(BAD)


@pytest.mark.parametrize("step", ["named_invoices", "number_masks", "_overlaps"])
def test_an_error_on_the_second_thread_names_file_line_and_field(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path,
        step: str) -> None:
    monkeypatch.setattr(rec, step, _refuse)
    with pytest.raises(InputError) as raised:
        rec.reconcile("10312", [SAMPLE / "allocations.csv"], INVOICES, report_date=REPORT_DATE)
    assert raised.value.problems == [BAD]
    code = main(["reconcile", "--period", "10312", "--allocations", str(SAMPLE / "allocations.csv"),
                 "--invoices", *map(str, INVOICES), "--out-dir", str(tmp_path / "out"),
                 "--report-date", REPORT_DATE.isoformat()])
    assert code != 0
    err = capsys.readouterr().err
    assert "invoices_x.csv:7: field 'invoice_date': not a date: '2014-13-01'" in err, err
    assert not (tmp_path / "out").exists()


def test_the_threads_change_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same result when the second thread's steps run one after another on this thread."""
    threaded = rec.reconcile("10312", [SAMPLE / "allocations.csv"], INVOICES,
                             report_date=REPORT_DATE, hash_inputs=False)

    class InPlace:  # a pool that runs each step at once, where it is submitted
        def __init__(self, *args: object, **kwargs: object) -> None: ...

        def __enter__(self) -> InPlace:
            return self

        def __exit__(self, *exc: object) -> None: ...

        def submit(self, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
            from concurrent.futures import Future

            done: Future[object] = Future()
            try:
                done.set_result(fn(*args, **kwargs))
            except Exception as exc:  # handed to result(), as a pool does
                done.set_exception(exc)
            return done

    monkeypatch.setattr(rec, "ThreadPoolExecutor", InPlace)
    in_place = rec.reconcile("10312", [SAMPLE / "allocations.csv"], INVOICES,
                             report_date=REPORT_DATE, hash_inputs=False)
    for name in ("allocations", "blank_ranges", "skipped", "segments", "findings", "summary",
                 "issuing"):
        assert_frame_equal(getattr(threaded, name), getattr(in_place, name))
    # The booklets are unordered (Reconciliation.booklets), whichever thread made them.
    assert_frame_equal(threaded.booklets.sort(pl.all()), in_place.booklets.sort(pl.all()))
    assert threaded.findings.height > 0 and threaded.blank_ranges.height > 0


def test_the_command_line_never_sorts_the_issuing_and_a_reader_gets_it_sorted(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The till-days are sorted when first read (charts), not by every run."""
    result = rec.reconcile("10312", [SAMPLE / "allocations.csv"], INVOICES,
                           report_date=REPORT_DATE, hash_inputs=False)
    keys = ["seller_ban", "machine", "track", "invoice_date"]
    assert_frame_equal(result.issuing, result.issuing_unsorted.sort(keys, nulls_last=True))
    assert result.issuing is result.issuing  # sorted once
    monkeypatch.setattr(rec, "_sort_issuing", _refuse)
    code = main(["reconcile", "--period", "10312", "--allocations", str(SAMPLE / "allocations.csv"),
                 "--invoices", *map(str, INVOICES), "--out-dir", str(tmp_path / "out"),
                 "--report-date", REPORT_DATE.isoformat()])
    assert code == 0
