"""Where `make bench` has its runs write their outputs (bench/run.py output_root): BENCH_OUT when
given, else a RAM file system, else the system's temporary folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from bench_script import load_bench_run

bench = load_bench_run("bench_run_for_outputs")


def test_bench_out_is_taken_as_given(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BENCH_OUT", str(tmp_path))
    assert bench.output_root() == str(tmp_path)


def test_default_is_dev_shm_where_writable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BENCH_OUT", raising=False)
    shm = Path("/dev/shm")
    expected = "/dev/shm" if shm.is_dir() and os.access(shm, os.W_OK) else None
    assert bench.output_root() == expected


def test_without_dev_shm_the_temporary_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BENCH_OUT", raising=False)
    monkeypatch.setattr(bench.os, "access", lambda *_: False)
    assert bench.output_root() is None
