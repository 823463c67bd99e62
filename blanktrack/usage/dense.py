"""The dense scan: invoices tallied straight into the allocations' booklets.

The allocations say which booklets can be used at all, so every (track, booklet) of the period
gets a slot in a dense table (slots.py), and each invoice row is tallied into its slot by the compiled loop
in slot_tally.py: no hash table per row, memory proportional to the allocations. The text columns
arrive as small integer codes (Parquet: the dictionary codes pyarrow reads; CSV: polars' text
coded by a compiled loop, csv_batches.py), so only their few distinct values are ever looked at, once each
in distinct_values.py and then again, as the authority, by reduction.key_map (the same polars
expressions as validation). The few rows the dense model does not cover (outside the
allocations, another seller's number, a second till in one booklet) go through the polars
group-by of raw_usage and are merged in. Two threads each read and tally their own share of the
files (Parquet row groups, whole CSV files), each into its own tally; batches in no row order go
into one tally both threads share, a second pass at a time; the tallies are merged at the end.

Returns None whenever the input is not plainly clean text, and reconcile then takes the polars
paths, which report every problem with file, line and field.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from .. import invoices as inv
from ..allocations import is_parquet
from ..booklets import USAGE_MASKS, fold_usage
from ..period import Period
from . import native_loop, read_ahead, scan_plan
from .booklet_slots import Slots, booklet_slots
from .by_position import ByPosition
from .csv_batches import CsvBatches, KeyCodes
from .distinct_values import NotClean, ValueCodes, table
from .one_pass import group_raw_rows, usage_from_groups
from .reduction import BY_MACHINE_KEYS, FOREIGN_SCHEMA, TEXT_KEYS, Usage
from .scan_plan import PER_ROW

BATCH_ROWS = 1 << 17  # Parquet: rows a batch (a row group is often about that)
CSV_BATCH_ROWS = 1 << 17  # CSV: a batch's text keys are 16 bytes a row (string views)
THREADS = 2  # scanning threads: the machine this is made for has two cores
MAX_EXCEPTIONS = 2_000_000  # rows left to polars before the dense scan is not worth it
ISSUING_START = 1 << 4  # entries of a thread's table of issuing groups at first (it grows)
# Work is handed to the threads as tasks of about equal rows, the largest first (so that the
# last tasks are short and both threads end together): a file's consecutive row groups, at most
# ROW_GROUPS_PER_TASK of them, up to 1 / (THREADS * TASKS_PER_THREAD) of all the rows.
TASKS_PER_THREAD = 4
ROW_GROUPS_PER_TASK = 64

# slot_tally's SLOT_WORDS, OWNER_WORDS and RECORD_WORDS (slot_tally.py imports numba, which a run
# does not load; tests/test_layout_mirrors.py holds the copies to the originals).
SLOT_WORDS, OWNER_WORDS, RECORD_WORDS = 8, 2, 2
_ISSUING_KEYS = ("seller_ban", "machine", "track", "invoice_date")
_ISSUING_SCHEMA = {"seller_ban": pl.String, "machine": pl.String, "track": pl.String,
                   "invoice_date": pl.Date, "invoices": pl.UInt32}
# The issuing key slot_tally.py packs: ban << 42 | till << 18 | track << 8 | day, a non-negative int64.
# The track is its letters' code (26 * first + second < 1024), the day its place in the period
# (< 62); BANs and tills are codes met in the scan, refused (polars decides) past these bounds.
MAX_ISSUING_BANS = 1 << 21
MAX_ISSUING_TILLS = 1 << 24
_TRACK_NAMES = pl.Series("track", [chr(65 + t // 26) + chr(65 + t % 26) for t in range(676)],
                         pl.String)


# A batch whose rows are in no particular order is tallied in two passes (slot_tally.py,
# partition_batch): its records are put in buckets of 2^PARTITION_SHIFT booklet places, whose
# seats, slot records and owners (80 bytes a place) fit well inside a 1 MB L2 cache. A batch is
# taken to be in order when at least half of its first ORDER_SAMPLE rows are in the hundred
# numbers of the row before (a till's rows: nearly all; date order across tills or shuffled:
# few).
PARTITION_SHIFT = 12
TRANSPOSE_RECORDS = 1 << 12  # slot records (64 bytes each) a block of usage_columns' copy
ORDER_SAMPLE = 1024
# The records of several batches out of order wait for one second pass, so that a slot's record
# is read once for several rows, not once a row: PENDING_PER_SLOT rows a slot, within
# MIN_PENDING_ROWS..MAX_PENDING_ROWS a thread. Only their records wait (16 bytes a row), each in
# its bucket's region, sized by the bucket's share of the slots with PENDING_SLACK to spare and
# PENDING_BUCKET_ROWS more (a full one is tallied at once, alone: rows out of order are seldom
# spread as the slots are). A batch is read again for the rare rows a second pass hands back
# after it is let go, not held.
PENDING_PER_SLOT = 2
MIN_PENDING_ROWS = 1 << 18
MAX_PENDING_ROWS = 1 << 21
PENDING_SLACK = 1.25
PENDING_BUCKET_ROWS = 256


def _in_order(numbers: tuple[int, bool, np.ndarray, np.ndarray]) -> bool:
    """Whether the first rows of a batch's number column mostly follow on from the row before:
    their first eight characters (track and number // 100) the same."""
    n, views, offsets, data = numbers
    k = min(n, ORDER_SAMPLE)
    if k < 2 or not len(data):
        return True
    first = 0 if views else int(offsets[0])
    width = 0 if views else (int(offsets[k]) - first) // k
    if width >= 8 and np.array_equal(offsets[:k + 1] - first, width * np.arange(k + 1)):
        # Numbers of one width (nearly always: ten characters): their prefixes are a strided
        # view of the data, where gathering eight bytes a row took most of this check.
        prefix = data[first:first + k * width].reshape(k, width)[:, :8]
    else:
        starts = (16 * np.arange(k, dtype=np.int64) + 4 if views
                  else offsets[:k].astype(np.int64))
        at = np.minimum(starts[:, None] + np.arange(8), len(data) - 1)  # short: any byte
        prefix = data[at]
    words = np.ascontiguousarray(prefix).view(np.uint64)[:, 0]  # a row's eight bytes as one
    return bool(2 * np.count_nonzero(words[1:] == words[:-1]) >= k - 1)


@dataclass
class _Tally:
    """What one scanning thread found: per slot its till and masks, issuing counts per
    (seller, till, track, day), the rows left to polars, rows per file. The threads' batches
    out of order are tallied into one more, which they share (_Scan.partitioned)."""

    slot_ban: np.ndarray
    n_files: int
    # per slot: seller, and while scanning the issuing group of its till, then (finish) the
    # till itself (slot_tally.OWNER_WORDS); made when the first row is tallied into them (a
    # thread that meets only batches out of order never makes its own: 80 bytes a slot)
    owner: np.ndarray = field(init=False)
    state: np.ndarray = field(init=False)  # per slot: USAGE_MASKS, live rows (slot_tally.SLOT_WORDS)
    counts: native_loop.IssuingCounts = field(init=False)  # per issuing group and day
    tallied: bool = False  # owner, state and counts made
    issuing: np.ndarray = field(init=False)  # (finish) (key, count) interleaved, as _merge reads
    exceptions: list[pl.DataFrame] = field(default_factory=list)
    rows: list[int] = field(init=False)
    # The partitioned tally's records, each in its bucket's region (bucket k's from ends[k - 1]
    # up to fill[k]): made at the first batch out of order, kept from batch to batch.
    pending: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint64))
    fill: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    ends: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    # Waiting for the second pass: the records made, the batches' rows, and per batch its first
    # row among them and how to take its raw rows (read again: the batch is not held).
    waiting: int = 0
    waiting_rows: int = 0
    waiting_batches: list[tuple[int, Callable[[np.ndarray], pl.DataFrame]]] = field(
        default_factory=list)

    def __post_init__(self) -> None:
        self.issuing = np.zeros(0, np.int64)
        self.rows = [0] * self.n_files

    def ready(self) -> _Tally:
        """The tally with its per-slot arrays and issuing counts (made on the first call)."""
        if not self.tallied:
            n = len(self.slot_ban)
            self.owner = np.empty(OWNER_WORDS * n, np.int32)
            self.owner[0::OWNER_WORDS] = self.slot_ban
            self.owner[1::OWNER_WORDS] = -1
            self.state = np.zeros(SLOT_WORDS * n, np.uint64)
            self.counts = native_loop.IssuingCounts.empty(ISSUING_START)
            self.tallied = True
        return self

    def regions(self, ends: np.ndarray) -> None:
        """The buckets' regions, ending at `ends`, made when first needed (np.empty: a page is
        taken only when a record is written to it)."""
        if not len(self.ends):
            self.ends = ends
            self.pending = np.empty(RECORD_WORDS * int(ends[-1]), np.uint64)
            self.fill = np.empty_like(ends)
            self.emptied()

    def emptied(self) -> None:
        """Every bucket's region empty again (after a second pass)."""
        self.fill[0] = 0
        self.fill[1:] = self.ends[:-1]
        self.waiting_batches, self.waiting, self.waiting_rows = [], 0, 0

    def finish(self) -> None:
        """After the last batch: each slot's till in place of its issuing group, and the
        issuing counts keyed by (seller, till, track, day); the records let go."""
        if self.tallied:
            self.owner[1::OWNER_WORDS] = self.counts.tills(self.owner[1::OWNER_WORDS])
            self.issuing = self.counts.keyed()
        self.pending = self.fill = self.ends = np.zeros(0, np.int64)

    @property
    def slot_machine(self) -> np.ndarray:
        return self.owner[1::OWNER_WORDS]  # a view: writes go to the tally

    @property
    def records(self) -> np.ndarray:
        """The slot records as rows of eight words (a view)."""
        return self.state.reshape(-1, SLOT_WORDS)

    def usage_columns(self) -> tuple[list[np.ndarray], np.ndarray]:
        """(each usage mask per slot, the live rows per slot), contiguous copies made by one
        transposing copy of the records, block by block (a copy per mask reads every record
        once per mask)."""
        records = self.records
        words = np.empty((SLOT_WORDS, len(records)), np.uint64)
        # Block by block, each block's records within the L2 cache: one strided copy of the
        # whole took twice as long (bench/README.md, "The 20M Parquet edges").
        for start in range(0, len(records), TRANSPOSE_RECORDS):
            words[:, start:start + TRANSPOSE_RECORDS] = records[start:start + TRANSPOSE_RECORDS].T
        live = len(USAGE_MASKS)
        return list(words[:live]), words[live].astype(np.int64)


@dataclass
class _File:
    """An invoice file the dense scan reads: Parquet through pyarrow (text columns as their
    dictionary codes), CSV through polars (text columns read as text, coded by key_coding)."""

    path: Path
    columns: dict[str, str]  # normal column name → the file's own, of the columns read (Parquet)
    row_group_rows: list[int] = field(default_factory=list)  # rows of each row group (Parquet)
    csv: CsvBatches | None = None  # RAW_COLUMNS as text (CSV only)
    # Parquet: per-row text columns whose statistics show one value in every row (normal name →
    # the value), coded as that value and not read (one_value_columns.py).
    one_values: dict[str, str] = field(default_factory=dict)
    metadata: pq.FileMetaData | None = None  # Parquet: its footer, parsed once

    def reader(self) -> pq.ParquetFile:
        """Parquet: a reader on the footer parsed once, the text keys read as dictionaries."""
        return scan_plan.reader(self.path, self.columns, self.metadata)

    def batches(self, reader: pq.ParquetFile, group: int, *, ahead: bool = True
                ) -> Iterator[pa.RecordBatch]:
        """Parquet: the batches of one row group, of the columns the scan reads; decoded
        already where read_ahead.py read the group while the command started (`ahead`)."""
        columns = list(self.columns.values())
        if ahead:
            table = read_ahead.take(self.path, group, columns,
                                    scan_plan.dictionary_columns(self.columns))
            if table is not None:  # one chunk a column: batches as iter_batches cuts them
                return iter(table.to_batches(max_chunksize=BATCH_ROWS))
        return reader.iter_batches(BATCH_ROWS, row_groups=[group], use_threads=False,
                                   columns=columns)


def _parquet_file(path: Path) -> _File | None:
    """If the required columns are there and every one read is of a type the scan takes
    (scan_plan.py); else None. InputError for a header the file checks refuse (an unknown or
    repeated column)."""
    parquet = pq.ParquetFile(path)
    # The header check of the file checks, which then need not read this footer again.
    inv.check_parquet_columns(str(path), parquet.schema_arrow.names)
    plan = scan_plan.plan(parquet)
    if plan is None:
        return None
    return _File(path, plan.columns, plan.row_group_rows, one_values=plan.one_values,
                 metadata=plan.metadata)


def _as_text(values: pa.Array, column: str) -> list[str | None]:
    """Distinct values of a column as the text invoices._scan_parquet makes of them (polars'
    own casts), so that distinct_values and the validation judge the same text."""
    if scan_plan.text_type(values.type):
        return values.to_pylist()
    series = pl.Series(pl.from_arrow(values))
    if series.dtype == pl.Date:
        text = series.dt.strftime("%Y-%m-%d")
    elif isinstance(series.dtype, pl.Datetime):
        text = series.dt.date().dt.strftime("%Y-%m-%d")
    elif series.dtype.is_integer():
        text = series.cast(pl.String)
        if column == "seller_ban":  # Parquet integers are exact: only leading zeros are lost
            text = text.str.zfill(8)
    else:
        raise NotClean(f"{column}: {series.dtype}")
    return text.to_list()


DAY_SPAN = 1024  # typed dates: a batch's days within this span are coded arithmetically
DAY_BLOCK = 256  # typed dates: the text of the days is made this many days at a time
_TICKS_A_DAY = {"s": 86_400, "ms": 86_400_000, "us": 86_400_000_000, "ns": 86_400_000_000_000}
_YEARS_1_TO_9999 = (-719_162, 2_932_896)  # days from 1970-01-01 to 0001-01-01 and 9999-12-31
# key_coding.DAY_TICKS' units by ticks a day: a day, then _TICKS_A_DAY's in its order
# (key_coding imports numba, which a run does not load; tests/test_key_codes.py holds the two
# alike).
_DAY_UNITS = {ticks: unit for unit, ticks in enumerate((1, *_TICKS_A_DAY.values()))}


def _ticks(column: pa.Array) -> tuple[np.ndarray, int]:
    """(ticks, ticks a day) of a date or timestamp column: the values as the integers they are
    stored as, whose floor division by the ticks a day is the calendar day of each row in days
    from 1970-01-01 (a timestamp's day in its own time zone; a naive one: its wall clock, as
    polars' dt.date gives it to the validation)."""
    kind = column.type
    # A view of the stored integers, not a cast (a cast loads pyarrow.compute, in a scanning
    # thread, and copies).
    if pa.types.is_date32(kind):
        return column.view(pa.int32()).to_numpy(), 1
    if pa.types.is_timestamp(kind):
        if kind.tz is not None:
            import pyarrow.compute as pc  # only here: its import is a tenth of a second

            column = pc.local_timestamp(column)
        per_day = _TICKS_A_DAY[kind.unit]
    else:  # date64: milliseconds
        per_day = _TICKS_A_DAY["ms"]
    return column.view(pa.int64()).to_numpy(), per_day


def _numpy_day_codes(ticks: np.ndarray, per_day: int, codes: np.ndarray) -> tuple[int, int]:
    """key_coding.day_codes by numpy: (first day, last day), and where they span less than
    DAY_SPAN days each row's day less the first in `codes`."""
    low = int(ticks.min())
    first, last = low // per_day, int(ticks.max()) // per_day  # exact: Python ints
    if last - first >= DAY_SPAN:
        return first, last
    if per_day == 1:  # a Date: its days
        np.subtract(ticks, ticks.dtype.type(first), out=codes, casting="unsafe")
    else:
        # (ticks - first day's first tick) // ticks a day, counted from the lowest tick (no
        # overflow: the span is short): one temporary, not three fresh arrays of a batch's rows
        # (their pages cost more than the arithmetic).
        since = np.subtract(ticks, low)
        since += low - first * per_day
        np.floor_divide(since, per_day, out=codes, casting="unsafe")
    return first, last


def _in_years(first: int, last: int) -> None:
    if first < _YEARS_1_TO_9999[0] or last > _YEARS_1_TO_9999[1]:
        raise NotClean("invoice_date: no year 1-9999")  # the polars path names the row


def _day_codes(column: pa.Array, kernels: native_loop.Kernels | None = None
               ) -> tuple[np.ndarray, list[str | None]]:
    """(per-row codes, the text of each code) of a date or timestamp column: its calendar days
    (_ticks), coded as the day less the batch's first day, or by np.unique where the days
    spread wider. A timestamp's days are found and coded in one compiled pass
    (key_coding.day_codes) where `kernels` are given (the scan's), else by numpy."""
    if column.null_count:
        raise NotClean("invoice_date: empty")  # the polars path names the row
    if not len(column):
        return np.zeros(0, np.int32), []
    ticks, per_day = _ticks(column)
    # written where the days span less than DAY_SPAN
    codes: np.ndarray = np.empty(len(ticks), np.int32)
    if kernels is not None and per_day != 1:
        first, last = kernels.day_codes(ticks, _DAY_UNITS[per_day], DAY_SPAN, codes)
    else:
        first, last = _numpy_day_codes(ticks, per_day, codes)
    _in_years(first, last)
    if last - first < DAY_SPAN:
        text = list(_days_as_text(first, last))
    else:
        days = ticks if per_day == 1 else np.floor_divide(ticks, per_day)
        distinct, codes = np.unique(days, return_inverse=True)
        codes = codes.astype(np.int32)
        text = _text_of_days(distinct)
    codes.setflags(write=False)  # as pyarrow's dictionary indices: numba's one specialisation
    return codes, text


@functools.lru_cache(maxsize=256)
def _days_as_text(first: int, last: int) -> tuple[str | None, ...]:
    """The text of the days first..last (days from 1970-01-01), kept: batches of one period
    repeat a few spans, and making the text through polars took most of a typed batch's
    coding (bench/README.md, the dense scan). Made from blocks of DAY_BLOCK days: in date
    order nearly every new span is a new pair of days, and a polars call each cost more than
    the rest of the typed dates' coding (bench/README.md, "Datetime and date order")."""
    blocks = range(first // DAY_BLOCK, last // DAY_BLOCK + 1)
    text = tuple(itertools.chain.from_iterable(map(_block_as_text, blocks)))
    start = first - blocks[0] * DAY_BLOCK
    return text[start:start + last - first + 1]


@functools.lru_cache(maxsize=64)
def _block_as_text(block: int) -> tuple[str | None, ...]:
    """The text of the DAY_BLOCK days from block * DAY_BLOCK on (days from 1970-01-01)."""
    first = block * DAY_BLOCK
    return tuple(_text_of_days(pl.int_range(first, first + DAY_BLOCK, dtype=pl.Int32,
                                            eager=True)))


def _text_of_days(days: np.ndarray | pl.Series) -> list[str | None]:
    """The text the validation reads of each day (days from 1970-01-01): polars' own text of
    a Date, as _as_text makes it (through polars alone: no pyarrow cast). Not pl.Series of a
    numpy array: that imports numpy.ma, in a scanning thread, holding the GIL."""
    if isinstance(days, np.ndarray):
        days = pl.Series(days.tolist(), dtype=pl.Int32)  # the batch's distinct days
    return days.cast(pl.Date).dt.strftime("%Y-%m-%d").to_list()


def _coded(batch: pa.RecordBatch, column: str, name: str | None,
           kernels: native_loop.Kernels | None = None) -> tuple[np.ndarray, Sequence[str | None]]:
    """(per-row codes, the text of each code) of one column of a batch; a null is one more
    code, and a column the file lacks is all null. `kernels`: for a typed date (_day_codes)."""
    if name is None:
        return np.zeros(batch.num_rows, np.int32), [None]
    values = batch.column(name)
    if pa.types.is_date(values.type) or pa.types.is_timestamp(values.type):
        return _day_codes(values, kernels)
    if not pa.types.is_dictionary(values.type):
        values = values.dictionary_encode()
    text = _as_text(values.dictionary, column)
    indices = values.indices
    if values.null_count:
        indices = indices.fill_null(len(text))
        text.append(None)
    return indices.to_numpy(zero_copy_only=False).astype(np.int32, copy=False), text


@functools.lru_cache(maxsize=16)
def _one_code(rows: int, value: str) -> tuple[np.ndarray, Sequence[str | None]]:
    """(per-row codes, the text of each code) of a column that holds `value` in every row;
    kept, read-only, for the next batch of as many rows (nearly every batch of a file)."""
    codes = np.zeros(rows, np.int32)
    codes.setflags(write=False)  # as pyarrow's dictionary indices: numba's one specialisation
    return codes, (value,)


def _number_buffers(column: pa.Array) -> tuple[int, bool, np.ndarray, np.ndarray] | None:
    """(rows, views, offsets, data) of an Arrow string column for slot_tally.tally_batch."""
    if column.null_count:
        return None
    if pa.types.is_dictionary(column.type):  # a categorical number column: rare, decoded
        column = column.dictionary_decode()
    n = len(column)
    if pa.types.is_string_view(column.type):
        views = column.buffers()[1]
        raw = np.frombuffer(views, np.uint8)[16 * column.offset:16 * (column.offset + n)]
        return n, True, raw.view(np.int32), raw
    wide = pa.types.is_large_string(column.type)
    _, offsets, data = column.buffers()
    offsets_np = np.frombuffer(offsets, np.int64 if wide else np.int32)
    offsets_np = offsets_np[column.offset:column.offset + n + 1]
    data_np = np.frombuffer(data, np.uint8) if data is not None else np.zeros(0, np.uint8)
    return n, False, offsets_np, data_np


def warm_up(path: Path) -> None:
    """Load the compiled loop (native_loop.py; numba's dispatcher, slower to load, when that cannot
    be used, during which every thread that calls it waits) for the types a Parquet
    file like `path` will give it, so that this can happen while the allocations are read."""
    kernels = native_loop.kernels()
    if kernels.kind == "native":
        return  # one function per offsets type, loaded already
    number = pq.read_schema(path).field(0).type if is_parquet(path) else None
    if number is None or not (pa.types.is_large_string(number) or pa.types.is_string(number)):
        return  # another layout: loaded on first use
    offsets = np.zeros(1, np.int64 if pa.types.is_large_string(number) else np.int32)
    code = np.zeros(0, np.int32)
    code.setflags(write=False)  # as pyarrow hands dictionary indices out
    i32, i64 = np.zeros(1, np.int32), np.zeros(1, np.int64)
    kernels.tally_batch(
        0, False, offsets, np.zeros(0, np.uint8), code, code, code, code, code,
        i32, i32, i32, i32, np.zeros(1, np.int8), np.zeros(1, np.bool_),
        i32, i64, i64, i64, i32, np.zeros(OWNER_WORDS, np.int32), np.zeros(SLOT_WORDS, np.uint64),
        *native_loop.IssuingCounts.empty(2).arguments(), i64, 0, 0,
    )


@dataclass
class Scanned:
    """What a dense scan found: issuing counts and rows per file; the usage per booklet and
    till (by_machine, as fast_usage gives it), made when first asked, which reconcile does only
    where by_slot is None (a frame of every used booklet); and by_slot."""

    issuing: pl.DataFrame
    counted: pl.DataFrame
    by_slot: ByPosition | None
    make_by_machine: Callable[[], pl.DataFrame]
    foreign: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=FOREIGN_SCHEMA))

    @functools.cached_property
    def by_machine(self) -> pl.DataFrame:
        return self.make_by_machine()

    def usage(self) -> Usage:
        return self.by_machine, self.issuing, self.counted, self.foreign


def dense_usage(paths: Sequence[str | Path], period: Period, allocations: pl.DataFrame,
                bans: pl.Series | None) -> Usage | None:
    """(by_machine, issuing, counted, foreign) as raw_usage.fast_usage computes them, or None."""
    scanned = scan(paths, period, allocations, bans)
    return None if scanned is None else scanned.usage()


def scan(paths: Sequence[str | Path], period: Period, allocations: pl.DataFrame,
         bans: pl.Series | None) -> Scanned | None:
    """dense_usage, and the usage of each allocation booklet by position where every row fell
    in a slot (by_slot.py), or None."""
    files = []
    for p in map(Path, paths):
        # CSV: read as one_pass reads it, the text keys coded by the scanning threads
        file = _parquet_file(p) if is_parquet(p) else _File(p, {}, csv=CsvBatches(p))
        if file is None:
            return None
        files.append(file)
    slots = booklet_slots(allocations)
    if slots is None or len(slots.bans) >= MAX_ISSUING_BANS:
        return None
    kernels = native_loop.kernels()  # loaded (or a failure raised) here, not in the scanning threads
    codes = ValueCodes(period, slots.bans, filtered=bans is not None)
    tasks: queue.SimpleQueue[tuple[int, list[int]]] = queue.SimpleQueue()
    for task in _tasks(files):
        tasks.put(task)
    # One tally per thread (each core reads and tallies its own row groups); merged at the end.
    tallies = [_Tally(slots.slot_ban, len(files)) for _ in range(THREADS)]
    work = _Scan(files, slots, codes, tasks, kernels)
    threads = [threading.Thread(target=work.run, args=(t,), name=f"blanktrack-scan-{k}")
               for k, t in enumerate(tallies)]
    for t in threads:
        t.start()
    try:
        for t in threads:
            t.join()
    except BaseException:  # Ctrl-C: the threads stop at their next batch, not at the end
        work.refused = True
        raise
    if work.failure is not None:
        raise work.failure
    if work.refused or not codes.confirmed():
        return None
    work.partitioned.finish()
    return _merge(slots, codes, period, files, [*tallies, work.partitioned], bans)


def _tasks(files: list[_File]) -> list[tuple[int, list[int]]]:
    """(file, its row groups) to read, each a share of about equal rows, the largest first;
    CSV files whole (their rows are not known before reading), before any Parquet."""
    total = sum(sum(f.row_group_rows) for f in files)
    target = max(1, total // (THREADS * TASKS_PER_THREAD))
    csv = sorted((i for i, f in enumerate(files) if f.csv is not None),
                 key=lambda i: -files[i].path.stat().st_size)
    shares: list[tuple[int, int, list[int]]] = []  # (rows, file, row groups)
    for i, file in enumerate(files):
        rows, groups = 0, list[int]()
        for g, n in enumerate(file.row_group_rows):
            if groups and (rows + n > target or len(groups) == ROW_GROUPS_PER_TASK):
                shares.append((rows, i, groups))
                rows, groups = 0, []
            rows += n
            groups.append(g)
        if groups:
            shares.append((rows, i, groups))
    shares.sort(key=lambda share: -share[0])  # stable: equal shares in file order
    return [(i, []) for i in csv] + [(i, groups) for _, i, groups in shares]


class _Scan:
    """The work the threads share: what to read, the value codes, a way to give up."""

    def __init__(self, files: list[_File], slots: Slots, codes: ValueCodes,
                 tasks: queue.SimpleQueue[tuple[int, list[int]]],
                 kernels: native_loop.Kernels) -> None:
        self.files, self.slots, self.codes, self.tasks = files, slots, codes, tasks
        self.kernels = kernels
        self.lock = threading.Lock()  # the value codes are shared: one thread adds at a time
        self.refused = False  # a value or row the dense scan does not take: polars decides
        self.failure: BaseException | None = None
        self.exceptions = 0
        # CSV: each scanning thread's codes of the text keys (csv_batches.KeyCodes) and its
        # per-code tables, made again when a key meets a new value.
        self.csv_keys = threading.local()
        self.kept_tables = threading.local()  # _tables' of each thread's last batch
        self.pending_rows = min(MAX_PENDING_ROWS, max(MIN_PENDING_ROWS,
                                                      PENDING_PER_SLOT * len(slots.slot_ban)))
        # The second passes of both threads tally into this one tally, a thread at a time: with
        # rows in no order each thread meets nearly every slot, and a tally each kept two
        # copies of every slot's record in memory (bench/README.md, "One tally for the rows
        # out of order"). A thread's own tally takes its batches in order.
        self.partitioned = _Tally(slots.slot_ban, len(files))
        self.partitioned_lock = threading.Lock()
        # tally_records' bit per place of a bucket (clear between calls; used under the lock)
        self.seen = np.zeros(max(1, (1 << PARTITION_SHIFT) >> 6), np.uint64)

    def run(self, tally_: _Tally) -> None:
        try:
            ahead = None  # the next task, taken while a small CSV file was read
            while not (self.refused or self.failure):
                task, ahead = ahead or self._take(), None
                if task is None:
                    if self._second_pass(tally_):
                        tally_.finish()
                    return
                i, groups, batches = task
                file = self.files[i]
                if file.csv is not None and batches is not None:  # a CSV file (_take)
                    if file.path.stat().st_size <= inv.LARGE_FILE_BYTES:
                        # A small file is read in a moment and tallied in another: the next
                        # file's reading begins now, while this one is tallied (else polars'
                        # threads wait for ours between the files of a folder of daily files).
                        ahead = self._take()
                    offset = 0
                    for frame in batches:
                        again = functools.partial(file.csv.rows, offset, frame.height)
                        if (self.refused or self.failure
                                or not self._csv_batch(tally_, i, frame, again)):
                            return
                        offset += frame.height
                    continue
                reader = file.reader()
                # Row group by row group (a batch's rows read again by its group and place).
                for g in groups:
                    for k, batch in enumerate(file.batches(reader, g)):
                        again = functools.partial(self._batch_again, i, g, k)
                        if (self.refused or self.failure
                                or not self._parquet_batch(tally_, i, batch, again)):
                            return
        except NotClean:
            self.refused = True
        except BaseException as exc:  # raised again by the caller
            self.failure = exc

    def _take(self) -> tuple[int, list[int], Iterator[pl.DataFrame] | None] | None:
        """The next task (a file, its row groups), with a CSV file's batches, which polars
        begins to read now; None when none is left."""
        try:
            i, groups = self.tasks.get_nowait()
        except queue.Empty:
            return None
        csv = self.files[i].csv
        return i, groups, None if csv is None else csv.collect_batches(CSV_BATCH_ROWS)

    def _tables(self, values: dict[str, Sequence[str | None]]) -> tuple[np.ndarray, ...]:
        """The per-code tables tally_batch takes, from each text column's values by code. A
        column's tables are kept by the thread while its values stay the same (a row group's
        batches each bring their dictionaries anew; a value's meaning never changes); only
        new ones are made, under the lock (the value codes are shared)."""
        codes = self.codes
        kept: dict[str, tuple[tuple[str | None, ...], tuple[np.ndarray, ...]]]
        kept = self.kept_tables.__dict__

        def tables(column: str, *made: tuple[Callable[[str | None], object], type]
                   ) -> tuple[np.ndarray, ...]:
            text = tuple(values[column])
            if column in kept and kept[column][0] == text:
                return kept[column][1]
            with self.lock:
                tables_ = tuple(table(text, meaning, dtype) for meaning, dtype in made)
                if column == "machine" and len(codes.machines) > MAX_ISSUING_TILLS:
                    raise NotClean("more tills than the issuing key holds")  # polars decides
            kept[column] = (text, tables_)
            return tables_

        (machines,) = tables("machine", (codes.machine, np.int32))
        return (
            *tables("invoice_date", (lambda v: codes.date(v)[0], np.int32),
                    (lambda v: codes.date(v)[1], np.int32)),
            *tables("seller_ban", (codes.seller, np.int32)),
            machines,
            *tables("status", (codes.status, np.int8)),
            *tables("upload_status", (codes.upload, np.bool_)),
        )

    def _parquet_batch(self, t: _Tally, i: int, batch: pa.RecordBatch,
                       again: Callable[[], pa.RecordBatch]) -> bool:
        """One Parquet batch tallied; `again` reads it again (for the rows a second pass hands
        back after the batch is let go)."""
        columns, one_values = self.files[i].columns, self.files[i].one_values
        coded = {c: _one_code(batch.num_rows, one_values[c]) if c in one_values
                 else _coded(batch, c, columns.get(c), self.kernels) for c in PER_ROW}
        per_code = self._tables({c: v for c, (_, v) in coded.items()})

        def taken(batch: pa.RecordBatch, rows: np.ndarray) -> pl.DataFrame:
            return _exception_rows(batch, rows, columns, i).with_columns(
                pl.lit(v, pl.String).alias(c) for c, v in one_values.items())

        return self._tally(t, i, batch.column(columns["invoice_number"]),
                           tuple(codes for codes, _ in coded.values()), per_code,
                           functools.partial(taken, batch),
                           lambda rows: taken(again(), rows))

    def _batch_again(self, i: int, group: int, k: int) -> pa.RecordBatch:
        """Batch k of row group `group` of file i, read again as run read it."""
        file = self.files[i]
        batches = file.batches(file.reader(), group, ahead=False)  # cut as run's were
        for batch in itertools.islice(batches, k, None):
            return batch
        raise AssertionError(f"{file.path}: row group {group} has no batch {k}")

    def _csv_batch(self, t: _Tally, i: int, frame: pl.DataFrame,
                   again: Callable[[], pl.DataFrame]) -> bool:
        """One CSV batch tallied; `again` reads it again (as _parquet_batch's). The text keys
        come as string_view columns (polars' own Arrow form, no copy), coded by this thread's
        KeyCodes."""
        mine = self.csv_keys
        if not hasattr(mine, "keys"):
            mine.keys = {c: KeyCodes(self.kernels) for c in TEXT_KEYS}
            mine.sizes, mine.tables = None, None
        newest = pl.CompatLevel.newest()
        keys = frame.select(PER_ROW).to_arrow(compat_level=newest)  # chunks as they are
        per_row = tuple(mine.keys[c].codes(keys.column(c)) for c in PER_ROW)
        sizes = tuple(len(mine.keys[c].texts) for c in TEXT_KEYS)
        if sizes != mine.sizes:  # a new value: its meaning looked up once (ValueCodes)
            mine.tables = self._tables({c: mine.keys[c].texts for c in TEXT_KEYS})
            mine.sizes = sizes
        numbers = frame["invoice_number"].to_arrow(compat_level=newest)

        def taken(frame: pl.DataFrame, rows: np.ndarray) -> pl.DataFrame:
            return frame[rows].select(pl.col(inv.RAW_COLUMNS).cast(pl.String),
                                      file=pl.lit(i, pl.UInt32))

        return self._tally(t, i, numbers, per_row, mine.tables,
                           functools.partial(taken, frame), lambda rows: taken(again(), rows))

    def _tally(self, t: _Tally, i: int, number_column: pa.Array, per_row: tuple[np.ndarray, ...],
               per_code: tuple[np.ndarray, ...], take: Callable[[np.ndarray], pl.DataFrame],
               again: Callable[[np.ndarray], pl.DataFrame]) -> bool:
        """One batch tallied; `take` gives raw rows of it while it is read, `again` after."""
        numbers = _number_buffers(number_column)
        if numbers is None:
            self.refused = True
            return False
        if not _in_order(numbers):
            return self._partitioned(t, i, numbers, per_row, per_code, take, again)
        # A batch in order after some out of order: theirs first, so that the batches they
        # came from are let go before this one is tallied (the order of the two tallies does
        # not change the result: the merge keeps a row per till where they differ).
        if not self._second_pass(t):
            return False
        slots, kernels = self.slots, self.kernels
        n = numbers[0]
        out = np.empty(n, np.int64)
        done, ne = 0, 0
        t.ready()
        while done < n:
            done, ne, t.counts.groups, left_out = kernels.tally_batch(
                *numbers, *per_row, *per_code,
                slots.track_slot, slots.track_first, slots.track_base, slots.track_span,
                slots.booklet_slot, t.owner, t.state, *t.counts.arguments(), out, ne, done,
            )
            t.rows[i] -= left_out  # rows of other BANs are not counted (as in fast_usage)
            if done < n:
                # Stopped at a full table of issuing groups (maybe at the first row): grow it.
                t.counts = kernels.issuing_grow(t.counts)
        t.rows[i] += n
        return self._excepted(t, take, out[:ne])

    def _excepted(self, t: _Tally, take: Callable[[np.ndarray], pl.DataFrame],
                  rows: np.ndarray) -> bool:
        """Rows of a batch (indices, in row order) left to polars; False past MAX_EXCEPTIONS."""
        if len(rows):
            with self.lock:
                self.exceptions += len(rows)
                if self.exceptions > MAX_EXCEPTIONS:
                    self.refused = True
                    return False
            t.exceptions.append(take(rows))
        return True

    @functools.cached_property
    def bucket_ends(self) -> np.ndarray:
        """Where each bucket's region of waiting records ends: room for its share of the slots'
        pending_rows, PENDING_SLACK times, and PENDING_BUCKET_ROWS more."""
        booklet_slot = self.slots.booklet_slot
        held = np.bincount(np.flatnonzero(booklet_slot >= 0) >> PARTITION_SHIFT,
                           minlength=(len(booklet_slot) >> PARTITION_SHIFT) + 1)
        share = PENDING_SLACK * self.pending_rows / max(1, int(held.sum()))
        # At least a record a bucket: a bucket that holds none would stop every first pass.
        return np.cumsum(np.ceil(held * share).astype(np.int64) + max(1, PENDING_BUCKET_ROWS))

    def _partitioned(self, t: _Tally, i: int, numbers: tuple[int, bool, np.ndarray, np.ndarray],
                     per_row: tuple[np.ndarray, ...], per_code: tuple[np.ndarray, ...],
                     take: Callable[[np.ndarray], pl.DataFrame],
                     again: Callable[[np.ndarray], pl.DataFrame]) -> bool:
        """A batch's first pass of the partitioned tally (slot_tally.partition_batch): its
        records wait, with those of the batches before, for one second pass (_second_pass),
        made when pending_rows would be passed, before a batch in order, and at the end; a
        bucket that fills before then has its own second pass."""
        slots, kernels = self.slots, self.kernels
        n = numbers[0]
        if t.waiting_rows + n > self.pending_rows and not self._second_pass(t):
            return False
        t.regions(self.bucket_ends)
        out = np.empty(n, np.int64)
        first, done, ne = t.waiting_rows, 0, 0
        t.waiting_batches.append((first, take))
        t.waiting_rows = first + n
        while True:
            done, m, ne, left_out = kernels.partition_batch(
                *numbers, *per_row, *per_code,
                slots.track_slot, slots.track_first, slots.track_base, slots.track_span,
                PARTITION_SHIFT, t.pending, t.fill, t.ends, out, ne, first, done)
            t.rows[i] -= left_out  # rows of other BANs are not counted (as in fast_usage)
            t.waiting += m
            if done == n:
                break
            if not self._second_pass(t, np.flatnonzero(t.fill == t.ends)):
                return False
        t.rows[i] += n
        t.waiting_batches[-1] = (first, again)  # the batch is let go: read again if need be
        return self._excepted(t, take, out[:ne])

    def _second_pass(self, t: _Tally, full: np.ndarray | None = None) -> bool:
        """The waiting records tallied bucket by bucket (slot_tally.tally_records), or those of
        the `full` buckets only (a slot's rows all wait in its one bucket, so each slot's rows
        are still tallied in row order; the other buckets wait on); a second till's rows
        handed to polars from their own batches."""
        if not t.waiting_batches:
            return True
        out = np.empty(max(t.waiting, 1), np.int64)  # pages touched only where written: few
        batches = t.waiting_batches
        if full is None:
            ne = self._tally_waiting(t, t.fill, t.ends, 0, out, 0)
            t.emptied()
        else:
            ne = 0
            for k in full:
                begin = int(t.ends[k - 1]) if k else 0
                ne = self._tally_waiting(t, t.fill[k:k + 1], t.ends[k:k + 1], begin, out, ne)
                t.waiting -= int(t.fill[k]) - begin
                t.fill[k] = begin
        if not ne:
            return True
        rows = np.sort(out[:ne])  # bucket order: each batch's rows back in row order
        firsts = np.array([first for first, _ in batches], np.int64)
        which = np.searchsorted(firsts, rows, side="right") - 1
        bounds = np.searchsorted(which, np.arange(len(batches) + 1))
        return all(self._excepted(t, take, rows[lo:hi] - first)
                   for (first, take), lo, hi in zip(batches, bounds[:-1], bounds[1:], strict=True)
                   if hi > lo)

    def _tally_waiting(self, t: _Tally, fill: np.ndarray, ends: np.ndarray, start: int,
                       out: np.ndarray, ne: int) -> int:
        """The records of the buckets `fill` and `ends` are of (the first from `start`)
        tallied, the table of issuing groups grown as it fills; the exceptions now in out."""
        bucket, done = 0, start
        with self.partitioned_lock:  # the other thread goes on with its first passes
            into = self.partitioned.ready()
            while True:
                bucket, done, ne, into.counts.groups = self.kernels.tally_records(
                    t.pending, fill, ends, bucket, done, PARTITION_SHIFT, self.seen,
                    self.slots.booklet_seat,
                    self.slots.slot_track_code, into.owner, into.state,
                    *into.counts.arguments(), out, ne)
                if bucket == len(fill):
                    return ne
                into.counts = self.kernels.issuing_grow(into.counts)  # a full table of groups


def _exception_rows(batch: pa.RecordBatch, rows: np.ndarray, columns: dict[str, str],
                    file: int) -> pl.DataFrame:
    """The raw text of some rows of a Parquet batch, as raw_usage.raw_frames gives it."""
    indices = pa.array(rows)
    data = {}
    for c in inv.RAW_COLUMNS:
        if c in columns:
            col = batch.column(columns[c])
            if pa.types.is_string_view(col.type):  # pyarrow's take has no kernel for views
                col = col.cast(pa.large_string())
            col = col.take(indices)
            if pa.types.is_dictionary(col.type):
                col = col.dictionary_decode()
            data[c] = pl.Series(c, _as_text(col, c), pl.String)
        else:
            data[c] = pl.Series(c, [None] * len(rows), pl.String)
    return pl.DataFrame(data).with_columns(file=pl.lit(file, pl.UInt32))


def _by_machine(slots: Slots, t: _Tally, machines: pl.Series, take: np.ndarray) -> pl.DataFrame:
    """The rows of by_machine for the slots `take` marks: filtered and named by polars (numpy's
    boolean indexing of each of nine arrays of millions is slower)."""
    masks, live_rows = t.usage_columns()
    per_slot = pl.DataFrame({
        "ban": slots.slot_ban, "track": slots.slot_track, "booklet": slots.slot_booklet,
        "machine": np.ascontiguousarray(t.slot_machine),
        **dict(zip(USAGE_MASKS, masks, strict=True)), "live_rows": live_rows,
        "take": take,
    })
    return per_slot.lazy().filter("take").select(
        pl.lit(pl.Series(slots.bans, dtype=pl.String)).gather("ban").alias("seller_ban"),
        pl.lit(pl.Series(slots.tracks, dtype=pl.String)).gather("track").alias("track"),
        "booklet",
        pl.lit(machines).gather("machine").alias("machine"),
        *USAGE_MASKS,
        "live_rows",
    ).collect()


def _merge(slots: Slots, codes: ValueCodes, period: Period, files: list[_File],
           tallies: list[_Tally], bans: pl.Series | None) -> Scanned | None:
    machines = pl.Series("machine", list(codes.machines), pl.String)
    # Fold the tallies into the first where a booklet had one till in both (nearly always); a
    # booklet two tallies saw with different tills keeps a row per till. A tally never made
    # (a thread that met no batch in order) has nothing to fold.
    first, *rest = [t for t in tallies if t.tallied] or [tallies[0].ready()]
    apart = []
    for t in rest:
        # Slots both saw with different tills keep their own rows; the rest of t folds into
        # first in place (fancy indexing copied every mask).
        clash = (first.slot_machine != t.slot_machine) & (first.slot_machine >= 0)
        clash &= t.slot_machine >= 0
        records, machine = t.records, t.slot_machine
        if clash.any():  # new arrays: the frame of the clashes may share t's memory
            apart.append(_by_machine(slots, t, machines, clash))
            records = np.where(clash[:, None], np.uint64(0), records)
            machine = np.where(clash, -1, machine)
        # The masks OR-ed, the live rows added, in place: a record is the masks and the live
        # rows (SLOT_WORDS), so the whole records are OR-ed in one contiguous pass (a pass over
        # the masks' columns alone steps through every record) and the live rows put right.
        live = len(USAGE_MASKS)
        first_live = first.records[:, live].copy()
        np.bitwise_or(first.records, records, out=first.records)
        np.add(first_live, records[:, live], out=first.records[:, live])
        # A slot's till is -1 where unseen, else the same in both (clashes are out): the max.
        np.maximum(first.slot_machine, machine, out=first.slot_machine)
    epoch_day = (period.first_day - dt.date(1970, 1, 1)).days
    keys = np.concatenate([t.issuing[0::2][t.issuing[0::2] >= 0] for t in tallies])
    counts = np.concatenate([t.issuing[1::2][t.issuing[0::2] >= 0] for t in tallies])
    if len(tallies) > 1 and len(keys):  # a key both threads counted: summed on integers
        order = np.argsort(keys, kind="stable")
        keys, counts = keys[order], counts[order]
        starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
        keys, counts = keys[starts], np.add.reduceat(counts, starts)
    issuing = pl.DataFrame({
        "seller_ban": pl.Series(slots.bans, dtype=pl.String).gather(keys >> 42),
        "machine": machines.gather((keys >> 18) & 0xFFFFFF),
        "track": _TRACK_NAMES.gather((keys >> 8) & 0x3FF),
        "invoice_date": pl.Series((keys & 0xFF) + epoch_day).cast(pl.Int32).cast(pl.Date),
        "invoices": counts.astype(np.uint32),
    }, schema=_ISSUING_SCHEMA)
    counted = _counted(files, [sum(t.rows[i] for t in tallies) for i in range(len(files))])
    exceptions = [e for t in tallies for e in t.exceptions]

    def used_slots() -> pl.DataFrame:  # one row a slot some row was tallied in
        used, far = (first.records[:, USAGE_MASKS.index(m)] for m in ("used_mask", "far_mask"))
        return _by_machine(slots, first, machines, (used | far) != 0)

    if not exceptions and not apart:  # every row in a slot: by_machine made only if asked
        masks, live_rows = first.usage_columns()
        return Scanned(issuing, counted, ByPosition.of(slots, masks, live_rows,
                                                   np.ascontiguousarray(first.slot_machine),
                                                   machines), used_slots)
    by_machine = pl.concat([used_slots(), *apart])
    foreign = pl.DataFrame(schema=FOREIGN_SCHEMA)
    if exceptions:
        groups = group_raw_rows([e.lazy() for e in exceptions])
        if groups is None:
            return None
        extra = usage_from_groups(groups, [f.path for f in files], period, bans)
        if extra is None:
            return None
        by_machine = pl.concat([by_machine, extra[0].cast(by_machine.schema)])
        issuing = pl.concat([issuing, extra[1].cast(issuing.schema)])
        foreign = extra[3]
    if exceptions or apart:  # else every (seller, track, booklet, till) has one row already
        by_machine = fold_usage(by_machine.lazy(), BY_MACHINE_KEYS).collect()
    if exceptions:
        issuing = issuing.group_by(_ISSUING_KEYS).agg(pl.col("invoices").sum().cast(pl.UInt32))
    return Scanned(issuing, counted, None, lambda: by_machine, foreign)


def _counted(files: list[_File], rows: list[int]) -> pl.DataFrame:
    """Rows read per file, as a group-by of the rows gives it (files without rows left out)."""
    return pl.DataFrame({"source": [str(f.path) for f in files], "rows": rows},
                        schema={"source": pl.String, "rows": pl.UInt32}
                        ).filter(pl.col("rows") > 0)
