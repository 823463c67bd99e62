"""Crash safety: a period run killed with SIGKILL during export leaves nothing half-written.

The run executes the notebook in a kernel subprocess, so the test starts `blanktrack run` in a
new session and kills the whole process group. The test hook BLANKTRACK_TEST_PAUSE_EXPORT
(exports.PAUSE_ENV) makes write_exports sleep once everything is staged and before anything is
moved into place, so that the kill lands exactly there.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from corpus.checks import ROOT, check_outputs, visible_files

from blanktrack import archive
from blanktrack.cli import main
from blanktrack.exports import PAUSE_ENV

PARAMS = ROOT / "params" / "sample.yaml"
SAMPLE_ALLOCATIONS = ROOT / "blanktrack" / "sample" / "10312" / "allocations.csv"


def _staged(archive_root: Path) -> list[Path]:
    """Staging folders of the exports that hold every file (the pause has begun)."""
    return [p for p in archive_root.glob("10312/*/exports/.blanktrack-staging-*/10312/*")
            if (p / ".blanktrack-set.json").exists()]


@pytest.mark.skipif(not hasattr(os, "killpg"), reason="POSIX process groups")
def test_sigkill_during_export_leaves_an_incomplete_run_and_a_rerun_succeeds(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    archive_root = tmp_path / "archive"
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "blanktrack", "run", "--params", str(PARAMS),
             "--archive", str(archive_root)],
            cwd=ROOT, env={**os.environ, PAUSE_ENV: "60"}, start_new_session=True,
            stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 90
        while not _staged(archive_root):
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the export never started"
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)  # the runner and its kernel
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    (run_dir,) = (archive_root / "10312").iterdir()
    # Nothing half-written is visible: no export folder, no temporary file, no notebook under
    # the name an auditor opens; the manifest parses and still says running.
    visible = [p.relative_to(run_dir).as_posix() for p in visible_files(run_dir)]
    assert visible == ["manifest.json"], visible
    assert not (run_dir / "exports" / "10312").exists()  # no set folder: only hidden staging
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "running" and manifest["finished"] is None

    # The register shows it as incomplete, verify says it never finished.
    (record,) = archive.list_runs(archive_root)
    assert record.status == "incomplete"
    assert main(["runs", "--archive", str(archive_root)]) == 0
    assert "incomplete" in capsys.readouterr().out
    assert any("never finished" in p for p in archive.verify_run(run_dir))
    # what the killed run left hidden is named: every file of a run folder is on the record
    assert any(p.startswith("exports/.blanktrack-staging-") and "not in the manifest" in p
               for p in archive.verify_run(run_dir))

    # A rerun succeeds in a new folder, with complete, self-checked exports.
    rc = main(["run", "--params", str(PARAMS), "--archive", str(archive_root)])
    assert rc == 0, capsys.readouterr().err
    new = [p for p in (archive_root / "10312").iterdir() if p != run_dir]
    assert len(new) == 1
    assert archive.read_manifest(new[0])["status"] == "completed"
    assert archive.verify_run(new[0]) == []
    check_outputs(new[0] / "exports", [SAMPLE_ALLOCATIONS])
    statuses = sorted(r.status for r in archive.list_runs(archive_root))
    assert statuses == ["completed", "incomplete"]


def test_named_run_folder_is_used_once(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    archive_root = tmp_path / "archive"
    params = tmp_path / "named.yaml"
    params.write_text(PARAMS.read_text().replace("blanktrack/sample", f"{ROOT}/blanktrack/sample")
                      + f"notebook: {ROOT}/notebooks/reconcile.ipynb\nrun_folder: upload-1\n")
    assert main(["run", "--params", str(params), "--archive", str(archive_root)]) == 0
    run_dir = archive_root / "10312" / "upload-1"
    assert archive.read_manifest(run_dir)["status"] == "completed"
    assert archive.read_manifest(run_dir)["parameters"]["run_folder"] == "upload-1"
    capsys.readouterr()
    before = {p: p.stat().st_mtime_ns for p in run_dir.rglob("*")}
    assert main(["run", "--params", str(params), "--archive", str(archive_root)]) == 1
    err = capsys.readouterr().err
    assert f"{params}:" in err and "field 'run_folder'" in err and "already holds a run" in err
    assert {p: p.stat().st_mtime_ns for p in run_dir.rglob("*")} == before
    assert archive.verify_run(run_dir) == []
