"""`make bench` runs the explore workbook's bench too (issue 16 item 9) and reports it with the
other targets: one check per size, the slowest redraw against 0.3 s, the slow controls named."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from bench_script import load_bench_run

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def bench_run():
    return load_bench_run("bench_run")


def test_the_explore_command_is_the_20m_bench_by_default(bench_run) -> None:
    cmd = bench_run.explore_cmd(20_000_000)
    assert cmd[1:] == [str(ROOT / "bench" / "explore_bench.py"), "--invoices", "20000000",
                       "--data", str(ROOT / "bench" / "data" / "explore-20M"), "--budget", "0.3"]


def test_a_slow_control_fails_the_target_and_is_named(bench_run, monkeypatch) -> None:
    out = (" 1  ban                      44464914             0.067     282      139  1290  map 0.008\n"
           "21  type: all                (all)                0.701    4806     2003  2000  map 0.690  SLOW\n"
           "22  ban: all (whole track)   (all)                0.552    4806     2003  2000  map 0.500  SLOW\n"
           "slowest redraw 0.701 s, budget 0.3 s: FAIL\n")
    monkeypatch.setattr(bench_run, "measure", lambda cmd: bench_run.Run(9.0, 1, out, False))
    assert bench_run.explore([20_000_000]) == [(
        "20M explore: every control redraws ≤ 0.3 s",
        "slowest 0.701 s; over budget: type: all, ban: all (whole track)", "FAIL")]
    monkeypatch.setattr(bench_run, "measure", lambda cmd: bench_run.Run(9.0, 1, "Killed\n", False))
    assert bench_run.explore([1_000_000]) == [
        ("1M explore: every control redraws ≤ 0.3 s", "did not finish", "FAIL")]


def test_bench_runs_the_explore_bench_and_reports_it() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--sizes", "none", "--csv", "none",
         "--notebook", "none", "--explore", "20k", "--xml", "none", "--csv-inputs", "none",
         "--no-readme", "--no-duckdb"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    [row] = [x for x in proc.stdout.splitlines() if x.startswith("| 20k explore:")]
    assert row.startswith("| 20k explore: every control redraws ≤ 0.3 s | slowest 0.")
    assert row.endswith(("| PASS |", "| FAIL |"))
