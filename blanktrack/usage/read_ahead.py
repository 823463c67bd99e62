"""The first row groups of a large period's Parquet invoices, decoded while the command starts.

Before the dense scan can start, `reconcile` imports polars, numpy and pyarrow and reads the
allocations: about a quarter of a second of a 20M period, on one core (the imports hold the
GIL). `start` decodes the first row groups the scan will read on a thread meanwhile, each in one
pyarrow call that runs without the GIL, so the imports are not held up; the scan's `take`
uses them instead of reading them (bench/README.md, "Reading ahead while the command starts").

What is read is what the scan would read (scan_plan.py: the same columns, the text keys as
dictionaries). A group the scan asks for with other columns, of a file changed since, or not
begun yet, is left for the scan to read as usual; nothing read ahead changes a result. At most
READ_AHEAD_ROWS rows are held, only for a period the dense scan takes (DENSE_MIN_ROWS), and
`discard` lets go of whatever is left. pyarrow only: this is imported before polars.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from threading import Condition, Thread

import pyarrow as pa
import pyarrow.parquet as pq

from .dense_size import DENSE_MIN_ROWS
from .scan_plan import ParquetPlan, dictionary_columns, plan, reader, use_scan_pool

# A row group of 1M rows (polars' and pyarrow's size) for each of the scan's two threads to
# begin with: decoded in about 0.12 s, while the command imports. 1 to 3 such groups all gained
# the same (bench/README.md); the fewer, the less memory is held.
READ_AHEAD_ROWS = 2 << 20
FIRST_FILES = 2  # the scan's two threads begin with a file each: at least two are planned


@dataclass(eq=False)
class _Group:
    """One row group to read ahead: not begun, being read, or read (`table`, None on failure)."""

    columns: list[str]
    dictionary: list[str]
    file_id: tuple[int, int, int, int]  # (device, inode, size, mtime) when its footer was read
    begun: bool = False
    done: bool = False
    table: pa.Table | None = None


@dataclass(eq=False)
class _ReadAhead:
    groups: dict[tuple[str, int], _Group] = field(default_factory=dict)
    changed: Condition = field(default_factory=Condition)
    closed: bool = False
    pool: pa.MemoryPool | None = None  # the default pool before start, put back by discard


_current: _ReadAhead | None = None


def start(paths: Sequence[str | Path]) -> None:
    """Begin reading ahead the first row groups of `paths` (the invoice files as given) on a
    daemon thread, if they are regular Parquet files of at least DENSE_MIN_ROWS rows in all;
    anything else is left alone. Call discard() when the scan is done or not made."""
    global _current
    discard()
    state = _ReadAhead()
    # from the pool the scan's reads use (engine.dense_scan): the scan's batches then use this
    # memory again
    state.pool = use_scan_pool()
    _current = state
    Thread(target=_read, args=(state, [str(p) for p in paths]), name="blanktrack-read-ahead",
           daemon=True).start()


def take(path: str | Path, group: int, columns: list[str], dictionary: list[str]
         ) -> pa.Table | None:
    """Row group `group` of `path` as read ahead with these columns and dictionary columns (one
    chunk a column), or None: the caller reads it. A group being read is waited for; one not
    begun is not read ahead any more."""
    state = _current
    if state is None:
        return None
    key = (_key(path), group)
    with state.changed:
        entry = state.groups.pop(key, None)
        if entry is None:
            return None
        if not entry.begun:
            entry.done = True  # the reading thread passes it by
            return None
        state.changed.wait_for(lambda: entry.done)
    table = entry.table
    if (table is None or entry.columns != columns or entry.dictionary != dictionary
            or _file_id(key[0]) != entry.file_id
            or any(column.num_chunks != 1 for column in table.columns)):
        return None
    return table


def discard() -> None:
    """Stop reading ahead and let go of what was read and not taken."""
    global _current
    state, _current = _current, None
    if state is None:
        return
    with state.changed:
        state.closed = True
        state.groups.clear()
    if state.pool is not None:
        pa.set_memory_pool(state.pool)


def _read(state: _ReadAhead, paths: list[str]) -> None:
    try:
        planned = _planned(paths)
        if not planned:
            return
        order = _order(planned)
        with state.changed:
            if state.closed:
                return
            for path, group in order:
                file_plan, file_id = planned[path]
                state.groups[(path, group)] = _Group(
                    list(file_plan.columns.values()), dictionary_columns(file_plan.columns),
                    file_id)
        readers: dict[str, pq.ParquetFile] = {}
        for path, group in order:
            with state.changed:
                entry = state.groups.get((path, group))
                if state.closed or entry is None or entry.done:
                    continue  # taken by the scan before it was begun
                entry.begun = True
            try:
                if path not in readers:
                    file_plan = planned[path][0]
                    readers[path] = reader(path, file_plan.columns, file_plan.metadata)
                entry.table = readers[path].read_row_group(
                    group, columns=entry.columns, use_threads=False)
            finally:
                with state.changed:
                    entry.done = True
                    state.changed.notify_all()
    except Exception:  # the scan reads the file itself, and names what fails
        with state.changed:
            for entry in state.groups.values():
                entry.done = True
            state.changed.notify_all()


def _planned(paths: list[str]) -> dict[str, tuple[ParquetPlan, tuple[int, int, int, int]]]:
    """The plans of the first files, as many as hold DENSE_MIN_ROWS rows (and FIRST_FILES at
    least); empty when a file is not a regular Parquet file the scan reads, or all of them hold
    fewer rows (the polars path reads them)."""
    planned: dict[str, tuple[ParquetPlan, tuple[int, int, int, int]]] = {}
    rows = 0
    for given in paths:
        path = _key(given)
        file_id = _file_id(path)
        if file_id is None:
            return {}  # a FIFO or a device is never opened; a missing file fails later
        file_plan = plan(pq.ParquetFile(path))
        if file_plan is None:
            return {}
        planned[path] = (file_plan, file_id)
        rows += sum(file_plan.row_group_rows)
        if rows >= DENSE_MIN_ROWS and len(planned) >= FIRST_FILES:
            return planned
    return planned if rows >= DENSE_MIN_ROWS else {}


def _order(planned: dict[str, tuple[ParquetPlan, tuple[int, int, int, int]]]
           ) -> list[tuple[str, int]]:
    """The row groups to read: the first of each file planned, in the files' order, then the
    second of each, …, up to READ_AHEAD_ROWS rows (the scan's two threads each begin with a
    file; of a folder of daily files, they take the first few in turn)."""
    files = list(planned)
    order: list[tuple[str, int]] = []
    rows, depth = 0, 0
    while True:
        row_groups = [(path, depth) for path in files
                      if depth < len(planned[path][0].row_group_rows)]
        if not row_groups:
            return order
        for path, group in row_groups:
            n = planned[path][0].row_group_rows[group]
            if rows + n > READ_AHEAD_ROWS:
                return order
            order.append((path, group))
            rows += n
        depth += 1


def _key(path: str | Path) -> str:
    return os.path.realpath(path)


def _file_id(path: str) -> tuple[int, int, int, int] | None:
    """(device, inode, size, mtime) of a regular file; None for anything else."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns
