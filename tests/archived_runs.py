"""Archived runs for the tests of results, due and diff, made without papermill.

The run folder has the layout `blanktrack run` gives (``{archive}/{period}/{run-id}/`` with
``exports/`` and ``manifest.json``, outputs and inputs hashed), its exports written by
``blanktrack reconcile``; the notebook itself is beside the point here and left out.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
from pathlib import Path
from typing import Any

from corpus.checks import SAMPLE

from blanktrack import archive, register
from blanktrack.cli import main

SAMPLE_INVOICES = sorted(SAMPLE.glob("invoices_*.csv"))
SAMPLE_ALLOCATIONS = SAMPLE / "allocations.csv"


def make_run(archive_root: Path, name: str, *, started: str, invoices: list[Path] | None = None,
             period: str = "10312", ban: str | None = "53567686", status: str = "completed",
             allocations: list[Path] | None = None) -> Path:
    """A completed (or failed) run of the sample period in ``archive_root/{period}/{name}``."""
    run_dir = archive_root / period / name
    run_dir.mkdir(parents=True)
    invoices = SAMPLE_INVOICES if invoices is None else invoices
    allocations = [SAMPLE_ALLOCATIONS] if allocations is None else allocations
    if status == "completed":
        rc = main(["reconcile", "--period", period, "--report-date", "2015-01-08",
                   "--allocations", *map(str, allocations), "--invoices", *map(str, invoices),
                   "--out-dir", str(run_dir / "exports")])
        assert rc == 0
    parameters = {"period": period, "ban": ban, "allocations": [str(p) for p in allocations],
                  "invoices": [str(p) for p in invoices], "note": ""}
    archive.write_manifest(run_dir, {
        "run_id": name, "status": status, "parameters": parameters,
        "inputs": {str(p): archive.sha256_file(p) for p in [*allocations, *invoices]},
        "run_by": "test@host", "started": started, "finished": started,
        "error": "bad input" if status == "failed" else None,
        "outputs": archive.output_hashes(run_dir),
    })
    register.append(archive_root, register.START, run_dir)  # on the record, as a real run is
    register.append(archive_root, register.END, run_dir)
    return run_dir


def with_one_more_invoice(tmp_path: Path, number: str = "MB02034270") -> list[Path]:
    """The sample's invoices and one more file issuing ``number`` on 2014-12-20."""
    extra = tmp_path / "invoices_extra.csv"
    header = SAMPLE_INVOICES[0].read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith("invoice_number,invoice_date,seller_ban,status"), header
    cols = header.split(",")
    values = {"invoice_number": number, "invoice_date": "2014-12-20", "seller_ban": "53567686",
              "status": "issued"}
    extra.write_text(header + "\n" + ",".join(values.get(c, "") for c in cols) + "\n",
                     encoding="utf-8")
    return [*SAMPLE_INVOICES, extra]


def copy_tree(src: Path, dst: Path) -> None:
    shutil.copytree(src, dst)


def new_run_dir(archive_root: Path, period: str, started: dt.datetime, name: str | None = None,
                manifest: dict[str, Any] | None = None) -> Path:
    """archive_root/{period}/{run-id}/ on the record with `manifest` (status `running` by
    default), staged and opened as `blanktrack run` does."""
    staged = archive.stage_run(archive_root, period, started, name)
    base = {"status": "running", "pid": os.getpid(), "host": socket.gethostname(),
            "started": started.isoformat(), "finished": None, "run_by": archive.who(),
            "parameters": {"period": period}, "outputs": {}}
    return archive.open_run(staged, manifest if manifest is not None else base)
