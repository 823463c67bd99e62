"""Which path reduces a period's invoices to booklet usage; each ends in one BookletUsage.

- the dense scan (dense.py): large, plainly clean input, tallied straight into the allocations'
  booklets by a compiled loop;
- the one-pass polars path (one_pass.py): plainly clean input, one streaming group-by of the raw
  text, each distinct value validated once;
- the validating path (validated.py): anything else; every row checked, every problem named with
  file, line and field.

Both polars paths end in the same reduction (reduction.py); the dense scan's left-over rows too.

The faster paths decline (None) whatever they do not take as it is, and the next one is tried.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import threading
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from ..allocations import is_parquet
from ..booklets import allocation_booklets
from ..invoices import parquet_rows, scan_raw_invoices
from ..period import Period
from .dense_size import DENSE_MIN_ROWS
from .one_pass import fast_usage
from .result import BookletUsage
from .validated import validated_usage

if TYPE_CHECKING:  # not imported at run time: it loads numpy and pyarrow
    from .dense import Scanned

_CSV_BYTES_PER_ROW = 50  # a canonical invoice row is about 50-55 bytes of CSV


def is_large(paths: Sequence[str | Path]) -> bool:
    """Whether the invoices are enough for the dense scan to gain (Parquet rows from the
    metadata, CSV rows estimated from the size)."""
    rows = 0
    for path in map(Path, paths):
        stat = path.stat()
        rows += _rows(str(path), stat.st_ino, stat.st_size, stat.st_mtime_ns)
        if rows >= DENSE_MIN_ROWS:
            return True  # the other files' footers need not be read (200 daily files)
    return False


@functools.lru_cache(maxsize=4096)
def _rows(path: str, inode: int, size: int, mtime_ns: int) -> int:
    """A file's rows, or their estimate; kept per file as it is (warm_up and of_period both
    ask, and a Parquet footer of each of thousands of files is a read)."""
    return parquet_rows(Path(path), path) if is_parquet(Path(path)) else size // _CSV_BYTES_PER_ROW


def warm_up(paths: Sequence[str | Path]) -> None:
    """When the invoices are large: import the dense scan and load its compiled loop in the
    background, while the caller reads the allocations (a core is free then). The first run
    after an install compiles the loop here (native_loop.py)."""
    if not is_large(paths):
        return

    def warm() -> None:
        with contextlib.suppress(Exception):  # whatever fails here fails again, and is seen, later
            from . import dense

            dense.warm_up(Path(paths[0]))
            # polars imports numpy.ma the first time a numpy array becomes a Series (the dense
            # scan's result does): here, while a core is free, not in its merge.
            importlib.import_module("numpy.ma")

    threading.Thread(target=warm, name="blanktrack-warm-up", daemon=True).start()


def dense_scan(paths: Sequence[str | Path], period: Period, allocations: pl.DataFrame,
               bans: pl.Series | None) -> Scanned | None:
    """dense.scan, loaded on first use; None where it is not installed."""
    try:
        from . import dense  # pyarrow and the compiled loop are loaded only here

        dense.native_loop.kernels()
    except ImportError as exc:  # a broken install: slower, but the same report
        warnings.warn(f"the dense scan is not available ({exc}); using the polars path, which "
                      "is slower on a large period: reinstall blanktrack", RuntimeWarning,
                      stacklevel=3)
        return None
    with _scan_memory_pool():
        return dense.scan(paths, period, allocations, bans)


@contextlib.contextmanager
def _scan_memory_pool() -> Iterator[None]:
    """pyarrow's reads during the scan allocate from jemalloc (scan_plan.use_scan_pool); the
    pool before is put back after."""
    import pyarrow as pa

    from .scan_plan import use_scan_pool  # pyarrow: loaded only for a scan

    before = use_scan_pool()
    try:
        yield
    finally:
        if before is not None:
            pa.set_memory_pool(before)


def of_period(invoice_paths: Sequence[str | Path], period: Period, allocations: pl.DataFrame,
              bans: pl.Series | None) -> BookletUsage:
    """The booklet usage of the invoices in `invoice_paths` (canonical files, checked to exist)
    for `period`'s `allocations` (booklets.prepare_allocations); `bans`: the sellers reported
    (--ban), None for all. InputError (file, line, field) for invoices that cannot be used."""
    alloc_booklets = allocation_booklets(allocations)
    scanned = None
    if is_large(invoice_paths):
        try:
            scanned = dense_scan(invoice_paths, period, allocations, bans)
        except Exception:
            scan_raw_invoices(invoice_paths)  # a file's own InputError first, if it has one
            raise
    if scanned is not None:  # it made the file checks of the files it read (header, encoding)
        if scanned.by_slot is not None:  # every row fell in a slot: usage by position, no joins
            return BookletUsage.by_position(period, invoice_paths, bans, alloc_booklets,
                                            scanned.by_slot, scanned.foreign, scanned.issuing,
                                            scanned.counted)
        by_machine, issuing, counted, foreign = scanned.usage()
        clean = True
    else:
        raw = scan_raw_invoices(invoice_paths)  # the file checks (encoding, header, …)
        fast = fast_usage(invoice_paths, period, bans)
        clean = fast is not None
        by_machine, issuing, counted, foreign = (
            fast if fast is not None else validated_usage(raw, period, bans))
    return BookletUsage.joined(period, invoice_paths, bans, alloc_booklets, by_machine, foreign,
                               issuing, counted, clean=clean)
