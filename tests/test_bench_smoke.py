"""Smoke test of the benchmark runner's quick mode: a 100k-invoice period of 20 BANs in four
shapes, every contender on each, the matrix and the targets printed, no README update."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SECONDS = r"\d+\.\d\d s"


@pytest.mark.skipif(importlib.util.find_spec("duckdb") is None, reason="duckdb not installed")
def test_bench_quick_mode_runs_every_contender_and_agrees_with_duckdb() -> None:
    readme = (ROOT / "bench" / "README.md").read_bytes()
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--quick"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines.count("| invoices | shape | blanktrack | peak RSS | booklet query | booklet RSS | "
                       "booklet ÷ blanktrack | naive query | csv-read | blanktrack ÷ csv-read | "
                       "blank total |") == 1
    for shape, fmt in (("base", "parquet"), ("date+random", "parquet"), ("csv", "csv"),
                       ("csv-date-order", "csv")):
        [row] = [x for x in lines if x.startswith(f"| 100k | {shape} |")]
        csv_read = rf"{SECONDS} \| \d+\.\d\d×" if fmt == "csv" else "– \\| –"
        assert re.fullmatch(
            rf"\| 100k \| {re.escape(shape)} \| {SECONDS} \| \d\.\d\d GB \| {SECONDS} \| "
            rf"\d\.\d\d GB \| \d+\.\d\d× \| {SECONDS} \| {csv_read} \| \d+ \|", row), row
        [total] = [x for x in lines if x.startswith(f"| 100k {shape}: blank totals equal |")]
        assert re.fullmatch(r"\| .* \| (\d+) = \1 = \1 \| PASS \|", total), total
    # at the quick size every target is checked, to exercise them (their verdicts mean little)
    assert any(x.startswith("| 100k base: ≥ 1.5× faster than the booklet query |") for x in lines)
    assert any(x.startswith("| 100k csv: ≥ 1× faster than the booklet query |") for x in lines)
    assert any(x.startswith("| 100k csv-date-order: peak RSS ≤ 1.25× csv's (memory flat) |")
               for x in lines)
    assert re.fullmatch(r"\d+ of 13 targets met \(\d+ s\)", lines[-1]), lines[-1]
    assert (ROOT / "bench" / "README.md").read_bytes() == readme
