"""The `blanktrack` command keeps numpy's OpenBLAS to one thread (it calls no BLAS routine, and
OpenBLAS's own threads would spin on the cores the scan uses), unless the user says otherwise."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from blanktrack import cli


class _Exited(Exception):
    pass


def _run_entry(monkeypatch: pytest.MonkeyPatch) -> str | None:
    seen: list[str | None] = []

    def main() -> int:
        seen.append(os.environ.get("OPENBLAS_NUM_THREADS"))
        return 0

    def exit_(code: int) -> None:
        raise _Exited(code)

    monkeypatch.setattr(cli, "main", main)
    monkeypatch.setattr(os, "_exit", exit_)
    with pytest.raises(_Exited):
        cli.entry()
    return seen[0]


def test_the_command_asks_openblas_for_one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    assert _run_entry(monkeypatch) == "1"


def test_a_users_own_setting_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "4")
    assert _run_entry(monkeypatch) == "4"


def test_numpy_is_not_imported_before_the_setting() -> None:
    # The setting only counts if numpy (which loads OpenBLAS) comes later.
    code = "import sys, blanktrack.cli; print('numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
