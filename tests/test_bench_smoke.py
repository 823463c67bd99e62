"""Smoke test of the benchmark runner's quick mode (a 100k-invoice period, no README update)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(importlib.util.find_spec("duckdb") is None, reason="duckdb not installed")
def test_bench_quick_mode_runs_and_agrees_with_duckdb() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--quick"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "| 100k: blanktrack runs | ok | PASS |" in proc.stdout
    assert "| 100k: blank total = DuckDB's |" in proc.stdout
    line = next(x for x in proc.stdout.splitlines() if "blank total = DuckDB's" in x)
    assert line.endswith("| PASS |"), line
