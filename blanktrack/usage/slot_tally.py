"""The compiled inner loop of the dense scan (dense.py): invoice numbers tallied into booklet slots.

Every row of a batch is read once, in file order, with no hash table per row: its number is
parsed from the raw UTF-8 bytes, its booklet slot found by indexing a dense table built from the
allocations, and its bit OR-ed into that slot's masks. The other columns arrive as small integer
codes (Parquet dictionary indices) with per-code tables made from their few distinct values.
Rows the simple model does not cover (a number outside the allocations, another seller's number,
a second till in one booklet, a malformed number, a seller left out by --ban on a booklet of the
period) are handed back as exceptions; the caller aggregates those few rows with polars, so they
are counted exactly as everywhere else. A row dated more than one period from P uses nothing
(spec §3): in a booklet of its seller it is only marked (far), elsewhere it is passed over.

A batch in no particular row order takes the partitioned tally at the end of this file instead:
the same decisions in two passes, the second walking the rows of several batches bucket by
bucket of booklet places.

Compiled with numba, not a Python loop; native_loop.py keeps the machine code and loads it without
numba on later runs.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from .distinct_values import BAN_FILTERED, BAN_OTHER, STATUS_LIVE, STATUS_VOID

_ZEROS = np.uint64(0x3030303030303030)  # '00000000'
_SIXES = np.uint64(0x0606060606060606)
_HIGH_NIBBLES = np.uint64(0xF0F0F0F0F0F0F0F0)


@njit(cache=True, nogil=True)
def _group_find(table: np.ndarray, key: np.int64) -> tuple[np.int64, int]:
    """Where key lives in the open-addressing table (key at 2h, its value at 2h + 1: one cache
    line for both), added (value 0) if new: (h, 1 if new)."""
    mask = np.uint64((len(table) >> 1) - 1)
    # The product's high half folded in: its low bits alone depend only on the key's low bits
    # (the track), and every till and seller of one track would probe one chain.
    x = np.uint64(key) * np.uint64(0x9E3779B97F4A7C15)
    h = (x ^ (x >> np.uint64(32))) & mask
    while True:
        k = table[np.uint64(2) * h]
        if k == key:
            return np.int64(h), 0
        if k == -1:
            table[np.uint64(2) * h] = key
            return np.int64(h), 1
        h = (h + np.uint64(1)) & mask


# A slot's record in slot_state: the seven usage masks (booklets.USAGE_MASKS' order), then its
# live rows; 64 bytes, one cache line, so a row in no particular order costs one miss, not eight.
SLOT_WORDS = 8
LIVE_ROWS = 7
# A slot's owner in slot_owner: its seller (read only) and the issuing group of the till that
# used it (-1: none yet).
OWNER_WORDS = 2
# Issuing counts: per issuing group (seller, till, track), met first when a till takes a slot
# and kept in the slot's owner, a count per day of the period at group * GROUP_DAYS + day, so
# that a row counts its day with no hashed probe (a period has at most 62 days).
GROUP_DAYS = 64
# A group's key in group_key: seller << 42 | till << 18 | track << 8 (dense.py unpacks it and
# bounds its parts); the day is added to it when the counts are read out.
TILL_SHIFT, TILL_BITS = 18, 0xFFFFFF


@njit(cache=True, nogil=True, inline="always")
def _take_group(group_table, group_key, n_groups, seller, till, track):
    """The number of the issuing group (seller, till, track), numbered n_groups when new (the
    table has room: the callers stop at half full): (its number, the groups now)."""
    gkey = (seller << 42) | (till << TILL_SHIFT) | (track << 8)
    pos, new = _group_find(group_table, gkey)
    gpos = np.uint64(2) * np.uint64(pos) + np.uint64(1)
    if new:
        group_table[gpos] = n_groups
        group_key[np.uint64(n_groups)] = gkey
        n_groups += 1
    return np.int32(group_table[gpos]), n_groups


@njit(cache=True, nogil=True, inline="always")
def _invoice_number(views, offsets, data, i):
    """Row i's invoice number, parsed from the raw bytes of the column (see tally_batch): (ok,
    its two track letters as 0..25, its eight digits as a number); ok False unless exactly two
    capitals and eight digits. Inlined by numba into each loop that reads it (bench/README.md:
    a function called per row doubled a loop's time on rows out of order)."""
    if views:
        s = np.uint64(16) * i + np.uint64(4)
        length = np.int64(offsets[np.uint64(4) * i])
    else:
        s = np.uint64(offsets[i])
        length = np.int64(offsets[i + np.uint64(1)]) - np.int64(s)
    if length != 10:
        return False, np.int64(0), np.int64(0), np.int64(0)
    t0 = np.int64(data[s]) - 65
    t1 = np.int64(data[s + np.uint64(1)]) - 65
    # The eight digits as one little-endian word, checked and converted without a branch per
    # digit (SWAR): every byte must be 0x30..0x39.
    w = np.uint64(0)
    for k in range(8):
        w |= np.uint64(data[s + np.uint64(2 + k)]) << np.uint64(8 * k)
    ok = (0 <= t0 <= 25 and 0 <= t1 <= 25
          and (w & _HIGH_NIBBLES) == _ZEROS and ((w + _SIXES) & _HIGH_NIBBLES) == _ZEROS)
    w -= _ZEROS
    w = (w * np.uint64(10) + (w >> np.uint64(8))) & np.uint64(0x00FF00FF00FF00FF)
    w = (w * np.uint64(100) + (w >> np.uint64(16))) & np.uint64(0x0000FFFF0000FFFF)
    w = (w * np.uint64(10000) + (w >> np.uint64(32))) & np.uint64(0xFFFFFFFF)
    return ok, t0, t1, np.int64(w)


@njit(cache=True, nogil=True)
def _flush(slot_state, slot, acc_used, acc_in, acc_adj, acc_live, acc_void, acc_failed, acc_far,
           acc_rows):
    """A run's masks and live rows, gathered in registers, into its slot's record."""
    r = slot * np.uint64(SLOT_WORDS)
    slot_state[r] |= acc_used
    slot_state[r + np.uint64(1)] |= acc_in
    slot_state[r + np.uint64(2)] |= acc_adj
    slot_state[r + np.uint64(3)] |= acc_live
    slot_state[r + np.uint64(4)] |= acc_void
    slot_state[r + np.uint64(5)] |= acc_failed
    slot_state[r + np.uint64(6)] |= acc_far
    slot_state[r + np.uint64(LIVE_ROWS)] += np.uint64(acc_rows)


@njit(cache=True, nogil=True)
def group_rehash(table: np.ndarray, new_table: np.ndarray) -> None:
    """The group table's keys and group numbers put into a larger empty one (keys -1, a power
    of 2)."""
    for i in range(len(table) >> 1):
        if table[2 * i] != -1:
            h, _ = _group_find(new_table, table[2 * i])
            new_table[2 * h + 1] = table[2 * i + 1]


@njit(cache=True, nogil=True)
def tally_batch(
    n, views, offsets, data,  # the invoice_number column (see below)
    date_codes, ban_codes, machine_codes, status_codes, upload_codes,  # per row
    date_offset, date_day, ban_id, machine_id, status_class, upload_failed,  # per code
    track_slot, track_first, track_base, track_span,  # track → part of booklet_slot
    booklet_slot, slot_owner, slot_state,  # per booklet slot (OWNER_WORDS, SLOT_WORDS each)
    group_table, group_key, day_counts, n_groups,  # issuing groups and their counts per day
    exceptions, ne, start,  # out: row indices left to the caller, and how many so far
):
    """Tally rows start..n of one batch. Returns (next row, exceptions, issuing groups, rows
    left out by the BAN filter): the next row is short of n when the group table is half full;
    grow it (native_loop.IssuingCounts) and call again.

    The issuing groups: `group_table` finds a group's number by its key (open addressing, key
    and number interleaved), `group_key` is each group's key, `day_counts` its count per day
    (GROUP_DAYS each); a group is looked up once per slot a till takes, not per row.

    The invoice numbers are an Arrow string column: with views False, `offsets` are its offsets
    and `data` its bytes; with views True (Arrow string_view, as polars hands them out), `data`
    is the 16-byte views and `offsets` the same buffer as int32, whose 4*i-th entry is row i's
    length: a string of up to 12 bytes lies inside its view, from byte 4.
    """
    # Arrays are indexed with unsigned integers wherever the index is known to be >= 0: numba
    # then leaves out its check for negative (wrap-around) indices, which also kept LLVM from
    # merging the eight byte loads of a number (bench/README.md, the dense scan).
    one = np.uint64(1)
    zero = np.uint64(0)
    left_out = 0
    # The run: rows with the same codes, track and booklet as the last row tallied (most rows:
    # a till issues numbers in order, a day at a time) share its slot, day and till, so only
    # their bits are gathered, in registers, and written to the slot when the run ends
    # (bench/README.md, the dense scan).
    in_run = False
    run_slot = np.uint64(0)
    run_ban, run_date, run_machine, run_track, run_booklet = -1, -1, -1, -1, -1
    run_offset = 0
    run_far = False
    run_count = np.uint64(0)  # the run's place in day_counts (when dated in the period)
    acc_used, acc_in, acc_adj, acc_live, acc_void, acc_failed = zero, zero, zero, zero, zero, zero
    acc_far = zero
    acc_rows = 0
    for ii in range(start, n):
        i = np.uint64(ii)
        ok, t0, t1, number = _invoice_number(views, offsets, data, i)
        if not ok:
            exceptions[ne] = ii
            ne += 1
            continue
        bc = np.int64(ban_codes[i])
        dc = np.int64(date_codes[i])
        mc = np.int64(machine_codes[i])
        track = t0 * 26 + t1
        booklet = number // 50
        if not (in_run and bc == run_ban and dc == run_date and mc == run_machine
                and track == run_track and booklet == run_booklet):
            ban = ban_id[np.uint64(bc)]
            offset = date_offset[np.uint64(dc)]
            far_off = offset < -1 or offset > 1
            ts = track_slot[np.uint64(track)]
            slot = -1
            if ts >= 0:
                uts = np.uint64(ts)
                rel = booklet - track_first[uts]
                if 0 <= rel < track_span[uts]:
                    slot = booklet_slot[np.uint64(track_base[uts] + rel)]
            if ban == BAN_FILTERED:
                left_out += 1
                if slot >= 0 and not far_off:
                    # A seller left out (--ban) used a number of a booklet reported here: never
                    # blank (spec §3), so the caller takes the row apart.
                    exceptions[ne] = ii
                    ne += 1
                continue
            if slot < 0:
                if far_off:
                    continue  # far from P and in no booklet of P: another period's track
                exceptions[ne] = ii
                ne += 1
                continue
            us = np.uint64(slot)
            owner = us * np.uint64(OWNER_WORDS)
            slot_ban = slot_owner[owner]
            if slot_ban != ban:
                if far_off and slot_ban != -2:
                    continue  # far from P, in another seller's booklet: nothing of this BAN's
                exceptions[ne] = ii
                ne += 1
                continue
            machine = machine_id[np.uint64(mc)]
            held = slot_owner[owner + np.uint64(1)]
            if held == -1:
                # The slot's first row: its till takes it, in the group (seller, till, track).
                if 4 * (n_groups + 1) > len(group_table):  # half full
                    # Stop before this row changes anything: the caller grows the table and
                    # calls again from this row (a new call starts a new run).
                    if in_run:
                        _flush(slot_state, run_slot, acc_used, acc_in, acc_adj, acc_live,
                               acc_void, acc_failed, acc_far, acc_rows)
                    return ii, ne, n_groups, left_out
                held, n_groups = _take_group(group_table, group_key, n_groups, np.int64(ban),
                                             np.int64(machine), track)
                slot_owner[owner + np.uint64(1)] = held
            elif ((group_key[np.uint64(held)] >> TILL_SHIFT) & TILL_BITS) != machine:
                exceptions[ne] = ii  # a second till in the booklet
                ne += 1
                continue
            if offset == 0:
                run_count = (np.uint64(held) * np.uint64(GROUP_DAYS)
                             + np.uint64(date_day[np.uint64(dc)]))
            if not in_run or us != run_slot:
                if in_run:
                    _flush(slot_state, run_slot, acc_used, acc_in, acc_adj, acc_live, acc_void,
                           acc_failed, acc_far, acc_rows)
                acc_used, acc_in, acc_adj = zero, zero, zero
                acc_live, acc_void, acc_failed, acc_far = zero, zero, zero, zero
                acc_rows = 0
                run_slot = us
            in_run = True
            run_ban, run_date, run_machine, run_track, run_booklet = bc, dc, mc, track, booklet
            run_offset = offset
            run_far = far_off
        # The row is in the run: its slot, day and till are the run's.
        b = one << np.uint64(number % 50)
        if run_far:
            # Dated farther than one period from P: never a use of P's numbers (spec §3), only
            # marked, for the dated-far-from-period finding.
            acc_far |= b
            continue
        acc_used |= b
        if run_offset == 0:
            acc_in |= b
            day_counts[run_count] += 1  # the run's (seller, till, track) and day
        else:
            acc_adj |= b
        c = status_class[np.uint64(status_codes[i])]
        if c == STATUS_LIVE:
            acc_live |= b
            acc_rows += 1
        elif c == STATUS_VOID:
            acc_void |= b
        if upload_failed[np.uint64(upload_codes[i])]:
            acc_failed |= b
    if in_run:
        _flush(slot_state, run_slot, acc_used, acc_in, acc_adj, acc_live, acc_void, acc_failed,
               acc_far, acc_rows)
    return n, ne, n_groups, left_out


# ---------------------------------------------------------------------------------------------
# The partitioned tally, for a batch in no particular row order (dense.py decides which): a row
# out of order touches a slot record far from the last one, and tally_batch's long chain of
# loads per row leaves the processor few misses to wait on at once. So partition_batch first
# reads the batch's columns in order, checks what needs no table of booklets and writes each
# row a compact record (RECORD_WORDS) with its booklet's place in booklet_slot, straight into
# the region of its bucket (a range of those places, whose seats, slot records and owners fit
# the L2 cache), row order kept within a bucket; tally_records then walks them bucket by
# bucket, and only there looks up a booklet's slot and seller (read in the first pass, that
# lookup missed the cache on nearly every row of a large period). A thread's rows of a slot meet
# tally_records in row order, so its tills, exceptions and counts are those of tally_batch; the
# two threads' passes share one tally (dense.py), and a till the other thread's rows met first
# in a slot makes this thread's rows there exceptions, as two threads' tallies would in _merge.
RECORD_WORDS = 2
# The record's first word: place | bit << 26 | status class << 32 | upload failed << 34 |
# date class << 35 (DATED_IN, DATED_NEAR, DATED_FAR; FILTERED: a seller left out by --ban,
# dated near P, which only a slot of P makes an exception) | day << 37 | seller << 43 (its
# ban_id, 0 for BAN_OTHER). The second: row | till << 32 | 1 << 56 for BAN_OTHER (a seller that
# holds no allocation here). A place is below booklet_slots.MAX_SLOTS (2^26), a seller below
# 2^21 (dense.MAX_ISSUING_BANS).
DATED_IN, DATED_NEAR, DATED_FAR, FILTERED = 0, 1, 2, 3
PLACE_BITS = 26
_OTHER = np.uint64(1 << 56)
_TILL = np.uint64(0xFFFFFF)
_LOW32 = np.uint64(0xFFFFFFFF)
_PLACE = np.uint64((1 << PLACE_BITS) - 1)


@njit(cache=True, nogil=True)
def partition_batch(
    n, views, offsets, data,  # the invoice_number column (as tally_batch)
    date_codes, ban_codes, machine_codes, status_codes, upload_codes,  # per row
    date_offset, date_day, ban_id, machine_id, status_class, upload_failed,  # per code
    track_slot, track_first, track_base, track_span,  # track → part of booklet_slot
    shift, records, fill, ends,  # out: each row kept a record, in its bucket's region
    exceptions, ne,  # out: row indices left to the caller, and how many so far
    first_row,  # the batch's first row among the records waiting for the second pass
    start,  # the first row of the batch not yet taken
):
    """The first pass of the partitioned tally: rows start..n of one batch checked as
    tally_batch checks them before it looks up a booklet's slot, the rest written as records
    (their row counted from first_row: several batches' records meet in one second pass) into
    the region of their bucket (place >> shift): bucket k's records go at fill[k], up to
    ends[k] (its region ends where the next one's begins). Returns (next row, records written,
    exceptions, rows left out by the BAN filter): the next row is short of n when its bucket is
    full; the caller tallies the records (tally_records) and calls again from that row."""
    m = 0
    left_out = 0
    for ii in range(start, n):
        i = np.uint64(ii)
        ok, t0, t1, number = _invoice_number(views, offsets, data, i)
        if not ok:
            exceptions[ne] = ii
            ne += 1
            continue
        dc = np.uint64(date_codes[i])
        ban = ban_id[np.uint64(ban_codes[i])]
        offset = date_offset[dc]
        far_off = offset < -1 or offset > 1
        track = t0 * 26 + t1
        booklet = number // 50
        ts = track_slot[np.uint64(track)]
        place = -1
        if ts >= 0:
            uts = np.uint64(ts)
            rel = booklet - track_first[uts]
            if 0 <= rel < track_span[uts]:
                place = track_base[uts] + rel
        # The same decisions as tally_batch's, in the same order; those that need the slot
        # and its seller are made by tally_records.
        if ban == BAN_FILTERED:
            if place < 0 or far_off:
                left_out += 1
                continue
            dated = FILTERED
        elif place < 0:
            if not far_off:
                exceptions[ne] = ii
                ne += 1
            continue
        else:
            dated = DATED_FAR if far_off else DATED_IN if offset == 0 else DATED_NEAR
        bucket = np.uint64(place >> shift)
        p = fill[bucket]
        if p == ends[bucket]:
            return ii, m, ne, left_out  # a full bucket: stop before this row changes anything
        fill[bucket] = p + 1
        if ban == BAN_FILTERED:
            left_out += 1
        other = ban == BAN_OTHER
        um = np.uint64(p)
        records[np.uint64(RECORD_WORDS) * um] = (
            np.uint64(place) | (np.uint64(number % 50) << np.uint64(26))
            | (np.uint64(status_class[np.uint64(status_codes[i])]) << np.uint64(32))
            | (np.uint64(upload_failed[np.uint64(upload_codes[i])]) << np.uint64(34))
            | (np.uint64(dated) << np.uint64(35))
            | ((np.uint64(date_day[dc]) & np.uint64(63)) << np.uint64(37))
            | (np.uint64(0 if ban < 0 else ban) << np.uint64(43)))
        records[np.uint64(RECORD_WORDS) * um + np.uint64(1)] = (
            np.uint64(first_row + ii)
            | (np.uint64(machine_id[np.uint64(machine_codes[i])]) << np.uint64(32))
            | (_OTHER if other else np.uint64(0)))
        m += 1
    return n, m, ne, left_out


# A bucket's slot records and owners come from memory again at every second pass (a large
# period's records do not stay in the cache from one pass to the next). Rows in no order reach
# most slots of a bucket in an order of their own, a wait for memory each; so when a bucket's
# records look scattered (SAMPLE_RECORDS of them, at least SCATTERED_PLACES distinct places)
# and are many (over WARM_RECORDS), its slots' records and owners are asked for all at once, in
# place order, first: a stream of memory reads the processor overlaps (bench/README.md, "A
# scattered bucket's slots asked for first"). Rows in date order reach few slots of a bucket,
# whose records the cache mostly still holds: asked for, the whole bucket would cost more.
WARM_RECORDS = 1024  # at least SAMPLE_RECORDS: _scattered reads that many of the bucket's
SAMPLE_RECORDS = 128
SCATTERED_PLACES = 112


@intrinsic
def _prefetch(typingctx, address):
    """Ask the processor for the cache line at `address` (an integer) without waiting for it:
    LLVM's prefetch (for reading, kept in every cache level), which never faults."""
    if not isinstance(address, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        byte_pointer, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
        name = "llvm.prefetch.p0"
        prefetch = builder.module.globals.get(name) or ir.Function(
            builder.module, ir.FunctionType(ir.VoidType(), [byte_pointer, i32, i32, i32]), name)
        builder.call(prefetch, [builder.inttoptr(args[0], byte_pointer), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return types.void(address), codegen


@njit(cache=True, nogil=True, inline="always")
def _scattered(records, start, shift, seen):
    """Whether the SAMPLE_RECORDS records from `start` (of one bucket of 2^shift places) hold
    at least SCATTERED_PLACES distinct places; `seen` (a bit per place of a bucket, clear) is
    left clear. (Cleared bit by bit: a loop that clears the whole array compiles to a call of
    memset, which the machine code native_loop.py loads does not link.)"""
    within = np.uint64((1 << shift) - 1)
    distinct = 0
    for jj in range(start, start + SAMPLE_RECORDS):
        place = records[np.uint64(RECORD_WORDS) * np.uint64(jj)] & within
        word, bit = place >> np.uint64(6), np.uint64(1) << (place & np.uint64(63))
        if not seen[word] & bit:
            distinct += 1
            seen[word] |= bit
    for jj in range(start, start + SAMPLE_RECORDS):
        seen[(records[np.uint64(RECORD_WORDS) * np.uint64(jj)] & within) >> np.uint64(6)] = 0
    return distinct >= SCATTERED_PLACES


@njit(cache=True, nogil=True, inline="always")
def _warm(records, start, shift, booklet_seat, slot_owner, slot_state):
    """The records and owners of the slots of the bucket record `start` is in, asked for in
    place order (_prefetch)."""
    state_at, owner_at = slot_state.ctypes.data, slot_owner.ctypes.data
    first = np.int64(records[np.uint64(RECORD_WORDS) * np.uint64(start)] & _PLACE) >> shift << shift
    for place in range(first, min(first + (1 << shift), len(booklet_seat) >> 1)):
        slot = booklet_seat[np.uint64(2) * np.uint64(place)]
        if slot >= 0:
            # (an intrinsic is called without the typing context its definition takes first)
            _prefetch(state_at + np.uint64(slot) * np.uint64(8 * SLOT_WORDS))  # type: ignore[call-arg]
            _prefetch(owner_at + np.uint64(slot) * np.uint64(4 * OWNER_WORDS))


@njit(cache=True, nogil=True)
def tally_records(
    records, fill, ends, bucket, start,  # each bucket's records, from `start` in `bucket` on
    shift, seen,  # a bucket holds 2^shift places; a bit per place, clear (_scattered)
    booklet_seat, slot_track_code,  # per place: slot and seller; per slot: its track's code
    slot_owner, slot_state,  # per booklet slot (OWNER_WORDS, SLOT_WORDS each)
    group_table, group_key, day_counts, n_groups,  # issuing groups and their counts per day
    exceptions, ne,  # out: row indices left to the caller, and how many so far
):
    """The second pass of the partitioned tally: bucket by bucket (bucket k's records from the
    end of k - 1's region, ends[k - 1], to fill[k]), each record's booklet looked up and checked
    as tally_batch checks a row, then the record tallied into its slot. Returns (bucket, next
    record, exceptions, issuing groups): the bucket is len(fill) when every record is tallied,
    else the group table is half full: grow it and call again from there."""
    while bucket < len(fill):
        if fill[bucket] - start > WARM_RECORDS and _scattered(records, start, shift, seen):
            _warm(records, start, shift, booklet_seat, slot_owner, slot_state)
        jj, ne, n_groups = _tally_bucket(records, start, fill[bucket], booklet_seat,
                                         slot_track_code, slot_owner, slot_state, group_table,
                                         group_key, day_counts, n_groups, exceptions, ne)
        if jj < fill[bucket]:
            return bucket, jj, ne, n_groups
        bucket += 1
        if bucket < len(fill):
            start = ends[bucket - 1]
    return bucket, start, ne, n_groups


@njit(cache=True, nogil=True, inline="always")
def _tally_bucket(records, start, m, booklet_seat, slot_track_code, slot_owner, slot_state,
                  group_table, group_key, day_counts, n_groups, exceptions, ne):
    """tally_records' records start..m (of one bucket): (next record, exceptions, issuing
    groups), the next record short of m at a half-full group table."""
    one = np.uint64(1)
    for jj in range(start, m):
        j = np.uint64(RECORD_WORDS) * np.uint64(jj)
        first = records[j]
        second = records[j + one]
        seat = np.uint64(2) * (first & _PLACE)
        slot = booklet_seat[seat]
        dated = (first >> np.uint64(35)) & np.uint64(3)
        if dated == FILTERED:
            if slot >= 0:  # a seller left out (--ban) used a number of a booklet of P
                exceptions[ne] = np.int64(second & _LOW32)
                ne += 1
            continue
        far_off = dated == DATED_FAR
        if slot < 0:
            if not far_off:
                exceptions[ne] = np.int64(second & _LOW32)
                ne += 1
            continue
        seller = np.int64(first >> np.uint64(43))
        if second & _OTHER:
            seller = BAN_OTHER
        held_by = booklet_seat[seat + one]
        if held_by != seller:
            if not (far_off and held_by != -2):
                exceptions[ne] = np.int64(second & _LOW32)
                ne += 1
            continue
        us = np.uint64(slot)
        machine = np.int64((second >> np.uint64(32)) & _TILL)
        owner = us * np.uint64(OWNER_WORDS)
        held = slot_owner[owner + one]
        if held == -1:
            if 4 * (n_groups + 1) > len(group_table):  # half full: the caller grows it
                return jj, ne, n_groups
            held, n_groups = _take_group(group_table, group_key, n_groups, seller, machine,
                                         np.int64(slot_track_code[us]))
            slot_owner[owner + one] = held
        elif ((group_key[np.uint64(held)] >> TILL_SHIFT) & TILL_BITS) != machine:
            exceptions[ne] = np.int64(second & _LOW32)  # a second till in the booklet
            ne += 1
            continue
        b = one << ((first >> np.uint64(26)) & np.uint64(63))
        r = us * np.uint64(SLOT_WORDS)
        if far_off:
            slot_state[r + np.uint64(6)] |= b  # only marked (spec §3), as in tally_batch
            continue
        slot_state[r] |= b
        if dated == DATED_IN:
            slot_state[r + one] |= b
            day_counts[np.uint64(held) * np.uint64(GROUP_DAYS)
                       + ((first >> np.uint64(37)) & np.uint64(63))] += 1
        else:
            slot_state[r + np.uint64(2)] |= b
        c = (first >> np.uint64(32)) & np.uint64(3)
        if c == STATUS_LIVE:
            slot_state[r + np.uint64(3)] |= b
            slot_state[r + np.uint64(LIVE_ROWS)] += one
        elif c == STATUS_VOID:
            slot_state[r + np.uint64(4)] |= b
        if (first >> np.uint64(34)) & one:
            slot_state[r + np.uint64(5)] |= b
    return m, ne, n_groups
