"""Write a reconciliation's files into set folders: D/{period}/{reporting BAN}/ holds the
MOF upload CSV `{BAN}_{period}.csv`, `e0402/*.xml`, `findings.csv`, `summary.csv` of that
reporting BAN (and its branches), its workbook `{BAN}_{period}.xlsx` (see `workbooks`) and a
hidden ledger (out_sets.LEDGER).

Every set is first written into a hidden staging folder inside D, synced, then swapped with the
set of an earlier run (out_sets.swap_in): never half a file, never a mix of two runs, never a
stale file of an earlier run (a track that has no blanks any more loses its XML). Nothing else
in D is touched: other periods, other BANs, a user's files. Findings with no BAN, or whose BAN
owns no allocation of the run, go into every set of the run, so that none is lost.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

import numpy as np
import polars as pl

from . import out_sets
from .atomic import sync_folder, sync_tree, write_new_file
from .e0402 import write_e0402
from .errors import InputError, Problem
from .mof_csv import MofCsvLintError, write_mof_csvs
from .out_sets import LEDGER, OutputError, refuse_inputs_in_sets
from .reconcile import Reconciliation
from .set_workbooks import Workbooks, writes_workbooks
from .workbook import inputs_table, write_tables

__all__ = ["LEDGER", "Exports", "OutputError", "defuse_formulas", "table_csv", "write_exports"]

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


def write_exports(result: Reconciliation, out_dir: str | Path, *, upload_suffix: str = "",
                  workbooks: Workbooks = "auto") -> list[Path]:
    """Write the sets D/{period}/{reporting BAN}/ of the result; the files written, sorted.

    A writer that refuses its own output (lint) or an input inside a set folder raises
    InputError; a set folder holding a file blanktrack did not write, or a failed write (a full
    disk), raises OutputError (an InputError too): in each case nothing in D is changed.
    `upload_suffix` goes into the upload files' names (`53567686_10312_track-KT.csv`: a file of
    part of the period must not be taken for the whole). `workbooks`: see Exports.finish.
    """
    with Exports(out_dir, upload_suffix=upload_suffix) as exports:
        return exports.finish(result, workbooks=workbooks)


class Exports:
    """write_exports in two steps, so that the upload files can be written while the rest of the
    period is still being reconciled (reconcile's `on_blank_ranges`)::

        with Exports(out_dir, inputs=paths) as exports:
            result = reconcile(..., on_blank_ranges=exports.start)
            written = exports.finish(result)

    `start` renders and writes the MOF CSVs and E0402 documents into the staging folder in the
    background (two threads: files mostly wait on the file system); `finish` waits for them,
    adds findings, summary and ledgers and swaps each set into place. Leaving the block without
    `finish` (an error) waits for the background writes and removes the staging folder (and D,
    when this run created it): nothing is left. `inputs` are refused at once when they lie in
    a set folder of D (finish checks the result's inputs again).
    """

    def __init__(self, out_dir: str | Path, *, inputs: Iterable[str | Path] = (),
                 upload_suffix: str = "") -> None:
        self._upload_suffix = upload_suffix
        if isinstance(out_dir, str) and not out_dir.strip():
            raise InputError(Problem(repr(out_dir), None, None,
                                     "the output folder is an empty name",
                                     "give the path of a folder (it is created when missing)"))
        self.out_dir = Path(out_dir)
        self._created: list[Path] = []
        self._done = False
        try:
            self._target = self.out_dir.resolve()  # '.', '..' and links have no name otherwise
            is_file = self._target.exists() and not self._target.is_dir()
        except (OSError, RuntimeError, ValueError) as exc:  # a link loop, a name too long
            raise InputError(Problem(str(out_dir), None, None,
                                     f"the output folder cannot be reached: {exc}",
                                     "give a folder, not a link that points to itself or in "
                                     "a loop")) from exc
        if is_file:
            raise InputError(Problem(str(out_dir), None, None, "the output folder is a file",
                                     "give the path of a folder (it is created when missing)"))
        refuse_inputs_in_sets(self._target, inputs)
        try:
            self._make_out_dir()
            out_sets.recover(self._target)
            self._staging = self._new_staging()
        except OSError as exc:
            self._remove_created()
            raise OutputError(Problem(str(out_dir), None, None,
                                      f"cannot write the output folder: {exc.strerror or exc}",
                                      "give a folder you may write to")) from exc
        self._pool: ThreadPoolExecutor | None = None
        self._writes: list[Future[list[tuple[str, str, str, str]]]] = []
        # {reporting BAN: {file the upload writers put in its staged set, relative: SHA-256}}
        self._staged: dict[str, dict[str, str]] = {}
        self._ranges: pl.DataFrame | None = None
        # sets whose workbook `auto` left out in finish (the run says so, and how to get them)
        self.skipped_workbooks = 0

    def __enter__(self) -> Exports:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _make_out_dir(self) -> None:
        missing = []
        folder = self._target
        while not folder.exists():
            missing.append(folder)
            folder = folder.parent
        for folder in reversed(missing):
            folder.mkdir()
            self._created.append(folder)

    def _new_staging(self) -> Path:
        for _ in range(10):
            path = self._target / f"{out_sets.STAGING_PREFIX}{os.getpid()}-{os.urandom(4).hex()}"
            try:
                path.mkdir()
            except FileExistsError:
                continue
            return path
        raise FileExistsError(f"cannot create a staging folder in {self._target}")

    def start(self, blank_ranges: pl.DataFrame) -> None:
        """Begin writing the upload files of these blank ranges (a Reconciliation's
        blank_ranges: the writers leave out the rows another system reports)."""
        if self._pool is not None:
            raise RuntimeError("the upload files are being written already")
        self._ranges = blank_ranges
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="blanktrack-export")
        # One call of each writer for every set (not one per set): it puts each file in its
        # set's staging folder.
        # Each set's folders joined once (a set holds many files; Path joins are slow).
        set_folder = functools.cache(lambda period, ban: self._staging / period / ban)
        e0402_folder = functools.cache(lambda period, ban: set_folder(period, ban) / "e0402")
        mof = functools.partial(write_mof_csvs, suffix=self._upload_suffix, folder_of=set_folder)
        e0402 = functools.partial(write_e0402, folder_of=e0402_folder)
        self._writes = [self._pool.submit(self._write_staged, writer, blank_ranges)
                        for writer in (mof, e0402)]

    def _write_staged(self, writer: _Writer, ranges: pl.DataFrame
                      ) -> list[tuple[str, str, str, str]]:
        """(period, reporting BAN, path in the set, SHA-256) of each file a writer put in the
        staging folder: the ledger's lines, read back here, in the background."""
        written: list[tuple[str, str, str, str]] = []
        # The writers' paths are staging/period/BAN/...: cut as text (Path.relative_to is slow).
        staging = os.fspath(self._staging) + os.sep

        def record(path: Path, data: bytes) -> None:  # hashed as written, not read back
            text = os.fspath(path)
            if not text.startswith(staging):
                raise ValueError(f"{path} was written outside the staging folder {staging}")
            period, ban, rel = text[len(staging):].split(os.sep, 2)
            written.append((period, ban, rel.replace(os.sep, "/"), out_sets.sha256_bytes(data)))

        writer(ranges, self._staging, atomic=False, on_written=record)
        return written

    def finish(self, result: Reconciliation, *, workbooks: Workbooks = "auto") -> list[Path]:
        """Every set of `result` in place; the files written, sorted. `workbooks`: `always`
        writes each set's workbook, `never` none, `auto` (the default) only when the run has at
        most set_workbooks.AUTO_WORKBOOK_SETS sets; `skipped_workbooks` then counts the sets
        it left without one."""
        if self._pool is None:
            self.start(result.blank_ranges)
        elif self._ranges is not result.blank_ranges:
            raise RuntimeError("start() was given other blank ranges than the reconciliation's")
        refuse_inputs_in_sets(self._target, [f.path for f in result.inputs])
        period = result.period.code
        try:
            for write in self._writes:
                for file_period, ban, rel, digest in write.result():
                    if file_period == period:  # the sets swapped in are the period's
                        self._staged.setdefault(ban, {})[rel] = digest
        except (MofCsvLintError, ValueError) as exc:
            raise InputError(Problem(
                str(self.out_dir), None, None,
                f"nothing was written: an export would be wrong — {exc}",
                "the input holds a contradiction the loaders let through; correct the rows "
                "named in findings of severity error (e.g. allocation-overlap) and run again",
            )) from exc
        except OSError as exc:
            raise self._write_error(exc) from exc
        sets = _reporting_bans(result)
        if not sets:
            raise InputError(Problem(str(self.out_dir), None, None,
                                     "nothing was written: the reconciliation has no reporting "
                                     "BAN", "give allocations of the period"))
        with_workbooks = writes_workbooks(workbooks, len(sets))
        # The period's folders joined once: hundreds of sets make thousands of joins otherwise.
        target, shown_in, staged = (self._target / period, self.out_dir / period,
                                    self._staging / period)
        problems = [p for ban in sets for p in out_sets.check_replaceable(
            target / ban, shown_in / ban, period, ban)]
        if problems:
            raise OutputError(problems[:out_sets.MAX_PROBLEMS],
                              more=max(0, len(problems) - out_sets.MAX_PROBLEMS))
        findings, summary = _findings_by_set(result, sets), _summary_by_set(result, sets)
        written: list[Path] = []
        try:
            books = (self._write_workbooks(result, sets, findings, summary) if with_workbooks
                     else {})
            people = zip(sets, _people_csvs(findings, sets), _people_csvs(summary, sets),
                         strict=True)
            for ban, findings_csv, summary_csv in people:
                files = {**self._staged.get(ban, {}), **books.get(ban, {}),
                         "findings.csv": out_sets.sha256_bytes(findings_csv),
                         "summary.csv": out_sets.sha256_bytes(summary_csv)}
                _write_new_files(staged / ban, {
                    "findings.csv": findings_csv, "summary.csv": summary_csv,
                    LEDGER: out_sets.ledger_bytes(period, ban, files)})
                shown = shown_in / ban
                written.extend(shown / rel for rel in files)
            sync_tree(self._staging)  # every file on disk before anything is swapped in
            _test_pause()
            target.mkdir(exist_ok=True)
        except OSError as exc:
            raise self._write_error(exc) from exc
        self.skipped_workbooks = 0 if with_workbooks or workbooks == "never" else len(sets)
        aside: list[Path] = []
        try:
            for ban in sets:
                old = out_sets.swap_in(staged / ban, target / ban)
                aside.extend([old] if old else [])
            sync_folder(target)  # the renames on disk, once for all sets
            for old in aside:
                shutil.rmtree(old)
        except OSError as exc:
            for old in aside:  # sets already swapped: their old copies are not needed
                shutil.rmtree(old, ignore_errors=True)
            raise self._write_error(exc, swapped=True) from exc
        self._done = True
        return sorted(written)

    def _write_workbooks(self, result: Reconciliation, sets: list[str], findings: pl.DataFrame,
                         summary: pl.DataFrame) -> dict[str, dict[str, str]]:
        """Each set's workbook into its staging folder: {BAN: {file name: SHA-256}}."""
        period = result.period.code
        inputs = inputs_table(result)
        parts = {"findings": findings.partition_by(_SET, as_dict=True, include_key=False),
                 "summary": summary.partition_by(_SET, as_dict=True, include_key=False),
                 "ranges": result.blank_ranges.partition_by("head_ban", as_dict=True)}
        empty = {"findings": findings.drop(_SET).head(0), "summary": summary.drop(_SET).head(0),
                 "ranges": result.blank_ranges.head(0)}
        books: dict[str, dict[str, str]] = {}
        for ban in sets:
            table = {k: parts[k].get((ban,), empty[k]) for k in parts}
            name = f"{ban}_{period}{self._upload_suffix}.xlsx"
            (self._staging / period / ban).mkdir(parents=True, exist_ok=True)
            path = write_tables(self._staging / period / ban / name, result.period,
                                result.report_date, table["summary"].drop(_ROW), table["ranges"],
                                table["findings"].drop(_ROW), inputs)
            books[ban] = {name: out_sets.sha256_bytes(path.read_bytes())}
        return books

    def _write_error(self, exc: OSError, swapped: bool = False) -> OutputError:
        kept = ("the set folders already swapped hold the new files, the others their earlier "
                "ones" if swapped else "nothing in the output folder was changed")
        return OutputError(Problem(str(self.out_dir), None, None,
                                   f"cannot write the output: {exc.strerror or exc}; {kept}",
                                   "free space or fix the folder's permissions and run again"))

    def close(self) -> None:
        """Wait for the background writes, then remove the staging folder (and the output
        folder, when this run created it and nothing was put in place)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        shutil.rmtree(self._staging, ignore_errors=True)
        if not self._done:
            self._remove_created()

    def _remove_created(self) -> None:
        for folder in reversed(self._created):
            with contextlib.suppress(OSError):
                folder.rmdir()  # only when empty: never what another process put there
        self._created = []


class _Writer(Protocol):  # write_mof_csvs, write_e0402 (their set folders given)
    def __call__(self, ranges: pl.DataFrame, out_dir: Path, *, atomic: bool,
                 on_written: Callable[[Path, bytes], None]) -> list[Path]: ...


def _reporting_bans(result: Reconciliation) -> list[str]:
    """The reporting BANs of the run's allocations: one set each."""
    return sorted(result.allocations.get_column("head_ban").unique().drop_nulls().to_list())


# Columns added to findings and summary while they are cut into sets: the set's reporting BAN
# and the row's place in the reconciliation's table (each set keeps that order).
_SET, _ROW = "_set", "_row"


def _findings_by_set(result: Reconciliation, sets: list[str]) -> pl.DataFrame:
    """The findings with the set each goes to (_SET), sorted by set, then as in the result. A
    finding belongs to the set of its BAN's reporting BAN; one with no BAN, or a BAN that owns
    no allocation of the run, to every set."""
    findings = result.findings.lazy().with_row_index(_ROW)
    owners = result.allocations.lazy().select("ban", pl.col("head_ban").alias(_SET)).unique()
    owned = findings.join(owners.filter(pl.col(_SET).is_in(_texts(sets))), on="ban")
    all_bans = result.allocations.get_column("ban").unique().implode()
    every_set = (findings.filter(pl.col("ban").is_null() | ~pl.col("ban").is_in(all_bans))
                 .join(pl.LazyFrame({_SET: sets}, schema={_SET: pl.String}), how="cross"))
    columns = [_SET, _ROW, *result.findings.columns]
    return (pl.concat([owned.select(columns), every_set.select(columns)])
            .sort(_SET, _ROW).collect())


def _summary_by_set(result: Reconciliation, sets: list[str]) -> pl.DataFrame:
    """The summary rows of the sets, with their set (_SET), sorted by set, then as in the
    result."""
    return (result.summary.lazy().with_row_index(_ROW)
            .filter(pl.col("head_ban").is_in(_texts(sets)))
            .select(pl.col("head_ban").alias(_SET), pl.all())
            .sort(_SET, _ROW).collect())


def _texts(values: list[str]) -> pl.Series:
    return pl.Series(values, dtype=pl.String).implode()


def _people_csvs(by_set: pl.DataFrame, sets: list[str]) -> list[bytes]:
    """table_csv of each set's rows, in the order of `sets` (sorted, as by_set is): the table is
    rendered once and cut at its line ends, so hundreds of sets cost one write, not hundreds."""
    table = table_csv(by_set.drop(_SET, _ROW))
    ends = np.flatnonzero(np.frombuffer(table, dtype=np.uint8) == ord("\n"))
    if len(ends) != by_set.height + 1:  # a cell holds a line break: render each set alone
        parts = by_set.partition_by(_SET, as_dict=True, include_key=False)
        empty = by_set.drop(_SET).head(0)
        return [table_csv(parts.get((ban,), empty).drop(_ROW)) for ban in sets]
    rows = dict(by_set.group_by(_SET).len().iter_rows())
    header = table[: ends[0] + 1]
    cut: list[bytes] = []
    first = 0  # rows before this set's, after the header
    for ban in sets:
        last = first + rows.get(ban, 0)
        cut.append(header + table[ends[first] + 1: ends[last] + 1])
        first = last
    return cut


def _write_new_files(folder: Path, files: dict[str, bytes]) -> None:
    """Plain writes into a staged set folder (created here when no upload file made it): the
    caller syncs the staging folder before it renames it into place (as atomic.write_file with
    atomic=False, without a folder check per file)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        write_new_file(os.path.join(folder, name), data)


def _test_pause() -> None:
    seconds = os.environ.get(PAUSE_ENV)
    if seconds:
        time.sleep(float(seconds))
