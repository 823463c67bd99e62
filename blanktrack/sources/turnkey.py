"""MIG XML files (a Turnkey data folder, or files named one by one) read into invoice rows.

Files are parsed in batches, on both cores when there are many (a process pool: lxml holds
the GIL); each batch comes back as columns, so memory follows the invoices, not the files.
Files under an `ERR` folder were refused by the platform: their invoices are `upload-failed`.
The same message found twice (SRC and BAK) counts once. Issue, cancel, void and reject messages
of one number fold into the canonical rows: a cancel (作廢) or void (註銷) replaces one issue.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

import polars as pl

from ..errors import InputError, Problem
from .mig_xml import Kind, read_document
from .safe_xml import parse_bytes

BATCH_FILES = 2000  # files per task of the pool (fewer when they are large: envelopes)
BATCH_BYTES = 4 * 2**20
POOL_MIN_BYTES = 16 * 2**20  # less XML is read in this process (starting workers costs more)
PROGRESS_MIN_FILES = 10_000  # above this, progress is shown even when stderr is no terminal

MESSAGE_SCHEMA = {
    "action": pl.String, "invoice_number": pl.String, "invoice_date": pl.String,
    "seller_ban": pl.String, "line": pl.Int64, "digest": pl.Int64, "file": pl.Int64,
}


@dataclass
class Batch:
    """What one batch of files held."""

    messages: pl.DataFrame  # MESSAGE_SCHEMA; `file` indexes the batch's paths
    kinds: Counter[Kind] = field(default_factory=Counter)
    not_xml: list[int] = field(default_factory=list)  # indexes of files that are not XML
    problem: Problem | None = None  # the first unusable file, as data (it crosses processes)


def _looks_like_xml(data: bytes) -> bool:
    return data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<")


def read_batch(paths: Sequence[str]) -> Batch:
    """Parse the XML files of one batch (runs in a worker process)."""
    rows: list[tuple] = []
    files: list[int] = []
    kinds: Counter[Kind] = Counter()
    not_xml: list[int] = []
    for i, path in enumerate(paths):
        try:
            with open(path, "rb") as fh:
                data = fh.read()
            if not _looks_like_xml(data):
                not_xml.append(i)
                continue
            found, records = read_document(parse_bytes(data, path), path, data)
        except InputError as exc:
            return Batch(pl.DataFrame(schema=MESSAGE_SCHEMA), kinds, not_xml, exc.problems[0])
        except OSError as exc:
            return Batch(pl.DataFrame(schema=MESSAGE_SCHEMA), kinds, not_xml,
                         Problem(path, None, None, f"cannot read the file: {exc.strerror or exc}",
                                 "check that you may read the folder"))
        if not found[0][0].known:  # XML, but no MIG message: the caller says what it is
            not_xml.append(i)
            continue
        for kind, n in found:
            kinds[kind] += n
        rows.extend(records)
        files.extend([i] * len(records))
    record_schema = {k: v for k, v in MESSAGE_SCHEMA.items() if k != "file"}
    messages = pl.DataFrame(rows, schema=record_schema, orient="row").with_columns(
        file=pl.Series(files, dtype=pl.Int64))
    return Batch(messages, kinds, not_xml)


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


def _in_workers(batches: list[list[str]], workers: int, take: Callable[[Batch], bool]) -> None:
    # spawn, not fork: a forked copy of a process running polars' threads may deadlock.
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        for result in pool.map(read_batch, batches):
            if not take(result):
                pool.shutdown(cancel_futures=True)
                break


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0  # read_batch names the file


@dataclass
class XmlRead:
    messages: pl.LazyFrame  # MESSAGE_SCHEMA; `file` indexes `files`
    files: pl.DataFrame  # file, source (path), in_err
    kinds: Counter[Kind]
    not_xml: list[str]


class _Messages:
    """Each batch's messages as they come back: to a Parquet file of `spill` (so memory does
    not grow with the files), or kept (no folder given)."""

    def __init__(self, spill: Path | None) -> None:
        self.spill, self.kept, self.written = spill, [], []
        if spill is not None:
            spill.mkdir(parents=True, exist_ok=True)

    def add(self, messages: pl.DataFrame) -> None:
        if self.spill is None:
            self.kept.append(messages)
            return
        path = self.spill / f"batch-{len(self.written):06d}.parquet"
        messages.write_parquet(path)
        self.written.append(path)

    def frame(self) -> pl.LazyFrame:
        if self.written:
            return pl.scan_parquet(self.written)
        if self.kept:
            return pl.concat(self.kept).lazy()
        return pl.LazyFrame(schema=MESSAGE_SCHEMA)


def read_files(paths: Sequence[str], in_err: Sequence[bool], what: str,
               workers: int | None = None, spill: Path | None = None) -> XmlRead:
    """Read every XML file of `paths`; InputError for the first unusable one. With `spill`,
    each batch's messages are written there as they come back."""
    # The size of the first file stands for all: Turnkey's files of one kind are alike.
    each = _size(paths[0]) if paths else 0
    per_batch = max(1, min(BATCH_FILES, BATCH_BYTES // max(each, 1)))
    batches = [list(paths[i:i + per_batch]) for i in range(0, len(paths), per_batch)]
    progress = Progress(len(paths), what)
    workers = workers if workers is not None else min(2, os.cpu_count() or 1)
    kinds: Counter[Kind] = Counter()
    not_xml: list[str] = []
    messages = _Messages(spill)
    done = 0  # batches taken

    problems: list[Problem] = []

    def take(result: Batch) -> bool:
        """Keep what one batch held; False at the first unusable file."""
        nonlocal done
        if result.problem is not None:
            problems.append(result.problem)
            return False
        batch, offset = batches[done], done * per_batch
        kinds.update(result.kinds)
        not_xml.extend(batch[i] for i in result.not_xml)
        messages.add(result.messages.with_columns(pl.col("file") + offset))
        progress.advance(len(batch))
        done += 1
        return True

    if each * len(paths) >= POOL_MIN_BYTES and len(batches) >= 2 and workers >= 2:
        # Workers that cannot start here (e.g. a __main__ they cannot import): this process
        # reads what they did not; slower, the same rows.
        with contextlib.suppress(BrokenProcessPool):
            _in_workers(batches, workers, take)
    for batch in batches[done:]:
        if problems or not take(read_batch(batch)):
            break
    if problems:
        raise InputError(problems[0])
    files = pl.DataFrame({"source": list(paths), "in_err": list(in_err)},
                         schema={"source": pl.String, "in_err": pl.Boolean}).with_row_index(
        "file").with_columns(pl.col("file").cast(pl.Int64))
    return XmlRead(messages.frame(), files, kinds, not_xml)


def fold(read: XmlRead) -> tuple[pl.LazyFrame, pl.DataFrame]:
    """(raw invoice rows, rejected messages) from the messages of one input.

    Same message twice → once (failed only when every copy is under ERR). Per seller and number:
    each cancel is a cancelled row, each void a voided row, and they replace the earliest
    issues; the issues left are issued rows. A reject leaves its invoice used: an issued row
    when no issue message is left in the folder.
    """
    key = ["seller_ban", "invoice_number"]
    action = pl.col("action")
    # Files in the order of their paths, as a number: the path is joined to the rows kept.
    files = read.files.lazy().with_columns(rank=pl.col("source").rank("ordinal").cast(pl.Int64))
    unique = (
        read.messages.join(files.select("file", "in_err", "rank"), on="file", how="left")
        .sort("rank", "line")
        .group_by("digest", maintain_order=True)
        .agg(pl.all().exclude("in_err").first(), in_err=pl.col("in_err").all())
        .sort("invoice_date", "rank", "line")
        .with_columns(
            nth=pl.int_range(pl.len()).over([*key, "action"]),
            replaced=(action.is_in(["cancel", "void"])).sum().over(key),
            issues=(action == "issue").sum().over(key),
            lives=(action.is_in(["issue", "cancel", "void"])).sum().over(key),
        )
        .collect()  # one row per distinct message, its file as a number
    )
    source = files.select("file", "source")
    kept = unique.lazy().filter(
        (action.is_in(["cancel", "void"]))
        | ((action == "issue") & (pl.col("nth") >= pl.col("replaced")))
        | ((action == "reject") & (pl.col("lives") == 0) & (pl.col("nth") == 0))
    ).join(source, on="file", how="left", maintain_order="left")
    rows = kept.select(
        "invoice_number", "invoice_date", "seller_ban",
        status=pl.col("action").replace_strict({"issue": "issued", "cancel": "cancelled",
                                                "void": "voided", "reject": "issued"}),
        machine=pl.lit(None, pl.String),
        upload_status=pl.when(pl.col("in_err")).then(pl.lit("failed")).otherwise(
            pl.lit(None, pl.String)),
        source="source", line="line",
    )
    rejected = unique.lazy().filter(action == "reject").join(
        source, on="file", how="left", maintain_order="left").select(
        "seller_ban", "invoice_number", "invoice_date", "source", "line").collect()
    return rows, rejected
