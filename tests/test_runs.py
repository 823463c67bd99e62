"""Period runs end to end: papermill into the archive, manifest, register, verify."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from blanktrack import archive
from blanktrack.cli import main
from blanktrack.params import load_params
from blanktrack.runner import run_period

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "params" / "sample.yaml"


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("archive")
    outcome = run_period(load_params(SAMPLE, base_dir=ROOT), root, progress=False)
    assert outcome.status == "completed", outcome.error
    return outcome.run_dir


def test_run_archives_notebook_html_exports_and_manifest(sample_run: Path) -> None:
    assert sample_run.parent.name == "10312"
    for rel in ("reconcile.ipynb", "reconcile.html", "manifest.json", "exports/findings.csv",
                "exports/summary.csv", "exports/mof/53567686_10312.csv",
                "exports/e0402/53567686_10312_07_MB_001.xml"):
        assert (sample_run / rel).is_file(), rel
    m = archive.read_manifest(sample_run)
    assert m["status"] == "completed" and m["error"] is None
    assert m["parameters"]["period"] == "10312"
    assert m["parameters"]["report_date"] == "2015-01-08"
    assert m["started"] <= m["finished"]
    assert "@" in m["run_by"]
    assert m["packages"]["polars"].startswith("2.")
    # every input hashed, every output hashed and matching
    assert any(k.endswith("invoices_pos-1.csv") for k in m["inputs"])
    for path, digest in m["inputs"].items():
        assert archive.sha256_file(Path(path)) == digest
    assert m["outputs"] == archive.output_hashes(sample_run)
    assert "exports/mof/53567686_10312.csv" in m["outputs"]


def test_exports_equal_the_cli_reconcile(sample_run: Path, tmp_path: Path) -> None:
    s = ROOT / "blanktrack" / "sample" / "10312"
    rc = main(["reconcile", "--period", "10312", "--ban", "53567686",
               "--allocations", str(s / "allocations.csv"),
               "--invoices", *[str(p) for p in sorted(s.glob("invoices_*.csv"))],
               "--out-dir", str(tmp_path), "--report-date", "2015-01-08"])
    assert rc == 0
    for rel in ("mof/53567686_10312.csv", "summary.csv", "e0402/53567686_10312_07_KT_001.xml"):
        assert (tmp_path / rel).read_bytes() == (sample_run / "exports" / rel).read_bytes()
    mof = (tmp_path / "mof/53567686_10312.csv").read_text()
    assert "00009,53567686,10312,MB,02034268,02034299,07" in mof


def test_html_stands_alone(sample_run: Path) -> None:
    page = (sample_run / "reconcile.html").read_text(encoding="utf-8")
    assert "<table" in page and "空白區間 blank ranges" in page and "待查事項 findings" in page
    assert page.count("data:image/svg+xml") >= 2 or page.count("<svg") >= 2  # both charts
    assert not re.search(r"<script[^>]*src=\"https?://", page)
    assert "cdnjs" not in page
    nb = json.loads((sample_run / "reconcile.ipynb").read_text())
    svg_outputs = [o for c in nb["cells"] for o in c.get("outputs", [])
                   if "image/svg+xml" in o.get("data", {})]
    assert len(svg_outputs) == 2


def test_same_parameters_give_identical_exports(sample_run: Path, tmp_path: Path) -> None:
    again = run_period(load_params(SAMPLE, base_dir=ROOT), tmp_path, progress=False)
    assert again.status == "completed"
    first = archive.read_manifest(sample_run)["outputs"]
    second = archive.read_manifest(again.run_dir)["outputs"]
    exports = {k: v for k, v in first.items() if k.startswith("exports/")}
    assert exports and exports == {k: v for k, v in second.items() if k.startswith("exports/")}
    assert again.run_dir != sample_run


def test_runs_lists_newest_first_and_verify_passes(sample_run: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs", "--archive", str(sample_run.parents[1])]) == 0
    out = capsys.readouterr().out
    assert "completed" in out and "10312" in out and "shipped sample period" in out
    assert main(["verify", str(sample_run)]) == 0


def test_verify_names_changed_missing_and_added_files(sample_run: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    copy = tmp_path / "run"
    shutil.copytree(sample_run, copy)
    with open(copy / "exports/mof/53567686_10312.csv", "ab") as fh:
        fh.write(b"00011,53567686,10312,MB,02034300,02034300,07\r\n")
    (copy / "exports/summary.csv").unlink()
    (copy / "exports/extra.csv").write_text("x\n")
    assert main(["verify", str(copy)]) == 1
    out = capsys.readouterr().out
    assert "exports/mof/53567686_10312.csv: changed" in out
    assert "exports/summary.csv: missing" in out
    assert "exports/extra.csv: not in the manifest" in out


def test_failed_run_is_archived_as_failed(tmp_path: Path) -> None:
    params = tmp_path / "strict.yaml"
    text = SAMPLE.read_text().replace("strict: false", "strict: true")
    params.write_text(text)
    archive_root = tmp_path / "archive"
    rc = main(["run", "--params", str(params), "--archive", str(archive_root)])
    assert rc == 3  # strict mode and the sample's error findings
    (run_dir,) = list((archive_root / "10312").iterdir())
    m = archive.read_manifest(run_dir)
    assert m["status"] == "failed"
    assert "StrictModeError" in m["error"] and "error finding" in m["error"]
    assert (run_dir / "reconcile.ipynb").is_file() and (run_dir / "reconcile.html").is_file()
    assert (run_dir / "exports/findings.csv").is_file()  # written before strict stops the run
    assert archive.verify_run(run_dir) == []
    records = archive.list_runs(archive_root)
    assert [r.status for r in records] == ["failed"]


def test_bad_input_fails_the_run_with_the_message(tmp_path: Path) -> None:
    bad = tmp_path / "allocations.csv"
    bad.write_text("ban,invoice_type,period,track,begin_no,end_no\n"
                   "53567687,07,10312,MB,02034200,02034299\n")
    params = tmp_path / "bad.yaml"
    params.write_text(SAMPLE.read_text().replace(
        "  - blanktrack/sample/10312/allocations.csv", f"  - {bad}"))
    outcome = run_period(load_params(params, base_dir=ROOT), tmp_path / "archive", progress=False)
    assert outcome.status == "failed"
    assert "53567687" in outcome.error and "allocations.csv:2" in outcome.error


def test_incomplete_run_is_shown_as_incomplete(tmp_path: Path) -> None:
    run_dir = archive.new_run_dir(tmp_path, "10312", archive.now_utc())
    archive.write_manifest(run_dir, {"status": "running", "pid": 2**22 + 12345,
                                     "host": "elsewhere", "started": "2026-01-01T00:00:00+00:00",
                                     "parameters": {"period": "10312"}, "run_by": "x@y"})
    (record,) = archive.list_runs(tmp_path)
    assert record.status == "incomplete"
    assert any("never finished" in p for p in archive.verify_run(run_dir))


def test_run_folder_is_never_reused(tmp_path: Path) -> None:
    started = archive.now_utc()
    a = archive.new_run_dir(tmp_path, "10312", started)
    b = archive.new_run_dir(tmp_path, "10312", started)
    assert a != b and a.is_dir() and b.is_dir()


CHROMIUM = shutil.which("chromium")


@pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed (.ci/run installs it)")
def test_html_renders_offline_in_chromium(sample_run: Path, tmp_path: Path) -> None:
    """Headless Chromium with networking off renders the archived page: a tall, non-blank shot."""
    import subprocess

    shot = tmp_path / "report.png"
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}",
           "--proxy-server=127.0.0.1:9",  # any network request fails
           "--window-size=1200,3000", f"--screenshot={shot}",
           (sample_run / "reconcile.html").as_uri()]
    subprocess.run(cmd, capture_output=True, timeout=120, check=True)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 100_000  # tables and charts, not an empty page


def test_a_timed_out_run_keeps_the_notebook_as_far_as_it_ran(tmp_path: Path) -> None:
    """The executed notebook is written once, when the run ends: also when a cell times out,
    with the cells before it and the one that timed out."""
    import nbformat

    notebook = tmp_path / "slow.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("period = '10312'", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("print('before the slow cell')"),
                nbformat.v4.new_code_cell("import time\ntime.sleep(30)"),
                nbformat.v4.new_code_cell("print('never')")]
    nbformat.write(nb, notebook)
    params = tmp_path / "slow.yaml"
    params.write_text(SAMPLE.read_text() + f"notebook: {notebook}\ntimeout: 2\n")
    outcome = run_period(load_params(params, base_dir=ROOT), tmp_path / "archive", progress=False)
    assert outcome.status == "failed" and "Timeout" in outcome.error
    executed = json.loads((outcome.run_dir / "reconcile.ipynb").read_text())
    outputs = [c.get("outputs", []) for c in executed["cells"] if c["cell_type"] == "code"]
    assert "before the slow cell" in json.dumps(outputs[2])
    assert outputs[-1] == []
    assert executed["metadata"]["papermill"]["end_time"]


def test_a_killed_runs_kernel_folder_is_removed_by_the_next(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A run removes its kernel's socket folder; one killed cannot, so the next run removes the
    folders of processes that no longer run (never another live run's)."""
    import subprocess
    import sys
    import tempfile

    from blanktrack.runner import _kernel_folder

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dead = tmp_path / f"blanktrack-kernel-{int(gone.stdout)}-abc"
    live = tmp_path / f"blanktrack-kernel-{os.getpid()}-def"
    other = tmp_path / "blanktrack-kernel-xyz"  # not one of ours: named without a pid
    huge = tmp_path / f"blanktrack-kernel-{10**30}-ghi"  # no pid can be this: left alone
    for folder in (dead, live, other, huge):
        folder.mkdir()
        (folder / "kernel-ipc-1").write_text("")
    made = Path(_kernel_folder())
    assert not dead.exists() and live.exists() and other.exists() and huge.exists()
    assert made.parent == tmp_path and made.name.startswith(f"blanktrack-kernel-{os.getpid()}-")
