"""The compiled coding of a CSV batch's text keys (date, seller, till, status, upload status) into
small integer codes, for the dense scan's loop (slot_tally.py), without polars' Categorical.

polars hands a String column to Arrow as `string_view`: 16 bytes a row, and a value of at most
12 bytes lies inside them (its length, then its bytes, zero-padded: Arrow's layout), so the two
64-bit words of a view are the value. A row whose view equals the row before's takes its code
(runs of one date, seller, till or status cost one compare); else the view is found in an
open-addressing table of the values met so far, kept from batch to batch and file to file, so a
value keeps its code and is looked at (distinct_values.py) once. A value longer than 12 bytes
stops the loop: the caller codes that column of that batch by another way (csv_batches.py).

A typed date's days are coded here too (day_codes): a timestamp's day is its ticks divided by
the ticks of a day, a constant per unit, which the compiler turns into a multiplication where
numpy divides.

Compiled with numba; native_loop.py keeps the machine code as it does slot_tally.py's.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# A table entry: the view's two words, the code (-1: empty), a word of padding (32 bytes: two
# entries a cache line).
ENTRY_WORDS = 4
INLINE_BYTES = 12  # a view holds values of at most this many bytes itself (Arrow's layout)
# A table is kept at most 1/8 full while it has at most SPARSE_ENTRIES entries (2 MiB), at most
# half full beyond: fewer probes go on past their first entry, a branch the processor
# mispredicts (the bench's keys: dates 29% → 9% of rows, sellers 11% → 1%; bench/README.md,
# "Key tables at most 1/8 full"). A column of very many values keeps the smaller table.
SPARSE_ENTRIES = 1 << 16
# code_keys' stop reasons
DONE, TABLE_FULL, LONG_VALUE = 0, 1, 2


@njit(cache=True, nogil=True)
def _shift(entries: int) -> np.uint64:
    """64 less log2(entries) (a power of 2), at most 63 (a shift by 64 is undefined): the shift
    that leaves a probe's start (_slot; masked too, for a table of one entry)."""
    bits = 1
    while (1 << bits) < entries:
        bits += 1
    return np.uint64(64 - bits)


@njit(cache=True, nogil=True)
def _slot(w0: np.uint64, w1: np.uint64, shift: np.uint64) -> np.uint64:
    """Where a view's probe starts: the high bits of a product of both words (a product's high
    bits see every bit of its factor, its low bits only the factor's low ones: dates of one
    month differ in their last bytes, and collided in the low bits)."""
    x = (w0 ^ (w1 * np.uint64(0xC2B2AE3D27D4EB4F))) * np.uint64(0x9E3779B97F4A7C15)
    return x >> shift


@njit(cache=True, nogil=True)
def code_keys(views: np.ndarray, validity: np.ndarray, bit_offset: int, null_code: int,
              table: np.ndarray, keys: np.ndarray, n_codes: int, codes: np.ndarray,
              start: int) -> tuple[int, int, int]:
    """Codes of rows start.. of a string_view column (`views`: two uint64 words a row) into
    `codes`; a null row (its bit clear in `validity`, empty: no nulls) gets null_code. A value
    not in `table` gets code n_codes, its view in keys[2 * code:2 * code + 2].

    Returns (rows done, n_codes, why it stopped): DONE; TABLE_FULL (full to its bound, or `keys` full:
    grow them, call again from the row done); LONG_VALUE (the row done holds a value longer
    than INLINE_BYTES: nothing is known of the column's codes past it)."""
    # Indices are unsigned where they cannot be negative: numba then leaves out its check for
    # negative (wrap-around) indices (bench/README.md, "One tally for the rows out of order").
    one, two, words = np.uint64(1), np.uint64(2), np.uint64(ENTRY_WORDS)
    n = len(codes)
    entries = len(table) // ENTRY_WORDS
    mask = np.uint64(entries - 1)
    shift = _shift(entries)
    room = entries >> (3 - 2 * (entries > SPARSE_ENTRIES))  # codes the table holds
    has_nulls = len(validity) > 0
    prev0, prev1, prev_code = np.uint64(0), np.uint64(0), np.int64(-1)
    for ii in range(start, n):
        i = np.uint64(ii)
        if has_nulls:
            bit = np.uint64(bit_offset) + i
            if not (validity[bit >> np.uint64(3)] >> (bit & np.uint64(7))) & 1:
                codes[i] = null_code
                continue
        w0, w1 = views[two * i], views[two * i + one]
        if w0 == prev0 and w1 == prev1 and prev_code >= 0:
            codes[i] = prev_code
            continue
        if (w0 & np.uint64(0xFFFFFFFF)) > np.uint64(INLINE_BYTES):
            return ii, n_codes, LONG_VALUE
        h = _slot(w0, w1, shift) & mask
        while True:
            at = words * h
            code = table[at + two]
            if code < 0:
                if n_codes + 1 > room or 2 * (n_codes + 1) > len(keys):
                    return ii, n_codes, TABLE_FULL
                code = n_codes
                n_codes += 1
                table[at] = np.int64(w0)
                table[at + one] = np.int64(w1)
                table[at + two] = code
                keys[two * np.uint64(code)] = w0
                keys[two * np.uint64(code) + one] = w1
                break
            if np.uint64(table[at]) == w0 and np.uint64(table[at + one]) == w1:
                break
            h = (h + one) & mask
        codes[i] = code
        prev0, prev1, prev_code = w0, w1, code
    return n, n_codes, DONE


@njit(cache=True, nogil=True)
def key_rehash(table: np.ndarray, new_table: np.ndarray) -> None:
    """The entries of `table` put in `new_table` (empty: every code -1), their codes kept."""
    entries = len(new_table) // ENTRY_WORDS
    mask = np.uint64(entries - 1)
    shift = _shift(entries)
    for e in range(len(table) // ENTRY_WORDS):
        code = table[ENTRY_WORDS * e + 2]
        if code < 0:
            continue
        w0, w1 = np.uint64(table[ENTRY_WORDS * e]), np.uint64(table[ENTRY_WORDS * e + 1])
        h = _slot(w0, w1, shift) & mask
        while new_table[np.uint64(ENTRY_WORDS) * h + np.uint64(2)] >= 0:
            h = (h + np.uint64(1)) & mask
        at = np.uint64(ENTRY_WORDS) * h
        new_table[at] = np.int64(w0)
        new_table[at + np.uint64(1)] = np.int64(w1)
        new_table[at + np.uint64(2)] = code


# day_codes' units: the ticks of a day of each (a date32's ticks are days)
DAY_TICKS = (1, 86_400, 86_400_000, 86_400_000_000, 86_400_000_000_000)


@njit(cache=True, nogil=True, inline="always")
def _days_from(ticks: np.ndarray, first: int, per_day: int, codes: np.ndarray) -> None:
    """codes[i] = (ticks[i] - first * per_day) // per_day: the day less `first`, never below 0
    (first is the lowest day); per_day a constant where this is inlined."""
    base = first * per_day
    for i in range(len(ticks)):
        codes[i] = np.int32(np.uint64(ticks[i] - base) // np.uint64(per_day))


@njit(cache=True, nogil=True)
def day_codes(ticks: np.ndarray, unit: int, span: int, codes: np.ndarray) -> tuple[int, int]:
    """The calendar days of `ticks` (DAY_TICKS[unit] a day, from 1970-01-01, a day before
    that negative): (first day, last day); when they span fewer than `span` days, each row's
    day less the first written to codes[:len(ticks)] (else codes are left as they are)."""
    n = len(ticks)
    if n == 0:
        return 0, -1
    low, high = ticks[0], ticks[0]
    for i in range(1, n):
        t = ticks[i]
        low = min(low, t)
        high = max(high, t)
    per_day = DAY_TICKS[unit]
    first, last = low // per_day, high // per_day  # floor division: the day of a negative tick
    if last - first >= span:
        return first, last
    # One call per unit, each with its ticks a day as a constant (a literal index into the
    # global tuple is one), so that each loop divides by a constant.
    if unit == 0:
        _days_from(ticks, first, DAY_TICKS[0], codes)
    elif unit == 1:
        _days_from(ticks, first, DAY_TICKS[1], codes)
    elif unit == 2:
        _days_from(ticks, first, DAY_TICKS[2], codes)
    elif unit == 3:
        _days_from(ticks, first, DAY_TICKS[3], codes)
    else:
        _days_from(ticks, first, DAY_TICKS[4], codes)
    return first, last
