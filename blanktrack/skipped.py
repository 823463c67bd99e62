"""Skipped numbers (跳號): blank numbers below the highest number used in the same segment.

A segment is the stretch of an allocation one issuer walks through in order:
- an allocation row handed to a machine (its `machine` set): from its begin to its highest used;
- otherwise, per till named on the invoices: from the lowest to the highest number it used there
  (so the unused tail of one till's sub-range is not mistaken for a skip);
- invoices that name no till: from the allocation's begin to its highest used number.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from .blanks import RUN_KEYS, merged_runs
from .booklets import highest_bit, lowest_bit
from .schemas import BOOKLET_SIZE

if TYPE_CHECKING:
    from .usage import BookletUsage


def used_stretches(matched: pl.LazyFrame) -> pl.LazyFrame:
    """(alloc_id, machine, lo, hi): per allocation and till, the lowest and highest number it
    used, from allocation booklets (alloc_id, booklet, alloc_mask) beside a till's usage of each
    (machine, used_mask; a booklet nobody used has none)."""
    base = pl.col("booklet") * BOOKLET_SIZE
    return (
        matched.with_columns(m=pl.col("used_mask") & pl.col("alloc_mask"))
        .filter(pl.col("m") != 0)
        .group_by("alloc_id", "machine")
        .agg(
            lo=(base + lowest_bit(pl.col("m"))).min(),
            hi=(base + highest_bit(pl.col("m"))).max(),
        )
    )


def segments(allocations: pl.DataFrame, usage: BookletUsage) -> pl.DataFrame:
    """(alloc_id, machine, seg_begin, seg_end) for every stretch issued in order, from the
    tills' stretches (usage.stretches)."""
    stretches = usage.stretches.lazy()  # one query, collected once
    alloc = allocations.lazy().select("alloc_id", "begin", alloc_machine="machine")
    joined = stretches.join(alloc, on="alloc_id")
    by_allocation = (
        joined.filter(pl.col("alloc_machine").is_not_null())
        .group_by("alloc_id")
        .agg(
            machine=pl.col("alloc_machine").first(),
            seg_begin=pl.col("begin").first(),
            seg_end=pl.col("hi").max(),
        )
    )
    by_till = joined.filter(pl.col("alloc_machine").is_null()).select(
        "alloc_id",
        "machine",
        seg_begin=pl.when(pl.col("machine").is_null())
        .then(pl.col("begin"))
        .otherwise(pl.col("lo")),
        seg_end=pl.col("hi"),
    )
    return (pl.concat([by_allocation, by_till]).sort("alloc_id", "machine", nulls_last=True)
            .collect())


def skipped_ranges(intervals: pl.DataFrame, allocations: pl.DataFrame, segs: pl.DataFrame
                   ) -> pl.DataFrame:
    """Runs of skipped numbers per allocation and machine, with the segment's highest used, from
    blank_intervals(state) and the segments."""
    pieces = intervals.lazy().select("begin", "end", group="alloc_id")
    keys = [*RUN_KEYS, "alloc_id"]
    # One query, collected once; an allocation is one group.
    runs = merged_runs(pieces).rename({"group": "alloc_id"})
    return (
        runs.join(segs.lazy(), on="alloc_id")
        .with_columns(
            begin=pl.max_horizontal("begin", "seg_begin"),
            end=pl.min_horizontal("end", "seg_end"),
        )
        .filter(pl.col("begin") <= pl.col("end"))
        .join(allocations.lazy().select("alloc_id", *RUN_KEYS), on="alloc_id")
        .select(*keys, "machine", "begin", "end", highest_used="seg_end")
        .sort("ban", "invoice_type", "track", "begin", "machine", nulls_last=True)
        .collect()
    )


def skipped_count(skipped: pl.DataFrame) -> pl.DataFrame:
    """Distinct skipped numbers per BAN/type/track (tills whose stretches overlap count once)."""
    union = merged_runs(skipped.lazy().select("begin", "end", group="alloc_id")).rename(
        {"group": "alloc_id"})
    attrs = skipped.lazy().select("alloc_id", *RUN_KEYS).unique("alloc_id")
    return union.join(attrs, on="alloc_id").group_by(RUN_KEYS).agg(
        skipped=(pl.col("end") - pl.col("begin") + 1).sum().cast(pl.Int64)
    ).collect()
