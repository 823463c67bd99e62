"""The dense scan's partitioned tally (a batch out of order: slot_tally.partition_batch,
tally_records) held directly to the plain model of spec §3 (tests/reference.py).

The two-pass path is forced on every batch, and every row is asserted to have gone through
its first pass (not a silent fallback to the single pass or to polars); buckets of one slot,
of two, of the default size, and one bucket for all.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from reference import Allocation, Invoice
from reference_period import (
    BRANCH,
    HEAD,
    OTHER,
    PERIOD,
    STRANGER,
    as_read,
    canonical_frame,
    chunks,
    ordered,
    periods,
    reconciled,
    write_allocations,
    write_canonical,
)
from test_reference import check

from blanktrack.usage import csv_batches, dense, native_loop

D = dt.date
WHOLE = Allocation(HEAD, "07", PERIOD, "AB", 0, 49)
TWELVE_BOOKLETS = Allocation(HEAD, "07", PERIOD, "AB", 0, 599)
BIG = 1 << 22  # rows waiting for the second pass: more than any example has


@contextmanager
def partitioned(shift: int, pending: int = BIG, in_order: str = "never",
                bucket_rows: int = dense.PENDING_BUCKET_ROWS) -> Iterator[dict[str, list[int]]]:
    """Batches through the partitioned tally, in buckets of 2**shift booklet places, with
    `pending` rows a thread waiting for the second pass and regions of `bucket_rows` records a
    bucket more than its share; every batch (in_order "never") or every other one
    ("alternate": the rest through the single pass). Yields the rows each first pass was given
    (a batch's rows once, however often a full bucket stopped it) and each call of the single
    pass tallied, the records of each second pass (and of each pass of full buckets), the
    grown issuing tables, the batches read again, and which tallies the merge was given were
    made (the threads' own, then the one their second passes share)."""
    kernels = native_loop.kernels()
    seen: dict[str, list[int]] = {"rows": [], "single": [], "passes": [], "grown": [],
                                  "declined": [], "again": [], "buckets": [], "made": []}
    first_pass, second_pass, single = (kernels.partition_batch, dense._Scan._second_pass,
                                       kernels.tally_batch)
    again = dense._Scan._batch_again
    grow, scan, merge = kernels.issuing_grow, dense.scan, dense._merge
    batches = iter(range(1 << 30))

    def scanned(*args, **kwargs):  # type: ignore[no-untyped-def]
        result = scan(*args, **kwargs)
        seen["declined"].append(result is None)
        return result

    batch_out: dict[int, np.ndarray] = {}  # per scanning thread: its batch's `out`

    def counted(*args):  # type: ignore[no-untyped-def]
        # A batch's first call, told by its own `out` array (held here, so not reused): later
        # calls go on after a full bucket, and may start at row 0 again when the batch's first
        # row found its bucket full. Per thread: the two threads' batches interleave.
        thread = threading.get_ident()
        if args[-4] is not batch_out.get(thread):
            batch_out[thread] = args[-4]
            seen["rows"].append(args[0])
        return first_pass(*args)

    def second(self, t, full=None):  # type: ignore[no-untyped-def]
        if t.waiting_batches:
            took = t.fill - np.r_[0, t.ends[:-1]]
            seen["passes" if full is None else "buckets"].append(
                int(took.sum() if full is None else took[full].sum()))
        return second_pass(self, t, full)

    def merged(slots, codes, period, files, tallies, bans):  # type: ignore[no-untyped-def]
        seen["made"] = [t.tallied for t in tallies]
        return merge(slots, codes, period, files, tallies, bans)

    def read_again(self, i, group, k):  # type: ignore[no-untyped-def]
        seen["again"].append(k)
        return again(self, i, group, k)

    def growing(counts: native_loop.IssuingCounts) -> native_loop.IssuingCounts:
        seen["grown"].append(counts.groups)
        return grow(counts)

    def single_pass(*args):  # type: ignore[no-untyped-def]
        if in_order == "never":
            raise AssertionError("the single pass ran")
        result = single(*args)
        seen["single"].append(result[0] - args[-1])  # rows done (a full table stops short)
        return result

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(dense, "_in_order",
                   lambda numbers: in_order != "never" and next(batches) % 2 == 1)
        mp.setattr(dense, "PARTITION_SHIFT", shift)
        mp.setattr(dense, "MIN_PENDING_ROWS", pending)
        mp.setattr(dense, "MAX_PENDING_ROWS", pending)
        mp.setattr(dense, "PENDING_BUCKET_ROWS", bucket_rows)
        mp.setattr(dense._Scan, "_batch_again", read_again)
        mp.setattr(kernels, "partition_batch", counted)
        mp.setattr(dense._Scan, "_second_pass", second)
        mp.setattr(kernels, "issuing_grow", growing)
        mp.setattr(kernels, "tally_batch", single_pass)
        mp.setattr(dense, "scan", scanned)
        mp.setattr(dense, "_merge", merged)
        yield seen


# One row.
ONE_ROW = ([WHOLE], [Invoice("AB00000005", D(2024, 1, 2), HEAD, "issued", "accepted", "POS-1")])
# Every row an exception: outside the allocations, a seller without any, a malformed BAN's
# number in another seller's booklet.
ALL_EXCEPTIONS = ([WHOLE, Allocation(OTHER, "07", PERIOD, "CD", 0, 49)],
                  [Invoice("AB00000100", D(2024, 1, 2), HEAD, "issued"),
                   Invoice("AB00000007", D(2024, 1, 3), STRANGER, "issued"),
                   Invoice("CD00000008", D(2024, 2, 3), HEAD, "voided"),
                   Invoice("XA00000009", D(2024, 2, 4), BRANCH, "cancelled")])
# A second till in one booklet, rows shuffled: the till met first in row order keeps the slot.
TWO_TILLS = ([WHOLE], [Invoice(f"AB{k:08d}", D(2024, 1, 1 + k % 28), HEAD,
                               ("issued", "cancelled", "voided")[k % 3],
                               (None, "accepted", "failed")[k % 3], f"POS-{k % 2}")
                       for k in range(0, 40, 3)])
# One number over and over, and numbers outside every allocation (found by hypothesis in CI).
REPEATED_NUMBER = ([Allocation(HEAD, "07", PERIOD, "AB", 0, 0),
                    Allocation(HEAD, "07", PERIOD, "AB", 125, 195, reported_by="VAC-2")],
                   [Invoice("AB00000000", D(2024, 1, 1), HEAD, "issued", None, "POS-1")] * 6
                   + [Invoice("AB00000050", D(2024, 1, 1), HEAD, "issued", None, "POS-1")] * 2)
# Twelve booklets, a till each: twelve issuing groups, more than the table holds at first.
MANY_GROUPS = ([TWELVE_BOOKLETS], [Invoice(f"AB{50 * b + d:08d}", D(2024, 1 + d % 2, 1 + d),
                                           HEAD, "issued", "accepted", f"POS-{b}")
                                   for b in range(12) for d in range(3)])


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(period=periods(), fmt=st.sampled_from(("csv", "parquet")),
       dates=st.sampled_from(("iso", "compact", "date", "datetime", "iso-categorical")),
       order=st.sampled_from(("till", "date", "random")), seed=st.integers(0, 2**16),
       parts=st.integers(1, 3), optional=st.booleans(),
       engine=st.sampled_from(("dense", "dense-in-small-batches")),
       split=st.sampled_from(("none", "none", "allocation", "booklet")),
       ban=st.sampled_from((None, None, None, HEAD, BRANCH, OTHER)),
       shift=st.sampled_from((0, 1, dense.PARTITION_SHIFT, 31)),
       pending=st.sampled_from((1, 7, BIG)), in_order=st.sampled_from(("never", "alternate")),
       bucket_rows=st.sampled_from((1, 2, dense.PENDING_BUCKET_ROWS)))
@example(period=ONE_ROW, fmt="parquet", dates="iso", order="till", seed=0, parts=1,
         optional=True, engine="dense", split="none", ban=None, shift=0, pending=1,
         in_order="never", bucket_rows=256)
@example(period=ALL_EXCEPTIONS, fmt="parquet", dates="date", order="random", seed=1, parts=1,
         optional=True, engine="dense", split="none", ban=None, shift=13, pending=BIG,
         in_order="never", bucket_rows=256)
@example(period=ALL_EXCEPTIONS, fmt="csv", dates="iso", order="random", seed=2, parts=2,
         optional=False, engine="dense-in-small-batches", split="none", ban=HEAD, shift=0,
         pending=BIG, in_order="never", bucket_rows=256)
@example(period=ALL_EXCEPTIONS, fmt="parquet", dates="iso", order="random", seed=8, parts=1,
         optional=True, engine="dense-in-small-batches", split="none", ban=None, shift=1,
         pending=1, in_order="alternate", bucket_rows=256)
@example(period=TWO_TILLS, fmt="parquet", dates="iso", order="random", seed=3, parts=1,
         optional=True, engine="dense", split="booklet", ban=None, shift=0, pending=BIG,
         in_order="never", bucket_rows=256)
# One booklet's rows, of two tills, over batches that wait together (or in turn with the single
# pass): the till met first in row order keeps it, whichever batch its rows are in.
@example(period=TWO_TILLS, fmt="csv", dates="iso", order="random", seed=4, parts=1,
         optional=True, engine="dense-in-small-batches", split="none", ban=None, shift=31,
         pending=BIG, in_order="never", bucket_rows=256)
@example(period=TWO_TILLS, fmt="parquet", dates="iso", order="random", seed=9, parts=1,
         optional=True, engine="dense-in-small-batches", split="none", ban=None, shift=0,
         pending=7, in_order="alternate", bucket_rows=256)
@example(period=MANY_GROUPS, fmt="parquet", dates="iso", order="random", seed=5, parts=1,
         optional=True, engine="dense", split="none", ban=None, shift=1, pending=BIG,
         in_order="never", bucket_rows=256)
# The table of issuing groups grown in a second pass over several batches' records.
@example(period=MANY_GROUPS, fmt="parquet", dates="date", order="random", seed=6, parts=2,
         optional=True, engine="dense-in-small-batches", split="none", ban=None, shift=31,
         pending=BIG, in_order="never", bucket_rows=256)
# A full bucket: regions of a record a bucket, every few rows a second pass mid-batch, a
# second till's rows among them and in batches let go (read again), the issuing groups grown.
@example(period=TWO_TILLS, fmt="parquet", dates="iso", order="random", seed=10, parts=1,
         optional=True, engine="dense-in-small-batches", split="none", ban=None, shift=31,
         pending=BIG, in_order="never", bucket_rows=1)
@example(period=MANY_GROUPS, fmt="parquet", dates="date", order="random", seed=11, parts=2,
         optional=True, engine="dense", split="none", ban=None, shift=0, pending=BIG,
         in_order="alternate", bucket_rows=1)
@example(period=ALL_EXCEPTIONS, fmt="csv", dates="iso", order="random", seed=12, parts=1,
         optional=True, engine="dense-in-small-batches", split="none", ban=BRANCH, shift=1,
         pending=7, in_order="never", bucket_rows=1)
# One number six times in a one-number booklet, in buckets of a record: the booklet's bucket
# fills, and a later batch's first row finds it full (its first pass starts at row 0 twice).
@example(period=REPEATED_NUMBER, fmt="csv", dates="iso", order="till", seed=0, parts=1,
         optional=False, engine="dense-in-small-batches", split="none", ban=None, shift=0,
         pending=BIG, in_order="never", bucket_rows=1)
def test_the_partitioned_tally_follows_the_model(period, fmt, dates, order, seed, parts,
                                                 optional, engine, split, ban, shift, pending,
                                                 in_order, bucket_rows) -> None:
    allocs, rows = period
    if ban is not None and not any(a.ban == ban or a.head_ban == ban for a in allocs
                                   if a.period == PERIOD):
        ban = None  # --ban of a BAN without allocations of the period is refused
    dates, _, categorical = dates.partition("-")
    if fmt == "csv" and dates in ("date", "datetime"):
        dates = "iso"  # a CSV holds text
    rows = as_read(rows, "canonical", optional)
    with partitioned(shift, pending, in_order, bucket_rows) as seen:
        check(allocs, rows, lambda folder: write_canonical(
            folder, chunks(ordered(rows, order, seed), parts), fmt, dates, optional, False,
            bool(categorical)), engine, split, ban)
    assert seen["declined"] == [False], "the dense scan's result used"
    if in_order == "never":
        assert sum(seen["rows"]) == len(rows), "every row through the partitioned tally"
        assert not seen["single"]
        # Only the shared tally was made: a thread's own would be a second copy of every slot.
        assert seen["made"] == [False] * dense.THREADS + [True]
        if pending == 1:  # each batch's records in a second pass of their own (or more)
            assert len(seen["passes"]) >= len(seen["rows"])
        if pending > len(rows) and bucket_rows > len(rows):
            # every batch of a thread in one second pass, at its end
            assert len(seen["passes"]) <= dense.THREADS
    else:
        assert sum(seen["rows"]) + sum(seen["single"]) == len(rows), "every row tallied once"


def test_the_issuing_groups_grow_in_the_second_pass(tmp_path: Path) -> None:
    """Twelve issuing groups in one batch, the table holding eight at first: tally_records
    stops at the ninth, the table grows, and the pass goes on from that record."""
    allocs, rows = MANY_GROUPS
    path = tmp_path / "invoices.parquet"
    canonical_frame(ordered(rows, "random", 7), "iso", True, False).write_parquet(path)
    assert dense.ISSUING_START // 2 < 12
    with partitioned(dense.PARTITION_SHIFT) as seen:
        result = reconciled(write_allocations(tmp_path, allocs), [path], "dense")
    assert seen["rows"] == [len(rows)] and seen["grown"], "one batch, the table grown in it"
    issuing = result.issuing.sort("machine", "invoice_date")
    assert issuing.height == 36 and issuing["invoices"].to_list() == [1] * 36
    assert sorted(set(issuing["machine"].to_list())) == sorted(f"POS-{b}" for b in range(12))


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_several_batches_wait_for_one_second_pass(tmp_path: Path, fmt: str) -> None:
    """One thread, batches of 7 rows: the records of all 36 rows (six batches) wait, and one
    second pass at the end tallies them, the table of issuing groups grown on the way; a second
    till's rows, from whichever batch, handed back as that batch's own rows, read again (the
    batch was let go)."""
    allocs, rows = MANY_GROUPS
    second_till = Invoice("AB00000001", D(2024, 1, 9), HEAD, "issued", "accepted", "POS-X")
    rows = [*ordered(rows, "random", 7), second_till]
    path = tmp_path / f"invoices.{fmt}"
    frame = canonical_frame(rows, "iso", True, False)
    frame.write_parquet(path) if fmt == "parquet" else frame.write_csv(path)
    read_again: list[tuple[int, int]] = []
    rows_of = csv_batches.CsvBatches.rows

    def csv_again(self, offset, length):  # type: ignore[no-untyped-def]
        read_again.append((offset, length))
        return rows_of(self, offset, length)

    with pytest.MonkeyPatch.context() as mp:
        for name, value in (("BATCH_ROWS", 7), ("CSV_BATCH_ROWS", 7), ("THREADS", 1),
                            ("ISSUING_START", 2)):
            mp.setattr(dense, name, value)
        mp.setattr(csv_batches.CsvBatches, "rows", csv_again)
        with partitioned(dense.PARTITION_SHIFT) as seen:
            result = reconciled(write_allocations(tmp_path, allocs), [path], "dense")
    assert sum(seen["rows"]) == 37 and len(seen["rows"]) > 1, "batches through the first pass"
    assert seen["passes"] == [37], "one second pass over every batch's records"
    assert seen["grown"], "the table of issuing groups grown in that pass"
    if fmt == "parquet":
        assert seen["rows"] == [7, 7, 7, 7, 7, 2]
        assert seen["again"] == [5], "the second till's batch (rows 35-36) read again"
    else:
        [(offset, length)] = read_again
        assert offset <= 36 < offset + length, "the second till's batch read again"
    issuing = result.issuing.sort("machine", "invoice_date")
    assert issuing.height == 37 and issuing["invoices"].to_list() == [1] * 37
    assert sorted(set(issuing["machine"].to_list())) == sorted(
        [f"POS-{b}" for b in range(12)] + ["POS-X"])


@pytest.mark.parametrize(("numbers", "in_order"), [
    ([f"AB{k:08d}" for k in range(2000)], True),  # a till's numbers, one after another
    ([f"AB{(k * 7919) % 100_000:08d}" for k in range(2000)], False),  # shuffled
    ([f"AB{k // 2 + (k % 2) * 50_000:08d}" for k in range(2000)], False),  # two tills in turn
    (["AB00000001"], True),  # one row: nothing to tell
    ([], True),
])
def test_a_batch_out_of_order_is_told_by_its_first_rows(numbers: list[str],
                                                        in_order: bool) -> None:
    data = np.frombuffer("".join(numbers).encode(), np.uint8).copy()
    offsets = np.concatenate([[0], np.cumsum([len(n) for n in numbers])]).astype(np.int64)
    assert dense._in_order((len(numbers), False, offsets, data)) is in_order
    views = np.zeros(16 * len(numbers), np.uint8)  # Arrow string views, as polars gives them
    for k, n in enumerate(numbers):
        views[16 * k:16 * k + 4] = np.frombuffer(np.int32(len(n)).tobytes(), np.uint8)
        views[16 * k + 4:16 * k + 4 + len(n)] = np.frombuffer(n.encode(), np.uint8)
    assert dense._in_order((len(numbers), True, views.view(np.int32), views)) is in_order


def _told_in_order(numbers: list[str]) -> bool:
    """_in_order's rule in plain Python: at least half of the first ORDER_SAMPLE rows share
    their first eight characters with the row before."""
    sample = numbers[:dense.ORDER_SAMPLE]
    same = sum(a[:8] == b[:8] for a, b in itertools.pairwise(sample))
    return len(sample) < 2 or 2 * same >= len(sample) - 1


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 40), st.sampled_from(["", " ", "  "])),
                min_size=0, max_size=1100),
       st.booleans())
def test_in_order_of_numbers_of_one_width_or_several(rows: list[tuple[int, int, str]],
                                                     one_width: bool) -> None:
    """The strided check of numbers of one width (every offset a multiple of it) and the
    gathering one of any widths tell a batch as the plain rule does, as Arrow text and as
    string views. Widths are 10 (one width) or 10-12 (a trailing space or two)."""
    numbers = [f"A{chr(65 + t)}{k * 7:08d}" + ("" if one_width else pad) for t, k, pad in rows]
    data = np.frombuffer("".join(numbers).encode(), np.uint8).copy()
    offsets = np.concatenate([[0], np.cumsum([len(n) for n in numbers])]).astype(np.int32)
    expected = _told_in_order(numbers)
    assert dense._in_order((len(numbers), False, offsets, data)) is expected
    shifted = np.concatenate([np.zeros(3, np.uint8), data])  # a column sliced from a larger one
    assert dense._in_order((len(numbers), False, offsets + 3, shifted)) is expected
    views = np.zeros(16 * len(numbers), np.uint8)
    for k, n in enumerate(numbers):
        views[16 * k:16 * k + 4] = np.frombuffer(np.int32(len(n)).tobytes(), np.uint8)
        views[16 * k + 4:16 * k + 4 + len(n)] = np.frombuffer(n.encode(), np.uint8)
    assert dense._in_order((len(numbers), True, views.view(np.int32), views)) is expected


def test_in_order_of_widths_that_only_average_to_one() -> None:
    """Widths 10, 9, 11, 10, … sum to ten a row at every fourth offset, not at each: the
    gathering check, which reads each row's own first eight bytes."""
    widths = [10, 9, 11, 10] * 300
    numbers = [f"AB{k:08d}"[:w] if w <= 10 else f"AB{k:08d} " for k, w in enumerate(widths)]
    data = np.frombuffer("".join(numbers).encode(), np.uint8).copy()
    offsets = np.concatenate([[0], np.cumsum([len(n) for n in numbers])]).astype(np.int64)
    assert (offsets[dense.ORDER_SAMPLE] - offsets[0]) % dense.ORDER_SAMPLE == 0
    assert dense._in_order((len(numbers), False, offsets, data)) is _told_in_order(numbers)


def test_usage_columns_are_the_records_transposed() -> None:
    """usage_columns' copy in blocks: each mask and the live rows of every slot, across block
    edges and a last block part full."""
    slots = 3 * dense.TRANSPOSE_RECORDS + 5
    tally = dense._Tally(np.zeros(slots, np.int32), 1).ready()
    rng = np.random.default_rng(7)
    tally.state[:] = rng.integers(0, 1 << 62, tally.state.size, dtype=np.uint64)
    masks, live = tally.usage_columns()
    records = tally.state.reshape(slots, dense.SLOT_WORDS)
    assert len(masks) == dense.SLOT_WORDS - 1
    for k, mask in enumerate(masks):
        assert mask.flags.c_contiguous and np.array_equal(mask, records[:, k])
    assert live.dtype == np.int64 and np.array_equal(live, records[:, -1].astype(np.int64))


def test_a_full_bucket_brings_the_second_pass_early(tmp_path: Path) -> None:
    """One batch, regions of one record a booklet: the first pass stops at each full bucket,
    that bucket's records take their second pass, and the batch goes on from that row; the
    rest wait for the pass at the end. The second till's row (the last) is handed back."""
    allocs, rows = MANY_GROUPS
    second_till = Invoice("AB00000001", D(2024, 1, 9), HEAD, "issued", "accepted", "POS-X")
    rows = [*ordered(rows, "random", 7), second_till]
    path = tmp_path / "invoices.parquet"
    canonical_frame(rows, "iso", True, False).write_parquet(path)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(dense, "THREADS", 1)
        mp.setattr(dense, "PENDING_SLACK", 0.0)
        with partitioned(0, bucket_rows=1) as seen:
            result = reconciled(write_allocations(tmp_path, allocs), [path], "dense")
    assert seen["rows"] == [37], "one batch through the first pass"
    assert len(seen["buckets"]) > 3, "full buckets tallied on their own"
    assert sum(seen["buckets"]) + sum(seen["passes"]) == 37 and len(seen["passes"]) == 1
    assert seen["again"] == [0], "the second till's row (the last: the pass at the end) read again"
    issuing = result.issuing.sort("machine", "invoice_date")
    assert issuing.height == 37 and issuing["invoices"].to_list() == [1] * 37
    assert sorted(set(issuing["machine"].to_list())) == sorted(
        [f"POS-{b}" for b in range(12)] + ["POS-X"])
