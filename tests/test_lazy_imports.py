"""A reconciliation of canonical tables (Parquet or CSV) loads no XML reader (lxml), no process
pool (multiprocessing), and with Parquet alone no ERP or platform reader either (a CSV file's
header is told from theirs with them): they cost start-up time on the main thread before the scan
starts. An XML input still loads them, where it is read."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

SAMPLE = Path(__file__).resolve().parents[1] / "blanktrack" / "sample" / "10312"
XML = ("lxml", "multiprocessing", "blanktrack.sources.mig_xml", "blanktrack.sources.xml_batch")
LAZY = (*XML, "blanktrack.sources.erp", "blanktrack.sources.platform_download")


def _loaded_after_reconcile(tmp_path: Path, allocations: Path, invoices: list[Path]) -> list[str]:
    """The LAZY modules a whole CLI reconcile run (exports included) has loaded, in a fresh
    interpreter; fails unless the run succeeds."""
    args = ["reconcile", "--period", "10312", "--allocations", str(allocations),
            "--invoices", *map(str, invoices), "--out-dir", str(tmp_path / "out"),
            "--report-date", "2015-01-08"]
    code = (
        "import sys\n"
        "from blanktrack.cli import main\n"
        f"assert main({args!r}) == 0\n"
        f"print('loaded:', *(m for m in {LAZY!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=tmp_path)
    assert (tmp_path / "out").is_dir()
    last = out.stdout.splitlines()[-1].split()
    assert last[0] == "loaded:"
    return last[1:]


def _pos_invoices() -> list[Path]:
    return sorted(SAMPLE.glob("invoices_pos-*.csv"))


@pytest.mark.parametrize("as_parquet", [True, False], ids=["parquet", "csv"])
def test_canonical_tables_load_no_xml_reader_or_process_pool(tmp_path: Path, as_parquet: bool) -> None:
    allocations, invoices = SAMPLE / "allocations.csv", _pos_invoices()
    if as_parquet:
        converted = []
        for csv in [allocations, *invoices]:
            target = tmp_path / f"{csv.stem}.parquet"
            pl.read_csv(csv, infer_schema=False).write_parquet(target)
            converted.append(target)
        allocations, *invoices = converted
    loaded = _loaded_after_reconcile(tmp_path, allocations, invoices)
    assert loaded == ([] if as_parquet else ["blanktrack.sources.erp",
                                             "blanktrack.sources.platform_download"])


def test_a_turnkey_folder_still_loads_the_xml_reader(tmp_path: Path) -> None:
    """The other side: the check above sees lxml when a run reads XML."""
    loaded = _loaded_after_reconcile(tmp_path, SAMPLE / "allocations.csv",
                                     [*_pos_invoices()[:2], SAMPLE / "turnkey_pos-3"])
    assert "lxml" in loaded
    assert "blanktrack.sources.mig_xml" in loaded
    assert "blanktrack.sources.xml_batch" in loaded
