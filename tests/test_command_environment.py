"""The `blanktrack` command's settings of the libraries it loads, made before they load, unless
the user set them: numpy's OpenBLAS to one thread (blanktrack calls no BLAS routine, and
OpenBLAS's own threads would spin on the cores the scan uses), and polars' allocator keeping
freed pages 5 s, not half a second (the scan's batches would be faulted in again)."""

from __future__ import annotations

import argparse
import gc
import os
import subprocess
import sys

import pytest

from blanktrack import cli


class _Exited(Exception):
    pass


def _run_entry(monkeypatch: pytest.MonkeyPatch, name: str) -> str | None:
    seen: list[str | None] = []

    def main() -> int:
        seen.append(os.environ.get(name))
        return 0

    def exit_(code: int) -> None:
        raise _Exited(code)

    monkeypatch.setattr(cli, "main", main)
    monkeypatch.setattr(os, "_exit", exit_)
    with pytest.raises(_Exited):
        cli.entry()
    return seen[0]


@pytest.mark.parametrize(("name", "value"), [("OPENBLAS_NUM_THREADS", "1"),
                                             ("_RJEM_MALLOC_CONF", "dirty_decay_ms:5000")])
def test_the_command_sets_what_the_user_did_not(monkeypatch: pytest.MonkeyPatch, name: str,
                                                value: str) -> None:
    monkeypatch.delenv(name, raising=False)
    assert _run_entry(monkeypatch, name) == value


@pytest.mark.parametrize(("name", "value"), [("OPENBLAS_NUM_THREADS", "4"),
                                             ("_RJEM_MALLOC_CONF", "dirty_decay_ms:0")])
def test_a_users_own_setting_wins(monkeypatch: pytest.MonkeyPatch, name: str,
                                  value: str) -> None:
    monkeypatch.setenv(name, value)
    assert _run_entry(monkeypatch, name) == value


def test_numpy_and_polars_are_not_imported_before_the_settings() -> None:
    # A setting only counts if numpy (which loads OpenBLAS) and polars come later.
    code = "import sys, blanktrack.cli; print('numpy' in sys.modules, 'polars' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_polars_allocator_takes_the_setting() -> None:
    """polars appends _RJEM_MALLOC_CONF to its own allocator setting (dirty_decay_ms:500), so
    the later one, ours, is what jemalloc uses: read from jemalloc's own statistics."""
    env = {**os.environ, "_RJEM_MALLOC_CONF": f"{cli.ALLOCATOR_SETTING},stats_print:true"}
    code = "import polars as pl; pl.DataFrame({'a': [1]})"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=env)
    assert "opt.dirty_decay_ms: 5000 " in out.stderr


def test_reconcile_leaves_the_cyclic_collector_off_until_it_is_done(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # its work during a run was walking the imported modules' objects (bench/README.md)
    seen: list[bool] = []
    monkeypatch.setattr(cli, "_reconcile", lambda args: seen.append(gc.isenabled()) or 7)
    assert gc.isenabled()
    assert cli.cmd_reconcile(argparse.Namespace(invoices=[])) == 7
    assert seen == [False] and gc.isenabled()
    gc.disable()  # a caller that had it off finds it off
    try:
        cli.cmd_reconcile(argparse.Namespace(invoices=[]))
        assert not gc.isenabled()
    finally:
        gc.enable()
