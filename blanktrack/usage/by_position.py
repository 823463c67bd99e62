"""What a dense scan found, per allocation booklet, when every invoice row fell in a slot.

When no row was left to polars (no number outside the allocations, no second till in a booklet,
no booklet of two sellers) and no booklet belongs to two allocations, each allocation booklet has
exactly one slot and the slot's masks are its usage. usage.result then builds the booklet usage
by position, as columns beside the allocation booklets, instead of joining millions of booklets
on their key (bench/README.md, "Where the time goes (reconcile)").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from ..booklets import USAGE_MASKS
from ..skipped import used_stretches
from .booklet_slots import Slots


@dataclass(frozen=True)
class ByPosition:
    """The usage of each allocation booklet, in allocation_booklets' row order."""

    masks: dict[str, np.ndarray]  # USAGE_MASKS → uint64 per allocation booklet
    live_rows: np.ndarray
    till: np.ndarray  # per allocation booklet: the index of its till in machines, -1 for none
    machines: pl.Series  # the tills' names (null for rows that named none)

    @classmethod
    def of(cls, slots: Slots, masks: list[np.ndarray], live_rows: np.ndarray,
           slot_machine: np.ndarray, machines: pl.Series) -> ByPosition | None:
        """From a dense scan's folded tallies; None unless the slots are the allocation booklets
        one for one (every booklet one allocation's, so one seller's): then the tally is the
        usage of each booklet, in order."""
        if not slots.by_allocation:
            return None
        return cls(masks=dict(zip(USAGE_MASKS, masks, strict=True)), live_rows=live_rows,
                   till=slot_machine, machines=machines)

    def matched(self, alloc_booklets: pl.DataFrame) -> pl.DataFrame:
        """The allocation booklets (allocation_booklets of the same allocations) with the usage
        of each beside it, its masks and live rows, as a join on the booklet key gives them."""
        if alloc_booklets.height != len(self.live_rows):
            raise ValueError("these are not the allocation booklets the scan was made for")
        return alloc_booklets.with_columns(
            *[pl.Series(m, a, pl.UInt64) for m, a in self.masks.items()],
            pl.Series("live_rows", self.live_rows, pl.Int64),
        )

    def stretches(self, matched: pl.DataFrame) -> pl.DataFrame:
        """skipped.used_stretches of these booklets: grouped by the till's index, not its name
        (text per booklet is slower), the few results named after."""
        till = pl.Series("machine", self.till, pl.Int64)
        found = used_stretches(matched.lazy().with_columns(till)).collect(engine="streaming")
        names = pl.concat([self.machines.cast(pl.String), pl.Series([None], dtype=pl.String)])
        index = found["machine"].to_numpy()
        return found.with_columns(  # -1 (no till) points past the names, at the null
            machine=names.gather(np.where(index < 0, len(self.machines), index)))
