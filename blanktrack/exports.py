"""Write a reconciliation's files: MOF upload CSVs, E0402 documents, findings and summary.

Everything is first written to a hidden staging folder beside the output folder, then moved
into place: a new output folder appears complete in one rename, so a crash leaves no folder or a
complete one — never half a file, and never a stale file from an earlier run (a track that has
no blanks any more loses its XML). Staging folders of a crashed process are removed by the next
export to the same folder; until then they are hidden, and archive hashes ignore them.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import polars as pl

from .archive import running_here
from .atomic import sync_tree, write_file
from .e0402 import write_e0402
from .errors import InputError, Problem
from .mof_csv import MofCsvLintError, write_mof_csvs
from .reconcile import Reconciliation

# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def defuse_formulas(df: pl.DataFrame) -> pl.DataFrame:
    """Prefix text cells a spreadsheet would run as a formula with an apostrophe."""
    text = [c for c, t in df.schema.items() if t == pl.String]
    return df.with_columns(
        pl.when(pl.any_horizontal(*[pl.col(c).str.starts_with(s) for s in _FORMULA_START]))
        .then(pl.lit("'") + pl.col(c))
        .otherwise(pl.col(c))
        .alias(c)
        for c in text
    )


def table_csv(df: pl.DataFrame) -> bytes:
    """A table for people: UTF-8 with BOM (Excel on a zh-TW Windows reads cp950 otherwise),
    bilingual header (`字軌 track`), fractions as percentages (`71.2%`), LF, formula-safe."""
    from .labels import bilingual, percent_text

    people = bilingual(percent_text(defuse_formulas(df)))
    return b"\xef\xbb\xbf" + people.write_csv(line_terminator="\n").encode("utf-8")


# Test hook, nothing else: seconds to sleep once every file is staged and before anything is
# moved into place, so that a test can SIGKILL a run at that moment (tests/test_crash.py).
PAUSE_ENV = "BLANKTRACK_TEST_PAUSE_EXPORT"

_STAGING = re.compile(r"^\.(?P<name>.+)\.(?:staging|old)-(?P<pid>\d+)-[0-9a-f]+$")


def write_exports(result: Reconciliation, out_dir: Path) -> list[Path]:
    """Write D/mof/{BAN}_{period}.csv, D/e0402/*.xml, D/findings.csv, D/summary.csv.

    Everything is rendered, linted and written into a hidden staging folder beside D first. A
    new (or empty) D is then put in place with one rename: a crash leaves either no D or a
    complete one. An existing D has its four entries replaced one by one (the rest of D is left
    alone). A writer that refuses its own output (lint) raises InputError and writes nothing.
    """
    with Exports(out_dir) as exports:
        return exports.finish(result)


class Exports:
    """write_exports in two steps, so that the upload files can be written while the rest of the
    period is still being reconciled (reconcile's `on_blank_ranges`)::

        with Exports(out_dir) as exports:
            result = reconcile(..., on_blank_ranges=exports.start)
            written = exports.finish(result)

    `start` renders and writes the MOF CSVs and E0402 documents into the staging folder in the
    background (two threads: files mostly wait on the file system); `finish` waits for them,
    adds findings and summary and puts everything in place. Leaving the block without `finish`
    (an error) waits for the background writes and removes the staging folder: nothing is left.
    """

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = Path(out_dir)
        self._target = self.out_dir.resolve()  # '.', '..' and links have no usable name otherwise
        if self._target.exists() and not self._target.is_dir():
            raise InputError(Problem(str(out_dir), None, None, "the output folder is a file",
                                     "give the path of a folder (it is created when missing)"))
        try:
            self._target.parent.mkdir(parents=True, exist_ok=True)
            _clean_leftovers(self._target.parent, self._target.name)
            self._staging = _new_hidden_dir(self._target.parent, self._target.name, "staging")
        except OSError as exc:
            raise InputError(Problem(str(out_dir), None, None,
                                     f"cannot write the output folder: {exc.strerror or exc}",
                                     "give a folder you may write to")) from exc
        self._pool: ThreadPoolExecutor | None = None
        self._writes: list[Future[list[Path]]] = []
        self._ranges: pl.DataFrame | None = None

    def __enter__(self) -> Exports:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self, blank_ranges: pl.DataFrame) -> None:
        """Begin writing the upload files of these blank ranges (a Reconciliation's
        blank_ranges: the writers leave out the rows another system reports)."""
        if self._pool is not None:
            raise RuntimeError("the upload files are being written already")
        self._ranges = blank_ranges
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="blanktrack-export")
        self._writes = [
            self._pool.submit(write_mof_csvs, blank_ranges, self._staging / "mof", atomic=False),
            self._pool.submit(write_e0402, blank_ranges, self._staging / "e0402", atomic=False),
        ]

    def finish(self, result: Reconciliation) -> list[Path]:
        """Every file of `result` in place; the paths written, sorted."""
        if self._pool is None:
            self.start(result.blank_ranges)
        elif self._ranges is not result.blank_ranges:
            raise RuntimeError("start() was given other blank ranges than the reconciliation's")
        staging = self._staging
        try:
            for write in self._writes:
                write.result()
        except (MofCsvLintError, ValueError) as exc:
            raise InputError(Problem(
                str(self.out_dir), None, None,
                f"nothing was written: an export would be wrong — {exc}",
                "the input holds a contradiction the loaders let through; correct the rows "
                "named in findings of severity error (e.g. allocation-overlap) and run again",
            )) from exc
        (staging / "mof").mkdir(exist_ok=True)
        (staging / "e0402").mkdir(exist_ok=True)
        write_file(staging / "findings.csv", table_csv(result.findings), atomic=False)
        write_file(staging / "summary.csv", table_csv(result.summary), atomic=False)
        sync_tree(staging)  # every file on disk before anything is moved into place
        _test_pause()
        if not _put_in_place(staging, self._target):
            for name in ("mof", "e0402", "findings.csv", "summary.csv"):
                _replace(staging / name, self._target / name)
        out_dir = self.out_dir
        return sorted(p for p in out_dir.rglob("*") if p.is_file() and not _hidden(p, out_dir))

    def close(self) -> None:
        """Wait for the background writes, then remove what is left of the staging folder."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        shutil.rmtree(self._staging, ignore_errors=True)


def _test_pause() -> None:
    seconds = os.environ.get(PAUSE_ENV)
    if seconds:
        time.sleep(float(seconds))


def _new_hidden_dir(parent: Path, name: str, kind: str) -> Path:
    """parent/.{name}.{kind}-{pid}-{random}, created with the usual permissions."""
    for _ in range(10):
        path = parent / f".{name}.{kind}-{os.getpid()}-{secrets.token_hex(4)}"
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
    raise RuntimeError(f"cannot create a staging folder in {parent}")


def _put_in_place(staging: Path, out_dir: Path) -> bool:
    """Rename the staging folder to out_dir when out_dir is new or empty; False otherwise."""
    if out_dir.exists() or out_dir.is_symlink():
        if (out_dir.is_symlink() or any(out_dir.iterdir())
                or out_dir == Path.cwd().resolve()):  # never swap the folder we stand in
            return False
        try:
            os.replace(staging, out_dir)  # POSIX: a directory may replace an empty one
            return True
        except OSError:
            return False
    os.rename(staging, out_dir)
    return True


def _clean_leftovers(parent: Path, name: str) -> None:
    """Remove staging folders of `name` left by a process that no longer runs (a crash)."""
    for folder in (parent, parent / name):
        if not folder.is_dir():
            continue
        for entry in folder.iterdir():
            m = _STAGING.match(entry.name)
            if not m or (folder == parent and m["name"] != name):
                continue
            if not running_here(int(m["pid"])):
                shutil.rmtree(entry, ignore_errors=True)


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def _replace(new: Path, target: Path) -> None:
    if new.is_dir() and target.exists():
        old = _new_hidden_dir(target.parent, target.name, "old")
        os.replace(target, old / target.name)
        os.replace(new, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(new, target)
