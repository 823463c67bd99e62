"""The dense scan: Parquet invoices tallied straight into the allocations' booklets.

The allocations say which booklets can be used at all, so every (track, booklet) of the period
gets a slot in a dense table, and each invoice row is tallied into its slot by the compiled loop
in tally.py: no hash table per row, memory proportional to the allocations. The text columns are
read as Parquet dictionary codes (pyarrow), so only their few distinct values are ever looked at,
here in Python once each and then again, as the authority, by raw_usage.key_map (the same polars
expressions as validation). The few rows the dense model does not cover (outside the
allocations, another seller's number, a second till in one booklet) go through the polars
group-by of raw_usage and are merged in.

Returns None whenever the input is not plainly clean Parquet text, and reconcile then takes the
polars paths, which report every problem with file, line and field.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import queue
import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from . import invoices as inv
from . import tally
from .allocations import PARQUET_MAGIC
from .booklets import LIVE_STATUSES, allocation_booklets
from .period import Period, period_index
from .raw_usage import TEXT_KEYS, Usage, group_raw_rows, key_map, usage_from_groups

BATCH_ROWS = 1 << 19
MAX_SLOTS = 64_000_000  # 256 MB of slot table; a wider spread of booklets takes the polars path
MAX_EXCEPTIONS = 2_000_000  # rows left to polars before the dense scan is not worth it
_READ_AHEAD = 3  # batches decoded ahead by the reader thread

_ISO = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_COMPACT = re.compile(r"^[0-9]{8}$")
_MASKS = ("used_mask", "in_period_mask", "adjacent_mask", "live_mask", "void_mask", "failed_mask")
_BY_MACHINE_KEYS = ("seller_ban", "track", "booklet", "machine")
_ISSUING_KEYS = ("seller_ban", "machine", "invoice_date")
_ISSUING_SCHEMA = {"seller_ban": pl.String, "machine": pl.String, "invoice_date": pl.Date,
                   "invoices": pl.UInt32}


class _NotClean(Exception):
    """A value the dense scan does not take as it is: the polars paths decide."""


@dataclass
class _Slots:
    """The period's booklets as dense slots, and per slot what the scan found."""

    tracks: list[str]
    bans: list[str]
    track_slot: np.ndarray  # 26*26 track codes → track index or -1
    track_first: np.ndarray  # per track: first booklet number
    track_base: np.ndarray  # per track: where its booklets start in booklet_slot
    track_span: np.ndarray
    booklet_slot: np.ndarray
    slot_track: np.ndarray
    slot_booklet: np.ndarray
    slot_ban: np.ndarray  # index into bans; -2 when two sellers hold the booklet
    slot_machine: np.ndarray = field(init=False)
    masks: list[np.ndarray] = field(init=False)
    live_rows: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        n = len(self.slot_ban)
        self.slot_machine = np.full(n, -1, np.int32)
        self.masks = [np.zeros(n, np.uint64) for _ in _MASKS]
        self.live_rows = np.zeros(n, np.int64)


def _slots(allocations: pl.DataFrame) -> _Slots | None:
    booklets = (
        allocation_booklets(allocations)
        .group_by("track", "booklet")
        .agg(ban=pl.col("ban").first(), sellers=pl.col("ban").n_unique())
        .sort("track", "booklet")
    )
    tracks = sorted(booklets["track"].unique().to_list())
    bans = sorted(booklets["ban"].unique().to_list())
    spans = booklets.group_by("track").agg(
        first=pl.col("booklet").min(), span=pl.col("booklet").max() - pl.col("booklet").min() + 1
    ).sort("track")
    if spans["span"].sum() > MAX_SLOTS:
        return None
    track_slot = np.full(26 * 26, -1, np.int32)
    for k, track in enumerate(tracks):
        track_slot[(ord(track[0]) - 65) * 26 + ord(track[1]) - 65] = k
    first = spans["first"].to_numpy().astype(np.int64)
    span = spans["span"].to_numpy().astype(np.int64)
    base = np.concatenate([[0], np.cumsum(span)[:-1]]).astype(np.int64)
    track_index = booklets["track"].replace_strict(tracks, range(len(tracks)),
                                                   return_dtype=pl.Int64).to_numpy()
    booklet = booklets["booklet"].to_numpy().astype(np.int64)
    booklet_slot = np.full(int(span.sum()), -1, np.int32)
    booklet_slot[base[track_index] + booklet - first[track_index]] = np.arange(len(booklet),
                                                                               dtype=np.int32)
    slot_ban = booklets["ban"].replace_strict(bans, range(len(bans)),
                                              return_dtype=pl.Int32).to_numpy().copy()
    slot_ban[booklets["sellers"].to_numpy() > 1] = -2  # shared: every row goes to polars
    return _Slots(tracks, bans, track_slot, first, base, span, booklet_slot,
                  track_index.astype(np.int32), booklet, slot_ban)


class _Codes:
    """Per column, each distinct raw value seen once: its meaning for the tally."""

    def __init__(self, period: Period, slots: _Slots, filtered: bool) -> None:
        self.period = period
        self.p = period_index(period)
        self.ban_index = {b: i for i, b in enumerate(slots.bans)}
        self.filtered = filtered
        self.dates: dict[str | None, tuple[int, int, dt.date]] = {}
        self.sellers: dict[str | None, int] = {}
        self.machines: dict[str | None, int] = {}
        self.statuses: dict[str | None, tuple[int, str]] = {}
        self.uploads: dict[str | None, tuple[bool, str | None]] = {}

    def date(self, raw: str | None) -> tuple[int, int, dt.date]:
        if raw not in self.dates:
            try:
                if raw is None:
                    raise ValueError
                if _ISO.match(raw):
                    day = dt.date.fromisoformat(raw)
                elif _COMPACT.match(raw):
                    day = dt.date(int(raw[:4]), int(raw[4:6]), int(raw[6:]))
                else:
                    raise ValueError
            except ValueError:
                raise _NotClean(raw) from None
            offset = day.year * 6 + (day.month - 1) // 2 - self.p
            self.dates[raw] = (offset, (day - self.period.first_day).days if offset == 0 else 0,
                               day)
        return self.dates[raw]

    def seller(self, raw: str | None) -> int:
        if raw not in self.sellers:
            if raw is None:
                raise _NotClean(raw)
            known = self.ban_index.get(raw)
            self.sellers[raw] = (known if known is not None
                                 else tally.BAN_FILTERED if self.filtered else tally.BAN_OTHER)
        return self.sellers[raw]

    def machine(self, raw: str | None) -> int:
        if raw not in self.machines:
            if raw is not None and (not raw or raw != raw.strip()):
                raise _NotClean(raw)  # needs normalising: the polars path does that
            self.machines[raw] = len(self.machines)
        return self.machines[raw]

    def status(self, raw: str | None) -> int:
        if raw not in self.statuses:
            norm = inv.STATUSES.get(raw.lower()) if raw and raw == raw.strip() else None
            if norm is None:
                raise _NotClean(raw)
            klass = (tally.STATUS_LIVE if norm in LIVE_STATUSES
                     else tally.STATUS_VOID if norm == "voided" else 0)
            self.statuses[raw] = (klass, norm)
        return self.statuses[raw][0]

    def upload(self, raw: str | None) -> bool:
        if raw not in self.uploads:
            norm = None
            if raw is not None:
                norm = inv.UPLOAD_STATUSES.get(raw.lower()) if raw and raw == raw.strip() else None
                if norm is None:
                    raise _NotClean(raw)
            self.uploads[raw] = (norm == "failed", norm)
        return self.uploads[raw][0]

    def confirmed(self) -> bool:
        """Whether polars' validation (raw_usage.key_map) agrees with every value taken here."""
        seen: dict[str, dict[str | None, object]] = {
            "invoice_date": {raw: v[2] for raw, v in self.dates.items()},
            "seller_ban": {raw: raw for raw in self.sellers},
            "machine": {raw: raw for raw in self.machines},
            "status": {raw: v[1] for raw, v in self.statuses.items()},
            "upload_status": {raw: v[1] for raw, v in self.uploads.items()},
        }
        for column, values in seen.items():
            if not values:
                continue
            frame = pl.DataFrame({column: list(values)}, schema={column: pl.String})
            mapping = key_map(frame, column)
            if mapping is None:
                return False
            for raw, norm in mapping.iter_rows():
                if raw in values and values[raw] != norm:
                    return False
        return True


def _columns(path: Path) -> dict[str, str] | None:
    """Normal column name → the file's own, if every column is text and the required ones are
    there; None otherwise."""
    with path.open("rb") as fh:
        if fh.read(len(PARQUET_MAGIC)) != PARQUET_MAGIC:
            return None
    schema = pq.read_schema(path)
    if any(not (pa.types.is_string(t) or pa.types.is_large_string(t)) for t in schema.types):
        return None
    names = {inv.normal_name(n): n for n in schema.names}
    if any(c not in names for c in inv.REQUIRED):
        return None
    return {c: names[c] for c in inv.RAW_COLUMNS if c in names}


def _batches(files: list[tuple[Path, dict[str, str]]]) -> Iterator[tuple[int, pa.RecordBatch]]:
    """The files' batches, decoded by a reader thread while the caller tallies the last one."""
    out: queue.Queue[tuple[int, pa.RecordBatch] | BaseException | None] = queue.Queue(_READ_AHEAD)
    stop = threading.Event()

    def read() -> None:
        try:
            for i, (path, columns) in enumerate(files):
                text = [columns[c] for c in TEXT_KEYS if c in columns]
                reader = pq.ParquetFile(path, read_dictionary=text)
                for batch in reader.iter_batches(BATCH_ROWS, columns=list(columns.values())):
                    if stop.is_set():
                        return
                    out.put((i, batch))
            out.put(None)
        except BaseException as exc:  # handed to the caller, raised there
            out.put(exc)

    thread = threading.Thread(target=read, name="blanktrack-parquet-reader", daemon=True)
    thread.start()
    try:
        while (item := out.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a reader waiting on a full queue
            with contextlib.suppress(queue.Empty):
                out.get(timeout=0.05)
        thread.join()


def _coded(batch: pa.RecordBatch, name: str | None) -> tuple[np.ndarray, list[str | None]]:
    """(per-row codes, the value of each code) of one text column of a batch; a null is one
    more code, and a column the file lacks is all null."""
    if name is None:
        return np.zeros(batch.num_rows, np.int32), [None]
    column = batch.column(name)
    if not pa.types.is_dictionary(column.type):
        column = column.dictionary_encode()
    values: list[str | None] = column.dictionary.to_pylist()
    codes = column.indices.to_numpy(zero_copy_only=False).astype(np.int32, copy=False)
    if column.null_count:
        valid = column.is_valid().to_numpy(zero_copy_only=False)
        codes = np.where(valid, codes, len(values)).astype(np.int32)
        values.append(None)
    return codes, values


def _table(values: list[str | None], meaning, dtype) -> np.ndarray:
    return np.array([meaning(v) for v in values], dtype)


def _number_buffers(batch: pa.RecordBatch, name: str) -> tuple[np.ndarray, np.ndarray] | None:
    column = batch.column(name)
    if column.null_count:
        return None
    wide = pa.types.is_large_string(column.type)
    _, offsets, data = column.buffers()
    offsets_np = np.frombuffer(offsets, np.int64 if wide else np.int32)
    offsets_np = offsets_np[column.offset:column.offset + len(column) + 1]
    data_np = np.frombuffer(data, np.uint8) if data is not None else np.zeros(0, np.uint8)
    return offsets_np, data_np


def dense_usage(paths: Sequence[str | Path], period: Period, allocations: pl.DataFrame,
                bans: pl.Series | None) -> Usage | None:
    """(by_machine, issuing, counted) as raw_usage.fast_usage computes them, or None."""
    files = []
    for p in map(Path, paths):
        columns = _columns(p)
        if columns is None:
            return None
        files.append((p, columns))
    slots = _slots(allocations)
    if slots is None:
        return None
    codes = _Codes(period, slots, filtered=bans is not None)
    rows = [0] * len(files)
    exceptions: list[pl.DataFrame] = []
    n_exceptions = 0
    iss_keys = np.full(1 << 12, -1, np.int64)
    iss_counts = np.zeros(1 << 12, np.int64)
    iss_fill = 0
    try:
        for i, batch in _batches(files):
            columns = files[i][1]
            numbers = _number_buffers(batch, columns["invoice_number"])
            if numbers is None:
                return None
            date_c, date_v = _coded(batch, columns["invoice_date"])
            ban_c, ban_v = _coded(batch, columns["seller_ban"])
            mach_c, mach_v = _coded(batch, columns.get("machine"))
            stat_c, stat_v = _coded(batch, columns["status"])
            upl_c, upl_v = _coded(batch, columns.get("upload_status"))
            out = np.empty(batch.num_rows, np.int64)
            per_code = (
                _table(date_v, lambda v: codes.date(v)[0], np.int32),
                _table(date_v, lambda v: codes.date(v)[1], np.int32),
                _table(ban_v, codes.seller, np.int32),
                _table(mach_v, codes.machine, np.int32),
                _table(stat_v, codes.status, np.int8),
                _table(upl_v, codes.upload, np.bool_),
            )
            done, ne = 0, 0
            while done < batch.num_rows:
                if done:
                    iss_keys, iss_counts = tally.issuing_grow(iss_keys, iss_counts)
                done, ne, iss_fill = tally.tally_batch(
                    *numbers, date_c, ban_c, mach_c, stat_c, upl_c, *per_code,
                    slots.track_slot, slots.track_first, slots.track_base, slots.track_span,
                    slots.booklet_slot, slots.slot_ban, slots.slot_machine,
                    *slots.masks, slots.live_rows, iss_keys, iss_counts, iss_fill, out, ne, done,
                )
            rows[i] += batch.num_rows
            if ne:
                n_exceptions += ne
                if n_exceptions > MAX_EXCEPTIONS:
                    return None
                exceptions.append(_exception_rows(batch, out[:ne], columns, i))
    except _NotClean:
        return None
    if not codes.confirmed():
        return None
    found = iss_keys >= 0
    return _merge(slots, codes, period, files, rows, exceptions, bans,
                  iss_keys[found], iss_counts[found])


def _exception_rows(batch: pa.RecordBatch, index: np.ndarray, columns: dict[str, str],
                    file: int) -> pl.DataFrame:
    taken = batch.take(pa.array(index))
    data = {}
    for c in inv.RAW_COLUMNS:
        if c in columns:
            col = taken.column(columns[c])
            if pa.types.is_dictionary(col.type):
                col = col.dictionary_decode()
            data[c] = pl.Series(c, col.to_pylist(), pl.String)
        else:
            data[c] = pl.Series(c, [None] * len(index), pl.String)
    return pl.DataFrame(data).with_columns(file=pl.lit(file, pl.UInt32))


def _merge(slots: _Slots, codes: _Codes, period: Period, files: list[tuple[Path, dict[str, str]]],
           rows: list[int], exceptions: list[pl.DataFrame], bans: pl.Series | None,
           iss_keys: np.ndarray, iss_counts: np.ndarray) -> Usage | None:
    machines = pl.Series("machine", list(codes.machines), pl.String)
    ban_names = pl.Series("seller_ban", slots.bans, pl.String)
    used = slots.masks[0] != 0
    by_machine = pl.DataFrame({
        "seller_ban": ban_names.gather(slots.slot_ban[used]),
        "track": pl.Series(slots.tracks, dtype=pl.String).gather(slots.slot_track[used]),
        "booklet": slots.slot_booklet[used],
        "machine": machines.gather(slots.slot_machine[used]),
        **{name: mask[used] for name, mask in zip(_MASKS, slots.masks, strict=True)},
        "live_rows": slots.live_rows[used],
    })
    epoch_day = (period.first_day - dt.date(1970, 1, 1)).days
    issuing = pl.DataFrame({
        "seller_ban": ban_names.gather(iss_keys >> 40),
        "machine": machines.gather((iss_keys >> 8) & 0xFFFFFFFF),
        "invoice_date": pl.Series((iss_keys & 0xFF) + epoch_day).cast(pl.Int32).cast(pl.Date),
        "invoices": iss_counts.astype(np.uint32),
    }, schema=_ISSUING_SCHEMA)
    if exceptions:
        groups = group_raw_rows([e.lazy() for e in exceptions])
        if groups is None:
            return None
        extra = usage_from_groups(groups, [p for p, _ in files], period, bans)
        if extra is None:
            return None
        by_machine = pl.concat([by_machine, extra[0].cast(by_machine.schema)])  # type: ignore[arg-type]
        issuing = pl.concat([issuing, extra[1].cast(issuing.schema)])  # type: ignore[arg-type]
        by_machine = by_machine.group_by(_BY_MACHINE_KEYS).agg(
            *[pl.col(m).bitwise_or() for m in _MASKS], pl.col("live_rows").sum())
        issuing = issuing.group_by(_ISSUING_KEYS).agg(pl.col("invoices").sum().cast(pl.UInt32))
    counted = pl.DataFrame({"source": [str(p) for p, _ in files], "rows": rows},
                           schema={"source": pl.String, "rows": pl.UInt32})
    return by_machine, issuing, counted
