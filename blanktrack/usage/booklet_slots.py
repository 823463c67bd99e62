"""The period's booklets as dense slots: every (track, booklet) the allocations hold gets a number
in (track, booklet) order, found from a row's track and number by indexing a table, not by a
hash. Numbered in numpy: a period has millions of booklets.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import polars as pl

from ..schemas import BOOKLET_SIZE

MAX_SLOTS = 64_000_000  # 256 MB of slot table; a wider spread of booklets takes the polars path


@dataclass
class Slots:
    """The period's booklets as dense slots (read only while scanning)."""

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
    by_allocation: bool  # slot k is allocation booklet k (allocation_booklets' order)

    @functools.cached_property
    def booklet_seat(self) -> np.ndarray:
        """booklet_slot and the slot's seller side by side (int32 pairs, the seller -1 where no
        slot): one cache line where a row out of order would read two."""
        seat = np.empty(2 * len(self.booklet_slot), np.int32)
        seat[0::2] = self.booklet_slot
        held = self.booklet_slot >= 0
        seat[1::2] = np.where(held, self.slot_ban[np.where(held, self.booklet_slot, 0)], -1)
        return seat

    @functools.cached_property
    def slot_track_code(self) -> np.ndarray:
        """Each slot's track as the compiled loop codes it (26 * first letter + second, 0..675),
        int32."""
        codes = np.array([(ord(t[0]) - 65) * 26 + ord(t[1]) - 65 for t in self.tracks], np.int32)
        return codes[self.slot_track]


def booklet_slots(allocations: pl.DataFrame) -> Slots | None:
    """Number the booklets of the allocations, in numpy: no sort and no group-by of the millions
    of booklets a large period has."""
    tracks = sorted(allocations["track"].unique().to_list())
    bans = sorted(allocations["ban"].unique().to_list())
    alloc = allocations.select(
        t=pl.col("track").replace_strict(tracks, range(len(tracks)), return_dtype=pl.Int64),
        b=pl.col("ban").replace_strict(bans, range(len(bans)), return_dtype=pl.Int32),
        lo=pl.col("begin") // BOOKLET_SIZE,
        hi=pl.col("end") // BOOKLET_SIZE,
    )
    spans = alloc.group_by("t").agg(first=pl.col("lo").min(), last=pl.col("hi").max()).sort("t")
    first = spans["first"].to_numpy().astype(np.int64)
    span = (spans["last"] - spans["first"] + 1).to_numpy().astype(np.int64)
    if span.sum() > MAX_SLOTS:
        return None
    base = np.concatenate([[0], np.cumsum(span)[:-1]]).astype(np.int64)
    # Every allocation's booklets as positions in the table (an allocation is a few booklets
    # to a few thousand; exploded with repeat, not a loop), in allocation_booklets' row order.
    t, lo, hi = alloc["t"].to_numpy(), alloc["lo"].to_numpy(), alloc["hi"].to_numpy()
    count = hi - lo + 1
    # Each allocation's k-th booklet is its first plus k: the per-allocation starts, repeated,
    # plus one running count (k plus the booklets of the allocations before) over them all.
    before = np.cumsum(count) - count
    running = np.arange(count.sum(), dtype=np.int64)
    position = np.repeat(base[t] - first[t] + lo - before, count) + running
    taken = np.zeros(int(span.sum()), np.bool_)
    taken[position] = True
    seller = np.repeat(alloc["b"].to_numpy(), count)
    by_allocation = bool(taken.sum() == len(position))
    if by_allocation:
        # Every booklet one allocation's (nearly always): the slots numbered in the allocation
        # booklets' order, so that their usage by position (by_slot.py) is the tally itself.
        booklet_slot = np.full(len(taken), -1, np.int32)
        booklet_slot[position] = np.arange(len(position), dtype=np.int32)
        slot_track = np.repeat(t.astype(np.int32), count)
        slot_booklet = np.repeat(lo - before, count) + running
        slot_ban = seller.astype(np.int32)
    else:  # in (track, booklet) order, a booklet of several allocations once
        booklet_slot = (np.cumsum(taken, dtype=np.int64) - 1).astype(np.int32)
        booklet_slot[~taken] = -1
        held = np.flatnonzero(taken)
        slot_track = (np.searchsorted(base, held, side="right") - 1).astype(np.int32)
        slot_booklet = first[slot_track] + held - base[slot_track]
        slot_ban = np.full(len(held), -1, np.int32)
        slot = booklet_slot[position]
        slot_ban[slot] = seller
        slot_ban[slot[slot_ban[slot] != seller]] = -2  # two sellers hold it: rows go to polars
    return Slots(tracks, bans, track_slot=_track_slots(tracks), track_first=first,
                  track_base=base, track_span=span, booklet_slot=booklet_slot,
                  slot_track=slot_track, slot_booklet=slot_booklet, slot_ban=slot_ban,
                  by_allocation=by_allocation)


def _track_slots(tracks: list[str]) -> np.ndarray:
    track_slot = np.full(26 * 26, -1, np.int32)
    for k, track in enumerate(tracks):
        track_slot[(ord(track[0]) - 65) * 26 + ord(track[1]) - 65] = k
    return track_slot
