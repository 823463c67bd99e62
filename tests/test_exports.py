"""exports.write_exports as the command line uses it: the same files as the API, and nothing at
all when one of its own upload files fails lint."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

import blanktrack.exports as exports
from blanktrack.cli import main
from blanktrack.errors import InputError
from blanktrack.reconcile import Reconciliation, reconcile

SAMPLE = Path(__file__).resolve().parents[1] / "blanktrack" / "sample" / "10312"
INVOICES = sorted(SAMPLE.glob("invoices_*.csv"))
REPORT_DATE = dt.date(2014, 12, 5)


def sample(hash_inputs: bool = False) -> Reconciliation:
    """The sample period; its inputs hashed as a period run hashes them (the workbook lists the
    SHA-256 then), or not, as the command line does."""
    return reconcile("10312", [SAMPLE / "allocations.csv"], INVOICES, report_date=REPORT_DATE,
                     hash_inputs=hash_inputs)


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def nothing_left(parent: Path) -> bool:
    """No hidden entry but the set folders' ledgers: no staging, no temporary file."""
    return not [p for p in parent.rglob(".*") if p.name != ".blanktrack-set.json"]


def test_command_line_writes_what_write_exports_writes(tmp_path: Path) -> None:
    exports.write_exports(sample(), tmp_path / "api")
    assert main(["reconcile", "--period", "10312", "--allocations", str(SAMPLE / "allocations.csv"),
                 "--invoices", *map(str, INVOICES), "--out-dir", str(tmp_path / "cli"),
                 "--report-date", REPORT_DATE.isoformat()]) == 0
    api, cli = files(tmp_path / "api"), files(tmp_path / "cli")
    assert api and api == cli
    assert nothing_left(tmp_path)


def test_a_refused_upload_file_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                              ) -> None:
    def refuse(*args: object, **kwargs: object) -> list[Path]:
        raise exports.MofCsvLintError([])

    monkeypatch.setattr(exports, "write_mof_csvs", refuse)
    with pytest.raises(InputError, match="nothing was written"):
        exports.write_exports(sample(), tmp_path / "out")
    assert not (tmp_path / "out").exists() and nothing_left(tmp_path)
    code = main(["reconcile", "--period", "10312", "--allocations", str(SAMPLE / "allocations.csv"),
                 "--invoices", *map(str, INVOICES), "--out-dir", str(tmp_path / "cli"),
                 "--report-date", REPORT_DATE.isoformat()])
    assert code == 1
    assert not (tmp_path / "cli").exists() and nothing_left(tmp_path)


def test_the_command_line_starts_the_upload_files_before_the_findings(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import blanktrack.reconcile as rec

    order: list[str] = []
    start, collect = exports.Exports.start, rec.findings.collect
    monkeypatch.setattr(exports.Exports, "start",
                        lambda self, ranges: order.append("start") or start(self, ranges))
    monkeypatch.setattr(rec.findings, "collect", lambda frames: order.append("findings") or collect(frames))
    assert main(["reconcile", "--period", "10312", "--allocations", str(SAMPLE / "allocations.csv"),
                 "--invoices", *map(str, INVOICES), "--out-dir", str(tmp_path / "cli"),
                 "--report-date", REPORT_DATE.isoformat()]) == 0
    assert order[0] == "start" and "findings" in order  # the upload files before any finding
    exports.write_exports(sample(), tmp_path / "api")
    assert files(tmp_path / "api") == files(tmp_path / "cli")


def test_a_failure_after_the_upload_files_started_leaves_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import blanktrack.reconcile as rec
    from blanktrack.errors import Problem

    def fail(frames: object) -> object:
        raise InputError(Problem("x.csv", 3, "status", "made up for the test", "none"))

    monkeypatch.setattr(rec.findings, "collect", fail)
    code = main(["reconcile", "--period", "10312", "--allocations", str(SAMPLE / "allocations.csv"),
                 "--invoices", *map(str, INVOICES), "--out-dir", str(tmp_path / "cli"),
                 "--report-date", REPORT_DATE.isoformat()])
    assert code == 1
    assert not (tmp_path / "cli").exists() and nothing_left(tmp_path)


def test_finish_takes_the_ranges_it_started_with(tmp_path: Path) -> None:
    result = sample()
    with exports.Exports(tmp_path / "out") as staged:
        staged.start(result.blank_ranges)
        with pytest.raises(RuntimeError, match="being written already"):
            staged.start(result.blank_ranges)
        with pytest.raises(RuntimeError, match="other blank ranges"):
            staged.finish(sample())
    assert not (tmp_path / "out").exists() and nothing_left(tmp_path)


def test_the_notebook_stages_the_upload_files_while_it_reconciles(tmp_path: Path) -> None:
    """report.reconcile_period(out_dir=…) starts the upload files; report.exports puts them in
    place: the same files as write_exports. A period reconciled again drops what the first
    staged, and exports to another folder write afresh."""
    from blanktrack import report

    args = ("10312", [str(SAMPLE / "allocations.csv")], list(map(str, INVOICES)))
    exports.write_exports(sample(hash_inputs=True), tmp_path / "api")  # a notebook hashes them
    dropped = report.reconcile_period(*args, report_date=REPORT_DATE, out_dir=tmp_path / "nb")
    assert [p for p in (tmp_path / "nb").iterdir() if p.name.startswith(".blanktrack-staging-")]
    result = report.reconcile_period(*args, report_date=REPORT_DATE, out_dir=tmp_path / "nb")
    assert len([p for p in (tmp_path / "nb").iterdir()
                if p.name.startswith(".blanktrack-staging-")]) == 1
    assert not (tmp_path / "nb" / "10312").exists()  # nothing in place before exports()
    report.exports(result, tmp_path / "nb")
    assert files(tmp_path / "nb") == files(tmp_path / "api")
    assert nothing_left(tmp_path)
    report.exports(dropped, tmp_path / "other")  # not staged for this result: written afresh
    assert files(tmp_path / "other") == files(tmp_path / "api")
    assert nothing_left(tmp_path)
