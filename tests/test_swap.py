"""Crash consistency of the final swap (issue #13 item 4): a reconcile killed with SIGKILL at
every step of putting its sets in place leaves each set folder the complete previous set or the
complete new one — never a mix. With renameat2(RENAME_EXCHANGE) that holds at every moment; on
the rename-twice path a set may be missing until the next export to the out-dir (or
out_sets.recover) puts the previous one back.

The kill is exact, not timed: the test hook BLANKTRACK_TEST_KILL_AT (out_sets.KILL_ENV) makes
the process SIGKILL itself at the named step, the n-th time it reaches it."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from corpus.checks import LEDGER, ROOT, check_ledgers, set_dirs

from blanktrack import out_sets
from blanktrack.cli import main

SAMPLE = ROOT / "blanktrack" / "sample" / "10312"
DOWNLOAD = SAMPLE / "invnoapply_10312.csv"  # two reporting BANs: two sets, 04595257 first
BANS = ("04595257", "53567686")
INVOICES = [str(p) for p in sorted(SAMPLE.glob("invoices_*.csv"))]
# Different upload files, and findings (a late report) in every set.
OLD_RUN, NEW_RUN = ("--split", "none"), ("--split", "booklet", "--report-date", "2015-01-20")

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="POSIX signals")


def args(out: Path, run: tuple[str, ...]) -> list[str]:
    return ["reconcile", "--period", "10312", "--allocations", str(DOWNLOAD), "--invoices",
            *INVOICES, "--out-dir", str(out), "--report-date", "2015-01-08", *run]


def run_killed(out: Path, step: str, exchange: bool) -> None:
    code = ("import sys; import blanktrack.out_sets as s; "
            f"s.EXCHANGE = {exchange}; from blanktrack.cli import main; "
            "sys.exit(main(sys.argv[1:]))")
    done = subprocess.run([sys.executable, "-c", code, *args(out, NEW_RUN)], cwd=ROOT,
                          env={**os.environ, out_sets.KILL_ENV: step}, capture_output=True,
                          text=True, timeout=180, check=False)
    assert done.returncode == -signal.SIGKILL, (done.stdout, done.stderr)


def sets(out: Path) -> dict[str, dict[str, bytes]]:
    """Each set folder of period 10312: every file in it, the ledger too."""
    return {ban: {p.relative_to(out / "10312" / ban).as_posix(): p.read_bytes()
                  for p in (out / "10312" / ban).rglob("*") if p.is_file()}
            for ban in BANS if (out / "10312" / ban).exists()}


def hidden(out: Path) -> list[str]:
    return sorted(p.relative_to(out).as_posix() for p in out.rglob(".*") if p.name != LEDGER)


@pytest.fixture(scope="module")
def old_and_new(tmp_path_factory: pytest.TempPathFactory
                ) -> tuple[dict[str, dict[str, bytes]], dict[str, dict[str, bytes]]]:
    base = tmp_path_factory.mktemp("sets")
    assert main(args(base / "old", OLD_RUN)) == 0
    assert main(args(base / "new", NEW_RUN)) == 0
    old, new = sets(base / "old"), sets(base / "new")
    assert sorted(old) == sorted(new) == list(BANS)
    assert all(old[b] != new[b] for b in BANS)
    return old, new


STEPS = {
    True: ["before-exchange#1", "exchanged#1", "before-exchange#2", "exchanged#2"],
    False: ["before-move-old#1", "moved-old#1", "moved-new#1",
            "before-move-old#2", "moved-old#2", "moved-new#2"],
}


@pytest.mark.parametrize(("exchange", "step"),
                         [(e, s) for e in (True, False) for s in STEPS[e]],
                         ids=[f"{'exchange' if e else 'rename-twice'}-{s}"
                              for e in (True, False) for s in STEPS[e]])
def test_killed_at_every_step_of_the_swap_each_set_is_old_or_new(
        tmp_path: Path, old_and_new: tuple[dict[str, dict[str, bytes]], ...],
        exchange: bool, step: str) -> None:
    old, new = old_and_new
    out = tmp_path / "out"
    assert main(args(out, OLD_RUN)) == 0
    run_killed(out, step, exchange)
    now = sets(out)
    nth = int(step.rsplit("#", 1)[1]) - 1
    for i, ban in enumerate(BANS):
        if not exchange and step.startswith("moved-old") and i == nth:
            # Between the two renames: the set is aside, complete, under a hidden name.
            assert ban not in now
            (aside,) = (out / "10312").glob(f".{ban}.old-*")
            assert {p.relative_to(aside).as_posix(): p.read_bytes()
                    for p in aside.rglob("*") if p.is_file()} == old[ban]
            continue
        swapped = i < nth or (i == nth and step.startswith(("exchanged", "moved-new")))
        assert now[ban] == (new[ban] if swapped else old[ban]), (ban, step)
    # The next export to the out-dir finishes what the killed run left: every set whole, no
    # hidden leftover.
    out_sets.recover(out)
    now = sets(out)
    assert sorted(now) == list(BANS)
    assert all(now[b] in (old[b], new[b]) for b in BANS)
    assert hidden(out) == []
    check_ledgers(out)
    assert main(args(out, NEW_RUN)) == 0
    assert sets(out) == new and hidden(out) == []


@pytest.mark.parametrize("step", ["before-rename#1", "renamed#1", "renamed#2"])
def test_killed_while_putting_new_sets_in_place_leaves_no_half_set(
        tmp_path: Path, old_and_new: tuple[dict[str, dict[str, bytes]], ...], step: str) -> None:
    _, new = old_and_new
    out = tmp_path / "out"
    run_killed(out, step, exchange=True)
    now = sets(out)
    assert all(now[b] == new[b] for b in now)  # a set is there whole, or not at all
    assert len(now) == {"before-rename#1": 0, "renamed#1": 1, "renamed#2": 2}[step]
    assert [p.name for p in set_dirs(out)] == list(BANS)[: len(now)]
    assert main(args(out, NEW_RUN)) == 0  # the next run removes the dead run's staging
    assert sets(out) == new and hidden(out) == []


def test_a_live_runs_hidden_folders_are_left_alone(tmp_path: Path) -> None:
    """recover() removes only what a process that no longer runs left behind."""
    out = tmp_path / "out"
    staging = out / f"{out_sets.STAGING_PREFIX}{os.getpid()}-0a"
    aside = out / "10312" / f".53567686.old-{os.getpid()}-0b"
    staging.mkdir(parents=True)
    aside.mkdir(parents=True)
    out_sets.recover(out)
    assert staging.is_dir() and aside.is_dir()
    assert not (out / "10312" / "53567686").exists()


STRACE = shutil.which("strace")


@pytest.mark.skipif(STRACE is None, reason="strace is not installed")
@pytest.mark.parametrize(("exchange", "nth"), [(True, 1), (True, 2), (False, 1), (False, 2),
                                               (False, 3), (False, 4)])
def test_killed_by_the_kernel_at_every_rename_each_set_is_old_or_new(
        tmp_path: Path, old_and_new: tuple[dict[str, dict[str, bytes]], ...],
        exchange: bool, nth: int) -> None:
    """The same, without the test hook: strace delivers SIGKILL as the process enters its n-th
    rename system call (rename, renameat or renameat2), whatever Python code made it."""
    old, new = old_and_new
    out = tmp_path / "out"
    assert main(args(out, OLD_RUN)) == 0
    code = ("import sys; import blanktrack.out_sets as s; "
            f"s.EXCHANGE = {exchange}; from blanktrack.cli import main; "
            "sys.exit(main(sys.argv[1:]))")
    calls = "rename,renameat,renameat2"
    assert STRACE is not None
    done = subprocess.run(
        [STRACE, "-f", "-qq", "-o", os.devnull, "-e", f"trace={calls}",
         "-e", f"inject={calls}:signal=SIGKILL:when={nth}",
         sys.executable, "-c", code, *args(out, NEW_RUN)],
        cwd=ROOT, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}, capture_output=True,
        text=True, timeout=180, check=False)
    if "ptrace" in done.stderr or "Operation not permitted" in done.stderr:
        pytest.skip(f"strace cannot trace here: {done.stderr.strip()}")
    assert done.returncode in (-signal.SIGKILL, 128 + signal.SIGKILL), done.stderr
    now = sets(out)
    for ban in BANS:
        if ban in now:
            assert now[ban] in (old[ban], new[ban]), (ban, nth)
        else:  # only between the two renames of the rename-twice path
            assert not exchange and nth % 2 == 0
    out_sets.recover(out)
    now = sets(out)
    assert sorted(now) == list(BANS) and all(now[b] in (old[b], new[b]) for b in BANS)
    assert hidden(out) == []
