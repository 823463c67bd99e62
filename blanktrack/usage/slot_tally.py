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

Compiled with numba, not a Python loop; native_loop.py keeps the machine code and loads it without
numba on later runs.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .distinct_values import BAN_FILTERED, STATUS_LIVE, STATUS_VOID

_ZEROS = np.uint64(0x3030303030303030)  # '00000000'
_SIXES = np.uint64(0x0606060606060606)
_HIGH_NIBBLES = np.uint64(0xF0F0F0F0F0F0F0F0)


@njit(cache=True, nogil=True)
def _issuing_find(table: np.ndarray, key: np.int64) -> tuple[np.int64, int]:
    """Where key lives in the open-addressing table (key at 2h, its count at 2h + 1: one cache
    line for both), added (count 0) if new: (h, 1 if new)."""
    mask = np.uint64((len(table) >> 1) - 1)
    # The product's high half folded in: its low bits alone depend only on the key's low bits
    # (track and day), and every till and seller of one track and day would probe one chain.
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
# A slot's owner in slot_owner: its seller (read only) and the till that used it (-1: none yet).
OWNER_WORDS = 2


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
def issuing_rehash(table: np.ndarray, new_table: np.ndarray) -> None:
    """The issuing table's keys and counts put into a larger empty one (keys -1, a power of 2)."""
    for i in range(len(table) >> 1):
        if table[2 * i] != -1:
            h, _ = _issuing_find(new_table, table[2 * i])
            new_table[2 * h + 1] = table[2 * i + 1]


@njit(cache=True, nogil=True)
def tally_batch(
    n, views, offsets, data,  # the invoice_number column (see below)
    date_codes, ban_codes, machine_codes, status_codes, upload_codes,  # per row
    date_offset, date_day, ban_id, machine_id, status_class, upload_failed,  # per code
    track_slot, track_first, track_base, track_span,  # track → part of booklet_slot
    booklet_slot, slot_owner, slot_state,  # per booklet slot (OWNER_WORDS, SLOT_WORDS each)
    issuing, iss_fill,  # issuing counts per (ban, machine, track, day), interleaved
    exceptions, ne, start,  # out: row indices left to the caller, and how many so far
):
    """Tally rows start..n of one batch. Returns (next row, exceptions, issuing fill, rows left
    out by the BAN filter): the next row is short of n when the issuing table is half full; grow
    it and call again.

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
    last_key = np.int64(-1)
    last_pos = np.int64(0)
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
    acc_used, acc_in, acc_adj, acc_live, acc_void, acc_failed = zero, zero, zero, zero, zero, zero
    acc_far = zero
    acc_rows = 0
    for ii in range(start, n):
        i = np.uint64(ii)
        if views:
            s = np.uint64(16) * i + np.uint64(4)
            length = np.int64(offsets[np.uint64(4) * i])
        else:
            s = np.uint64(offsets[i])
            length = np.int64(offsets[i + np.uint64(1)]) - np.int64(s)
        if length != 10:
            exceptions[ne] = ii
            ne += 1
            continue
        t0 = np.int64(data[s]) - 65
        t1 = np.int64(data[s + np.uint64(1)]) - 65
        # The eight digits as one little-endian word, checked and converted without a branch
        # per digit (SWAR): every byte must be 0x30..0x39.
        w = np.uint64(0)
        for k in range(8):
            w |= np.uint64(data[s + np.uint64(2 + k)]) << np.uint64(8 * k)
        ok = (0 <= t0 <= 25 and 0 <= t1 <= 25
              and (w & _HIGH_NIBBLES) == _ZEROS and ((w + _SIXES) & _HIGH_NIBBLES) == _ZEROS)
        w -= _ZEROS
        w = (w * np.uint64(10) + (w >> np.uint64(8))) & np.uint64(0x00FF00FF00FF00FF)
        w = (w * np.uint64(100) + (w >> np.uint64(16))) & np.uint64(0x0000FFFF0000FFFF)
        w = (w * np.uint64(10000) + (w >> np.uint64(32))) & np.uint64(0xFFFFFFFF)
        number = np.int64(w)
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
            if held != machine:
                if held == -1:
                    slot_owner[owner + np.uint64(1)] = machine
                else:
                    exceptions[ne] = ii
                    ne += 1
                    continue
            if offset == 0:
                # The layout of the key: dense.py (ISSUING_KEY_BITS) unpacks it and bounds its parts.
                key = ((np.int64(ban) << 42) | (np.int64(machine) << 18) | (track << 8)
                       | np.int64(date_day[np.uint64(dc)]))
                if key != last_key:
                    if 4 * (iss_fill + 1) > len(issuing):  # half full
                        # Stop before this row changes anything: the caller grows the table and
                        # calls again from this row (a new call starts a new run).
                        if in_run:
                            _flush(slot_state, run_slot, acc_used, acc_in, acc_adj, acc_live,
                                   acc_void, acc_failed, acc_far, acc_rows)
                        return ii, ne, iss_fill, left_out
                    last_pos, new = _issuing_find(issuing, key)
                    iss_fill += new
                    last_key = key
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
            # last_key is the run's (ban, till, track, day)
            issuing[np.uint64(2) * np.uint64(last_pos) + np.uint64(1)] += 1
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
    return n, ne, iss_fill, left_out
