"""BookletUsage: what the invoices used of a period's allocation booklets, whichever path read them.

Every path ends here: the validating path and the one-pass polars path give usage per till and
booklet (`joined`: a join on the booklet key); a dense scan in which every row fell in its
allocation booklet gives the usage of each booklet by position (`by_position`: no join at all).
The domain steps (blanks, skipped, the findings about invoices) read only this.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from ..booklets import booklet_usage, is_one_row_a_booklet, keyed
from ..period import Period
from ..skipped import used_stretches

if TYPE_CHECKING:  # numpy is loaded only with the dense scan
    from .by_position import ByPosition


@dataclass(frozen=True)
class BookletUsage:
    """The booklet usage of one period's invoices.

    `booklets`: one row per (allocation, booklet), allocation_booklets' columns (alloc_id, ban,
    track, booklet, alloc_mask, key) and `used_mask`, the numbers its own BAN used in it.
    `used_elsewhere`: (track, booklet, mask), numbers used by a seller outside its own allocations
    or by a seller left out by --ban: never blank for anyone (spec §3). Complete where it meets
    an allocation booklet (a dense scan drops a left-out seller's row outside them).
    `sellers`: per (seller_ban, track, booklet) every usage mask (booklets.USAGE_MASKS, live_rows)
    and `alloc_union`, the numbers of the seller's allocations in that booklet: what the findings
    about single invoices are chosen from.
    `stretches`: (alloc_id, machine, lo, hi), per allocation and till the lowest and highest
    number it used (the segments of skipped numbers start from these).
    `issuing`: invoices per (seller_ban, machine, track, invoice_date) dated in the period.
    `rows_by_file`: (source, rows), invoice rows read from each file.
    `clean`: every invoice number is written exactly (a filtered re-read may match it as text).
    """

    period: Period
    invoice_paths: tuple[str | Path, ...]
    bans: pl.Series | None  # the reported sellers (--ban), None for all
    booklets: pl.DataFrame
    used_elsewhere: pl.DataFrame
    sellers: pl.LazyFrame
    stretches: pl.DataFrame
    issuing: pl.DataFrame
    rows_by_file: pl.DataFrame
    clean: bool

    @classmethod
    def joined(cls, period: Period, invoice_paths: Sequence[str | Path], bans: pl.Series | None,
               alloc_booklets: pl.DataFrame, by_machine: pl.DataFrame, foreign: pl.DataFrame,
               issuing: pl.DataFrame, rows_by_file: pl.DataFrame, *, clean: bool
               ) -> BookletUsage:
        """From usage per (seller_ban, track, booklet, machine), joined to the allocation
        booklets on the booklet key; `foreign`: (track, booklet, mask) of sellers left out."""
        by_machine = keyed(by_machine, "seller_ban")  # once for the joins below
        usage = booklet_usage(by_machine).collect(engine="streaming")
        alloc_booklets = keyed(alloc_booklets, "ban")
        booklets = (
            alloc_booklets.lazy()
            # Streaming engine, one integer key: on millions of booklets several times faster.
            .join(usage.lazy().select("key", "used_mask"), on="key", how="left")
            .with_columns(pl.col("used_mask").fill_null(0))
            .collect(engine="streaming")
        )
        sellers = (
            usage.lazy().join(_union(alloc_booklets), on="key", how="left")
            .with_columns(pl.col("alloc_union").fill_null(0))
        )
        outside = sellers.select("track", "booklet",
                                 mask=pl.col("used_mask") & ~pl.col("alloc_union"))
        stretches = used_stretches(
            alloc_booklets.lazy().join(by_machine.lazy().select("key", "machine", "used_mask"),
                                       on="key")
        ).collect(engine="streaming")  # millions of booklets: faster than in memory
        return cls(period=period, invoice_paths=tuple(invoice_paths), bans=bans,
                   booklets=booklets, used_elsewhere=_folded([foreign.lazy(), outside]),
                   sellers=sellers, stretches=stretches, issuing=issuing,
                   rows_by_file=rows_by_file, clean=clean)

    @classmethod
    def by_position(cls, period: Period, invoice_paths: Sequence[str | Path],
                    bans: pl.Series | None, alloc_booklets: pl.DataFrame, by_slot: ByPosition,
                    foreign: pl.DataFrame, issuing: pl.DataFrame, rows_by_file: pl.DataFrame
                    ) -> BookletUsage:
        """From a dense scan whose slots are the allocation booklets one for one: every row in
        its seller's own booklet, so nothing was used outside the allocations but by sellers
        left out (`foreign`), and each booklet is one allocation's."""
        matched = by_slot.matched(keyed(alloc_booklets, "ban"))
        return cls(period=period, invoice_paths=tuple(invoice_paths), bans=bans,
                   booklets=matched, used_elsewhere=_folded([foreign.lazy()]),
                   sellers=matched.lazy().with_columns(seller_ban="ban",
                                                       alloc_union="alloc_mask"),
                   stretches=by_slot.stretches(matched), issuing=issuing,
                   rows_by_file=rows_by_file, clean=True)


def _union(alloc_booklets: pl.DataFrame) -> pl.LazyFrame:
    """(key, alloc_union): per (BAN, track, booklet), the numbers the BAN's allocations hold."""
    if is_one_row_a_booklet(alloc_booklets, "ban"):  # no booklet shared by two allocations
        return alloc_booklets.lazy().select("key", alloc_union="alloc_mask")
    return alloc_booklets.lazy().group_by("key").agg(
        alloc_union=pl.col("alloc_mask").bitwise_or()
    )


def _folded(parts: list[pl.LazyFrame]) -> pl.DataFrame:
    """(track, booklet, mask) parts, one row per booklet with some number in them."""
    return (
        pl.concat(parts)
        .filter(pl.col("mask") != 0)
        .group_by("track", "booklet")
        .agg(pl.col("mask").bitwise_or())
        .collect(engine="streaming")
    )
