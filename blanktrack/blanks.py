"""The blank rule (spec §3): every allocated number no invoice of the BAN used, as maximal runs."""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from .booklets import bit, highest_bit, lowest_bit, mask_between
from .schemas import BLANK_RANGE_SCHEMA, BOOKLET_SIZE
from .split import Split

if TYPE_CHECKING:
    from .usage import BookletUsage

# What a run never crosses: one report row belongs to one BAN/type/track and one reporter.
RUN_KEYS = ["period", "head_ban", "ban", "invoice_type", "track", "reported_by"]


def booklet_state(usage: BookletUsage, withheld: pl.DataFrame) -> pl.DataFrame:
    """The allocation booklets with what was used of them (alloc_id, ban, track, booklet,
    alloc_mask, used_in, blank_mask), in no particular order: whatever shows or exports them
    sorts first.

    A number any input shows used is never blank (spec §3): usage.used_elsewhere are numbers
    sellers used outside their own allocations. `withheld` (track, booklet, mask) are numbers
    two allocations claim: blank for nobody until the overlap is resolved.
    """
    joined = usage.booklets.lazy().select("alloc_id", "ban", "track", "booklet", "alloc_mask",
                                          "used_mask")
    held = pl.lit(0, pl.UInt64)
    # Both are few rows, and nearly always none: joined only when there are any.
    if not usage.used_elsewhere.is_empty():
        joined = joined.join(usage.used_elsewhere.lazy().select("track", "booklet", other="mask"),
                             on=["track", "booklet"], how="left").with_columns(
            used_mask=pl.col("used_mask") | pl.col("other").fill_null(0)).drop("other")
    if not withheld.is_empty():
        joined = joined.join(withheld.lazy().select("track", "booklet", held="mask"),
                             on=["track", "booklet"], how="left")
        held = pl.col("held").fill_null(0)
    return (
        joined
        .with_columns(
            used_in=pl.col("used_mask") & pl.col("alloc_mask"),
            blank_mask=pl.col("alloc_mask") & ~pl.col("used_mask") & ~held,
        )
        .drop("used_mask", "held", strict=False)
        .collect(engine="streaming")
    )


def number_masks(ranges: pl.DataFrame) -> pl.DataFrame:
    """(track, lo, hi) ranges of numbers as (track, booklet, mask), one row per booklet."""
    base = pl.col("booklet") * BOOKLET_SIZE
    return (
        ranges.select("track", "lo", "hi",
                      booklet=pl.int_ranges(pl.col("lo") // BOOKLET_SIZE,
                                            pl.col("hi") // BOOKLET_SIZE + 1))
        .explode("booklet")
        .select("track", "booklet", mask=mask_between(
            pl.max_horizontal("lo", base) - base,
            pl.min_horizontal("hi", base + BOOKLET_SIZE - 1) - base))
        .group_by("track", "booklet")
        .agg(pl.col("mask").bitwise_or())
    )


def blank_intervals(state: pl.DataFrame) -> pl.DataFrame:
    """Blank numbers as (alloc_id, booklet, begin, end) pieces.

    A wholly blank booklet is one piece; only partly blank booklets are expanded to numbers.
    """
    base = pl.col("booklet") * BOOKLET_SIZE
    booklets = state.lazy()  # one query, collected once (each eager step is a collect)
    whole = booklets.filter(pl.col("blank_mask") == pl.col("alloc_mask")).select(
        "alloc_id", "booklet",
        begin=base + lowest_bit(pl.col("alloc_mask")),
        end=base + highest_bit(pl.col("alloc_mask")),
    )
    partial = (
        booklets.filter((pl.col("blank_mask") != pl.col("alloc_mask"))
                        & (pl.col("blank_mask") != 0))
        .select("alloc_id", "booklet", "blank_mask", k=pl.int_ranges(0, BOOKLET_SIZE))
        .explode("k")
        .filter((pl.col("blank_mask") // bit(pl.col("k"))) % 2 == 1)
        .select("alloc_id", "booklet", begin=base + pl.col("k"), end=base + pl.col("k"))
    )
    return pl.concat([whole, partial]).collect()


# Run groups lie this far apart on one number line (numbers have 8 digits), so that one sort and
# one running maximum merge every group's pieces at once, never across two groups.
_GROUP_STRIDE = 1_000_000_000


def merge_runs(pieces: pl.DataFrame) -> pl.DataFrame:
    """Merge pieces (group, begin, end) into maximal runs of consecutive numbers per group.

    `group` is an integer that separates what may not merge (0 ≤ group < 2**33). Sorts the
    pieces (few: one per booklet at most, or per blank number of a partly used booklet), never
    the invoices, and on integers only: sorting them by text keys and merging per key window
    was several times slower. Overlapping pieces are merged too. Returns (group, begin, end)
    sorted by group and begin.
    """
    return merged_runs(pieces.lazy()).collect()


def merged_runs(pieces: pl.LazyFrame) -> pl.LazyFrame:
    """merge_runs as a query, for callers that go on with it and collect once."""
    origin = pl.col("group").cast(pl.Int64) * _GROUP_STRIDE
    line = pieces.select("group", begin=origin + pl.col("begin"), end=origin + pl.col("end")
                         ).sort("begin")
    before = pl.col("end").cum_max().shift(1)
    # A run starts where a piece begins past every piece before it; it ends where the next
    # starts, at the running maximum of the ends there (no piece of an earlier run reaches
    # that far). Picked out by two filters of equal length: no group-by over the pieces.
    start = pl.col("start")
    return (
        line.with_columns(start=before.is_null() | (pl.col("begin") > before + 1),
                          reach=pl.col("end").cum_max())
        .select(pl.col("group").filter(start), pl.col("begin").filter(start),
                end=pl.col("reach").filter(start.shift(-1, fill_value=True)))
        .select("group", *[(pl.col(c) - pl.col("group").cast(pl.Int64) * _GROUP_STRIDE)
                           for c in ("begin", "end")])
    )


def run_groups(allocations: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """(alloc_id, group, *keys): one group number per distinct keys, numbered in their order."""
    attrs = allocations.lazy().select("alloc_id", *[k for k in keys if k != "alloc_id"])
    groups = (attrs.select(keys).unique().sort(keys, nulls_last=True)
              .with_row_index("group"))
    return attrs.join(groups, on=keys, how="left", nulls_equal=True).collect()


def number_str(expr: pl.Expr) -> pl.Expr:
    return expr.cast(pl.String).str.zfill(8)


def blank_ranges(intervals: pl.DataFrame, allocations: pl.DataFrame, split: Split = "none"
                 ) -> pl.DataFrame:
    """The report rows from blank_intervals(state): maximal blank runs per BAN/type/track, cut
    at allocation or booklet edges when asked. Sorted by BAN, type, track, begin."""
    keys = list(RUN_KEYS)
    if split == "allocation":
        keys.append("alloc_id")  # booklet: cut at booklet edges only (spec §3), so two
        # allocations that share a booklet (not whole booklets) still merge inside it
    groups = run_groups(allocations, keys)
    # One query from here, collected once (each eager step is a collect).
    pieces = intervals.lazy().join(
        groups.lazy().select("alloc_id", "group"), on="alloc_id", how="left")
    if split == "booklet":
        # A run never crosses a booklet: shifting each booklet's numbers by its index leaves a
        # gap of one between neighbouring booklets (begin < 10**8, booklet < 2 * 10**6).
        pieces = pieces.with_columns(pl.col("begin") + pl.col("booklet"),
                                     pl.col("end") + pl.col("booklet"))
        runs = merged_runs(pieces).with_columns(
            booklet=pl.col("begin") // (BOOKLET_SIZE + 1))
        runs = runs.with_columns(pl.col("begin") - pl.col("booklet"),
                                 pl.col("end") - pl.col("booklet"))
    else:
        runs = merged_runs(pieces)
    named = groups.lazy().select("group", *RUN_KEYS).unique("group")
    return _report_rows(runs.join(named, on="group", how="left")).collect()


def _report_rows(runs: pl.LazyFrame) -> pl.LazyFrame:
    return (
        runs.select(
            "period", "head_ban", "ban", "invoice_type", "track",
            begin_no=number_str(pl.col("begin")),
            end_no=number_str(pl.col("end")),
            count=(pl.col("end") - pl.col("begin") + 1).cast(pl.Int64),
            reported_by=pl.col("reported_by"),
        )
        .cast(pl.Schema(BLANK_RANGE_SCHEMA))
        .sort(["ban", "invoice_type", "track", "begin_no", "reported_by"], nulls_last=True)
    )
