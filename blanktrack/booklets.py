"""Booklet-level state: what the allocations hold and what the invoices used, 50 numbers a row.

An allocation is whole booklets of 50 numbers, so the whole period fits in one row per booklet
with a 50-bit mask per fact (allocated, used, voided, …). The invoices are reduced to those masks by
a single hash group-by: no sort of the invoices and no Python loop over their rows. Only a booklet
that is partly used is ever expanded to single numbers.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from .schemas import BOOKLET_SIZE

# Per (seller BAN, track, booklet[, machine]): how numbers were used. far_mask: numbers of invoices
# dated more than one period from P, which never use P's numbers (spec §3) but are findings.
USAGE_MASKS = ("used_mask", "in_period_mask", "adjacent_mask", "live_mask", "void_mask",
               "failed_mask", "far_mask")


def bit(expr: pl.Expr) -> pl.Expr:
    """2**expr as an unsigned 64-bit mask."""
    return pl.lit(2, dtype=pl.UInt64).pow(expr.cast(pl.UInt64))


def booklet_key(ban: str, booklet: pl.Expr | None = None) -> pl.Expr:
    """(BAN, track, booklet) as one Int64, to join and group millions of booklets on one integer
    instead of two strings: BAN < 10**8, a track read in base 36 < 1296, booklet < 2 * 10**6."""
    return ((pl.col(ban).cast(pl.Int64) * 1296 + pl.col("track").str.to_integer(base=36))
            * 2_000_000 + (pl.col("booklet") if booklet is None else booklet))


def keyed(frame: pl.DataFrame, ban: str) -> pl.DataFrame:
    """The frame with its booklet_key as column `key`, computed only if it is not there yet
    (reconcile computes it once for the several joins on it)."""
    return frame if "key" in frame.columns else frame.with_columns(key=booklet_key(ban))


def is_one_row_a_booklet(frame: pl.DataFrame, ban: str) -> bool:
    """Whether no (BAN, track, booklet) has two rows: then a group-by per booklet has nothing to
    fold (counting distinct keys is much cheaper than the group-by on millions of booklets)."""
    return keyed(frame, ban)["key"].n_unique() == frame.height


# 2**k for k = 0..63, as a table: mask_between looks its two bits up instead of raising 2 to a
# power, which costs several times as much over the hundreds of thousands of allocation booklets.
_BITS = pl.Series("bit", [1 << k for k in range(64)], dtype=pl.UInt64)


def mask_between(lo: pl.Expr, hi: pl.Expr) -> pl.Expr:
    """Mask with bits lo..hi set (0 ≤ lo ≤ hi ≤ 49). For the allocations' queries (in memory);
    the invoices' streamed reduction uses bit()."""
    bits = pl.lit(_BITS)
    return bits.gather(hi + 1) - bits.gather(lo)


def highest_bit(mask: pl.Expr) -> pl.Expr:
    return 63 - mask.bitwise_leading_zeros().cast(pl.Int64)


def lowest_bit(mask: pl.Expr) -> pl.Expr:
    return mask.bitwise_trailing_zeros().cast(pl.Int64)


def prepare_allocations(allocations: pl.DataFrame) -> pl.DataFrame:
    """Add an allocation id and integer begin/end; identical rows are counted once."""
    keys = [c for c in allocations.columns if c not in ("source", "line")]
    return (
        allocations.unique(subset=keys, keep="first", maintain_order=True)
        .with_row_index("alloc_id")
        .with_columns(
            begin=pl.col("begin_no").cast(pl.Int64),
            end=pl.col("end_no").cast(pl.Int64),
        )
    )


def allocation_booklets(prepared: pl.DataFrame) -> pl.DataFrame:
    """One row per (allocation, booklet) with the mask of the allocation's numbers in it, and the
    booklet's booklet_key (computed per allocation, before the booklets are spread out)."""
    return (
        prepared.lazy().select(  # one query, collected once
            "alloc_id", "ban", "track", "begin", "end",
            key0=booklet_key("ban", booklet=pl.lit(0)),
            booklet=pl.int_ranges(
                pl.col("begin") // BOOKLET_SIZE, pl.col("end") // BOOKLET_SIZE + 1
            ),
        )
        .explode("booklet")
        .with_columns(base=pl.col("booklet") * BOOKLET_SIZE)
        .with_columns(
            alloc_mask=mask_between(
                pl.max_horizontal(pl.col("begin"), pl.col("base")) - pl.col("base"),
                pl.min_horizontal(pl.col("end"), pl.col("base") + BOOKLET_SIZE - 1)
                - pl.col("base"),
            ),
            key=pl.col("key0") + pl.col("booklet"),
        )
        .select("alloc_id", "ban", "track", "booklet", "alloc_mask", "key")
        .collect()
    )


def booklet_usage(usage_by_machine: pl.LazyFrame | pl.DataFrame) -> pl.LazyFrame:
    """The machine-level masks folded to one row per (seller BAN, track, booklet)."""
    if isinstance(usage_by_machine, pl.DataFrame) and is_one_row_a_booklet(usage_by_machine,
                                                                            "seller_ban"):
        return usage_by_machine.lazy().drop("machine")  # one till a booklet: nothing to fold
    keys = ("seller_ban", "track", "booklet")
    return fold_usage(usage_by_machine.lazy(),
                      (*keys, "key") if "key" in usage_by_machine.collect_schema() else keys)


def fold_usage(usage: pl.LazyFrame, keys: Sequence[str]) -> pl.LazyFrame:
    """Rows of usage masks folded to one per key: the masks OR-ed, the live rows summed."""
    return usage.group_by(*keys).agg(*[pl.col(m).bitwise_or() for m in USAGE_MASKS],
                                     pl.col("live_rows").sum())
