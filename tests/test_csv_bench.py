"""bench/csv_bench.py as bench/run.py calls it: a subprocess whose stdout ends with one JSON
line per shape, with the fields its docstring names."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_csv_bench_prints_one_json_line_per_shape(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "csv_bench.py"), "--invoices", "2000",
         "--repeat", "1", "--shapes", "erp,platform", "--data-dir", str(tmp_path / "data"),
         "--out-dir", str(tmp_path / "out")],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    results = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["shape"] for r in results] == ["erp-csv", "platform-download"]
    for r in results:
        assert set(r) == {"shape", "rows", "blanktrack_s", "reader_s", "polars_read_s", "ratio",
                          "peak_rss", "target", "pass", "rss_target", "rss_pass", "repeat",
                          "load"}
        assert (r["rows"], r["target"], r["rss_target"], r["repeat"]) == (2000, "≤2×", "<1 GB", 1)
        # each of the three rounded to 3 decimals apart: ratio × floor is the time within that
        assert abs(r["ratio"] * r["polars_read_s"] - r["blanktrack_s"]) <= (
            0.0006 * (r["ratio"] + 1) + 0.0005 * r["polars_read_s"])
        if r["ratio"] != 2:  # at 2.00 the ratio before rounding decided, either way
            assert r["pass"] == (r["ratio"] <= 2)
        assert r["rss_pass"] == (r["peak_rss"] < 10**9)
        assert r["peak_rss"] > 0
    assert "| erp | blanktrack reconcile |" in proc.stderr
    assert (tmp_path / "data" / "csv-v2-2000" / "done").is_file()
    for shape in ("erp", "platform"):  # reconcile wrote where it was told
        assert (tmp_path / "out" / f"out-{shape}" / "11312" / "53567686" / "summary.csv").is_file()


def test_csv_bench_refuses_an_unknown_shape() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "csv_bench.py"), "--shapes", "xml"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )
    assert proc.returncode == 2 and "--shapes" in proc.stderr
