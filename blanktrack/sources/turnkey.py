"""MIG XML files (a Turnkey data folder, or files named one by one) read into invoice rows.

A folder is walked as it is read (runs of files per folder, never a list of every path) and
its files are parsed in batches (sources/xml_batch.py), on both cores when there are many: a
process pool of workers that import lxml only, a few batches ahead of the one taken. Each batch
comes back as columns and is written to Parquet, with each message's file, path and ERR mark.
Files under an `ERR` folder were refused by the platform: their invoices are `upload-failed`.
The same message found twice (SRC and BAK) counts once: messages are known by a digest of
their bytes. Issue, cancel, void and reject messages of one number fold into the canonical
rows: a cancel (作廢) or void (註銷) replaces one issue. A folder without XML (Parquet or CSV
files) is told by its files' heads, looked at in this process: no batch is read, no worker
started.
"""

from __future__ import annotations

import os
import sys
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import numpy as np
import polars as pl

from ..errors import InputError, Problem
from .xml_head import size_if_not_xml

# The XML reader (lxml) and the process pool are imported where XML is read: a folder of
# Parquet or CSV files is told by its heads alone (tests/test_lazy_imports.py).
if TYPE_CHECKING:
    from .mig_xml import Kind
    from .xml_batch import Packed

BATCH_FILES = 2000  # files per task of the pool (fewer when they are large: envelopes)
BATCH_BYTES = 4 * 2**20
POOL_MIN_BYTES = 16 * 2**20  # less XML is read in this process (starting workers costs more)
PROGRESS_MIN_FILES = 10_000  # above this, progress is shown even when stderr is no terminal
_ERR = "ERR"  # Turnkey's folder of files the platform refused
T = TypeVar("T")

MESSAGE_SCHEMA = {
    "action": pl.String, "invoice_number": pl.String, "invoice_date": pl.String,
    "seller_ban": pl.String, "line": pl.Int64, "digest": pl.Int64, "file": pl.Int64,
    "source": pl.String, "in_err": pl.Boolean,
}

SPILL_ROWS = 50_000  # messages gathered before they are written (memory stays bounded)


@dataclass
class Run:
    """Files that follow each other in one folder: read, batched and marked together."""

    paths: list[str]
    in_err: bool  # under an ERR folder: the platform refused them
    size: int  # of the first file, standing for the others (a folder's files are alike)


def runs(folder: str, top: str | None = None) -> Iterator[Run]:
    """Every regular file under `folder` (hidden ones too: Turnkey's are not), depth first,
    each folder's entries by name: a stable order, streamed (a Turnkey folder may hold a
    million files; only the folder being walked is held), as runs of files."""
    top = folder if top is None else top
    with os.scandir(folder) as scan:
        entries = sorted((entry.name, entry.path, entry.is_dir()) for entry in scan
                         if entry.is_dir() or entry.is_file())
    err = in_err(os.path.join(folder, ""), top)
    files: list[str] = []
    for _, path, is_dir in entries:
        if not is_dir:
            files.append(path)
            continue
        if files:
            yield Run(files, err, _size(files[0]))
            files = []
        yield from runs(path, top)
    if files:
        yield Run(files, err, _size(files[0]))


def walk(folder: str) -> Iterator[str]:
    """Every regular file under `folder`, in the order `runs` gives them."""
    for run in runs(folder):
        yield from run.paths


def count_files(folder: str) -> int:
    """How many regular files `folder` holds (a walk that keeps nothing: for the progress)."""
    total = 0
    with os.scandir(folder) as scan:
        for entry in scan:
            if entry.is_dir():
                total += count_files(entry.path)
            elif entry.is_file():
                total += 1
    return total


def in_err(path: str, folder: str) -> bool:
    """Whether `path` lies under an ERR folder of `folder` (files the platform refused)."""
    parts = path[len(folder):].split(os.sep)[:-1]
    return any(part.upper() == _ERR for part in parts)


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0  # read_batch names the file


Files = tuple[list[str], list[bool]]  # one batch: paths, and whether each is under ERR


def _batches(found: Iterable[Run]) -> Iterator[Files]:
    """Batches of at most BATCH_FILES files and about BATCH_BYTES bytes."""
    paths: list[str] = []
    errs: list[bool] = []
    size = 0
    for run in found:
        each, start = max(run.size, 1), 0
        while start < len(run.paths):
            room = min(BATCH_FILES - len(paths), -(-(BATCH_BYTES - size) // each))
            part = run.paths[start:start + room]
            paths.extend(part)
            errs.extend([run.in_err] * len(part))
            size += each * len(part)
            start += len(part)
            if len(paths) >= BATCH_FILES or size >= BATCH_BYTES:
                yield paths, errs
                paths, errs, size = [], [], 0
    if paths:
        yield paths, errs


class Progress:
    """`read N of M files` on stderr, when it is a terminal or the folder is large (a notebook
    shows stderr too)."""

    def __init__(self, total: int, what: str) -> None:
        self.total, self.what, self.done = total, what, 0
        self.tty = sys.stderr.isatty()
        self.on = total >= PROGRESS_MIN_FILES or (total > BATCH_FILES and self.tty)
        self.shown = 0  # tenths shown (not a terminal: a line per tenth, for logs and notebooks)

    def advance(self, n: int) -> None:
        self.done += n
        if not self.on:
            return
        last = self.done >= self.total
        tenth = self.done * 10 // max(self.total, 1)
        if self.tty or tenth > self.shown or last:
            self.shown = tenth
            end = "\n" if last or not self.tty else "\r"
            print(f"blanktrack: {self.what}: read {self.done:,} of {self.total:,} files",
                  end=end, file=sys.stderr, flush=True)


def _in_workers(batches: Iterator[Files], workers: int, take: Callable[[Files, Packed], bool]
                ) -> list[Files]:
    """Read `batches` in a pool, a few ahead of the one taken (so memory stays flat); the
    batches submitted but not taken when the pool broke (read them here)."""
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool
    from multiprocessing import get_context

    from .xml_batch import read_packed

    pending: deque[tuple[Files, Future[Packed]]] = deque()
    # spawn, not fork: a forked copy of a process running polars' threads may deadlock.
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        try:
            while True:
                for batch in islice(batches, 2 * workers + 1 - len(pending)):
                    pending.append((batch, pool.submit(read_packed, batch[0])))
                if not pending:
                    return []
                batch, future = pending.popleft()
                if not take(batch, future.result()):
                    pool.shutdown(cancel_futures=True)
                    return []
        except BrokenProcessPool:
            return [batch, *(b for b, _ in pending)]


@dataclass
class XmlRead:
    messages: pl.LazyFrame  # MESSAGE_SCHEMA; `file`: the file's place in the order read
    kinds: Counter[Kind]
    not_xml: list[str]
    files: int = 0
    bytes: int = 0
    issues_once: bool = True  # every message an issue, none of them twice


class _Messages:
    """The batches' messages as they come back: written to Parquet files of `spill` every
    SPILL_ROWS messages (so memory does not grow with the files), or kept (no folder)."""

    def __init__(self, spill: Path | None) -> None:
        self.spill = spill
        self.kept: list[pl.DataFrame] = []
        self.written: list[Path] = []
        self.held: list[pl.DataFrame] = []
        self.rows = 0  # held, not yet written
        self.total = 0
        if spill is not None:
            spill.mkdir(parents=True, exist_ok=True)

    def add(self, messages: pl.DataFrame) -> None:
        self.total += messages.height
        if self.spill is None:
            self.kept.append(messages)
            return
        self.held.append(messages)
        self.rows += messages.height
        if self.rows >= SPILL_ROWS:
            self._write()

    def _write(self) -> None:
        if not self.held or self.spill is None:
            return
        path = self.spill / f"batch-{len(self.written):06d}.parquet"
        pl.concat(self.held).write_parquet(path)
        self.written.append(path)
        self.held, self.rows = [], 0

    def distinct_digests(self) -> bool:
        """Whether no two messages share a digest. Asked once the read is over (the workers
        gone): each written file's digests are read in turn into one array, 8 bytes a
        message, sorted in place (no hash set, nothing held during the read)."""
        self._write()
        digests = np.empty(self.total, dtype=np.int64)
        at = 0
        for part in self.written or self.kept:
            column = (pl.read_parquet(part, columns=["digest"]) if isinstance(part, Path)
                      else part.select("digest")).to_series().to_numpy()
            digests[at:at + len(column)] = column
            at += len(column)
        digests.sort()
        return not bool((digests[1:] == digests[:-1]).any())

    def frame(self) -> pl.LazyFrame:
        self._write()
        if self.written:
            return pl.scan_parquet(self.written)
        if self.kept:
            return pl.concat(self.kept).lazy()
        return pl.LazyFrame(schema=MESSAGE_SCHEMA)


def _frame(files: Files, result: Packed, offset: int) -> pl.DataFrame:
    """One batch's messages with their file's path, ERR mark and place in the order read
    (each column made in polars from the packed batch, never value by value in Python)."""
    paths, errs = files
    if not result.rows:
        return pl.DataFrame(schema=MESSAGE_SCHEMA)
    columns = {c: pl.Series(c, [joined]).str.split("\0").explode()
               for c, joined in result.texts.items()}
    columns.update({c: pl.Series(c, np.frombuffer(data, dtype=np.int64))
                    for c, data in result.integers.items()})
    file = columns["file"]
    columns["source"] = pl.Series("source", paths, pl.String).gather(file)
    columns["in_err"] = pl.Series("in_err", errs, pl.Boolean).gather(file)
    columns["file"] = file + offset
    return pl.DataFrame(columns).select(
        [pl.col(c).cast(dtype) for c, dtype in MESSAGE_SCHEMA.items()])


def read_files(paths: Sequence[str], in_err: Sequence[bool], what: str,
               workers: int | None = None, spill: Path | None = None) -> XmlRead:
    """Read every XML file of `paths`; InputError for the first unusable one. With `spill`,
    the messages are written there as they come back."""
    found = [Run([path], err, _size(path)) for path, err in zip(paths, in_err, strict=True)]
    return _read(iter(found), len(paths), what, workers, spill)


def read_folder(folder: str, what: str, workers: int | None = None, spill: Path | None = None
                ) -> XmlRead:
    """Every file of a Turnkey data folder (or any folder), walked as it is read. A folder
    none of whose files starts like XML (a folder of Parquet or CSV files) is told so by the
    files' heads, looked at here: no batches, no workers to start."""
    total = count_files(folder)
    read = _without_xml(folder, total, what)
    return read if read is not None else _read(runs(folder), total, what, workers, spill)


def _without_xml(folder: str, total: int, what: str) -> XmlRead | None:
    """What _read gives for a folder none of whose files starts like XML (each file not XML,
    its size counted), or None at the first file that does or cannot be opened (_read then
    reads the folder and names that file)."""
    read = XmlRead(pl.LazyFrame(schema=MESSAGE_SCHEMA), Counter(), [])
    for run in runs(folder):
        for path in run.paths:
            try:
                size = size_if_not_xml(path)
            except OSError:
                return None
            if size is None:
                return None
            read.not_xml.append(path)
            read.bytes += size
    read.files = len(read.not_xml)
    Progress(total, what).advance(read.files)
    return read


def _read(found: Iterator[Run], total: int, what: str, workers: int | None,
          spill: Path | None) -> XmlRead:
    from .xml_batch import read_packed

    first = next(found, None)
    read = XmlRead(pl.LazyFrame(schema=MESSAGE_SCHEMA), Counter(), [])
    if first is None:
        return read
    batches = _batches(_chain([first], found))
    progress = Progress(total, what)
    workers = workers if workers is not None else min(2, os.cpu_count() or 1)
    messages = _Messages(spill)
    problems: list[Problem] = []
    issues_only = True  # so far

    def take(batch: Files, result: Packed) -> bool:
        """Keep what one batch held; False at the first unusable file."""
        nonlocal issues_only
        if result.problem is not None:
            problems.append(result.problem)
            return False
        read.kinds.update(result.kinds)
        read.not_xml.extend(batch[0][i] for i in result.not_xml)
        messages.add(_frame(batch, result, read.files))
        # "issue" is in no other action's name: the batch is all issues when each is one
        issues_only = issues_only and result.texts["action"].count("issue") == result.rows
        read.files += len(batch[0])
        read.bytes += result.bytes
        progress.advance(len(batch[0]))
        return True

    left: Iterable[Files] = batches
    # by bytes, not files: a folder of envelopes holds few, large ones
    if first.size * total >= POOL_MIN_BYTES and total > 1 and workers >= 2:
        # Workers that cannot start here (e.g. a __main__ they cannot import): this process
        # reads what they did not; slower, the same rows.
        left = _chain(_in_workers(batches, workers, take), batches)
    if not problems:
        for batch in left:
            if not take(batch, read_packed(batch[0])):
                break
    if problems:
        raise InputError(problems[0])
    read.issues_once = issues_only and messages.distinct_digests()
    read.messages = messages.frame()
    return read


def _chain(head: Iterable[T], rest: Iterator[T]) -> Iterator[T]:
    yield from head
    yield from rest


def fold(read: XmlRead) -> tuple[pl.LazyFrame, pl.DataFrame]:
    """(raw invoice rows, rejected messages) from the messages of one input.

    Same message twice → once (failed only when every copy is under ERR). Per seller and number:
    each cancel is a cancelled row, each void a voided row, and they replace the earliest
    issues of their own class (refused under ERR, or not), then the earliest of the other; the
    issues left are issued rows. A reject leaves its invoice used: an issued row
    when no issue message is left in the folder.

    A folder of issues only, each message once (the usual Turnkey folder), needs none of this:
    its messages are its rows, streamed from the batches' files to the engine's without being
    gathered in memory.
    """
    action = pl.col("action")
    if read.issues_once:
        # in the order read: the batches are written in order (no sort: memory stays flat)
        return _rows(read.messages), _rejected(pl.DataFrame(
            schema={k: MESSAGE_SCHEMA[k] for k in ("seller_ban", "invoice_number",
                                                    "invoice_date", "source", "line")}).lazy())
    key = ["seller_ban", "invoice_number"]
    ends = action.is_in(["cancel", "void"])
    issue, failed = action == "issue", pl.col("in_err")

    def per_class(what: pl.Expr) -> pl.Expr:  # of this row's class: refused (ERR) or not
        return pl.when(failed).then((what & failed).sum().over(key)).otherwise(
            (what & ~failed).sum().over(key))

    def left_over(refused: bool) -> pl.Expr:  # cancels of a class beyond its issues
        mine = failed if refused else ~failed
        # (sums of booleans are unsigned: cast before taking one from the other)
        return ((ends & mine).sum().cast(pl.Int64)
                - (issue & mine).sum().cast(pl.Int64)).over(key).clip(0)

    unique = (
        read.messages.sort("file", "line")
        .group_by("digest", maintain_order=True)
        .agg(pl.all().exclude("in_err").first(), in_err=pl.col("in_err").all())
        .sort("invoice_date", "file", "line")
        .with_columns(
            nth=pl.int_range(pl.len()).over([*key, "action"]),
            nth_in_class=pl.int_range(pl.len()).over([*key, "action", "in_err"]),
            ends_in_class=per_class(ends),
            left_over=left_over(True) + left_over(False),
            lives=(action.is_in(["issue", "cancel", "void"])).sum().over(key),
        )
        # A cancel or void replaces an issue of its own class first (a refused cancel, the
        # refused issue it cancels), then, where its class has too few, the earliest left.
        .with_columns(first_pass=issue & (pl.col("nth_in_class") >= pl.col("ends_in_class")))
        .with_columns(nth_left=pl.col("first_pass").cast(pl.Int64).cum_sum().over(key) - 1)
        .collect()  # one row per distinct message
    )
    kept = unique.lazy().filter(
        ends
        | (pl.col("first_pass") & (pl.col("nth_left") >= pl.col("left_over")))
        | ((action == "reject") & (pl.col("lives") == 0) & (pl.col("nth") == 0))
    )
    return _rows(kept), _rejected(unique.lazy().filter(action == "reject"))


def _rows(kept: pl.LazyFrame) -> pl.LazyFrame:
    action = pl.col("action")
    return kept.select(
        "invoice_number", "invoice_date", "seller_ban",
        # a when/then chain streams; replace_strict held the whole column in the sink
        status=pl.when(action == "issue").then(pl.lit("issued"))
        .when(action == "cancel").then(pl.lit("cancelled"))
        .when(action == "void").then(pl.lit("voided"))
        .when(action == "reject").then(pl.lit("issued")),
        machine=pl.lit(None, pl.String),
        upload_status=pl.when(pl.col("in_err")).then(pl.lit("failed")).otherwise(
            pl.lit(None, pl.String)),
        source="source", line="line",
    )


def _rejected(rejects: pl.LazyFrame) -> pl.DataFrame:
    return rejects.select("seller_ban", "invoice_number", "invoice_date", "source",
                          "line").collect()
