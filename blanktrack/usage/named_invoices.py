"""The few invoices the findings name: chosen from the booklet usage, read again with their lines.

Per booklet: numbers used in the period outside the seller's allocations, used from an adjacent
or a far period inside them, with a failed upload, voided and never re-issued; and every used
number of a booklet where some number was issued twice. All rows of such a number are fetched,
so the findings about it are the same as from all rows of its booklet.
"""

from __future__ import annotations

import polars as pl

from ..blanks import number_str
from ..booklets import bit
from ..invoices import normalise_invoices, scan_raw_invoices
from ..period import period_code_expr, period_index, period_index_expr
from ..schemas import BOOKLET_SIZE, INVOICE_SCHEMA
from .result import BookletUsage


def wanted_numbers(usage: BookletUsage) -> pl.DataFrame:
    """(seller_ban, track, number) of every number a finding may be about."""
    want = (
        usage.sellers
        .select(
            "seller_ban", "track", "booklet",
            want=(pl.col("in_period_mask") & ~pl.col("alloc_union"))
            | (pl.col("adjacent_mask") & pl.col("alloc_union"))
            | (pl.col("far_mask") & pl.col("alloc_union"))
            | pl.col("failed_mask")
            | (pl.col("void_mask") & ~pl.col("live_mask"))
            | pl.when(pl.col("live_rows") > pl.col("live_mask").bitwise_count_ones())
            .then(pl.col("used_mask")).otherwise(0),
        )
        .filter(pl.col("want") != 0)
        .collect(engine="streaming")  # millions of booklets: faster than in memory
    )
    return (
        want.with_columns(k=pl.int_ranges(0, BOOKLET_SIZE))
        .explode("k")
        .filter((pl.col("want") // bit(pl.col("k"))) % 2 == 1)
        .select("seller_ban", "track", number=pl.col("booklet") * BOOKLET_SIZE + pl.col("k"))
    )


def named_invoices(usage: BookletUsage, allocations: pl.DataFrame) -> pl.DataFrame:
    """The invoice rows findings name (a second, filtered scan only when there are any), with
    their physical lines, period offset and the type of the allocation that holds each.
    Clean input (every number written exactly) is filtered as it is read."""
    wanted = wanted_numbers(usage)
    if wanted.is_empty():
        rows = pl.DataFrame(schema=INVOICE_SCHEMA)
    else:
        numbers = (
            wanted.select(pl.col("track") + number_str(pl.col("number")))
            .unique().to_series()
        )
        invoices = normalise_invoices(scan_raw_invoices(usage.invoice_paths, numbers,
                                                        exact=usage.clean))
        if usage.bans is not None:
            invoices = invoices.filter(pl.col("seller_ban").is_in(usage.bans.implode()))
        rows = (
            invoices.filter(pl.col("invoice_number").is_in(numbers.implode()))
            .with_columns(n=pl.col("number").cast(pl.Int64))
            .join(wanted.lazy(), left_on=["seller_ban", "track", "n"],
                  right_on=["seller_ban", "track", "number"], how="semi")
            .drop("n")
            .collect(engine="streaming")
        )
    rows = rows.with_row_index("row").with_columns(
        n=pl.col("number").cast(pl.Int64),
        offset=period_index_expr("invoice_date") - period_index(usage.period),
        invoice_period=period_code_expr("invoice_date"),
    )
    owner = (
        rows.join(allocations.select("ban", "track", "begin", "end", "invoice_type"),
                  left_on=["seller_ban", "track"], right_on=["ban", "track"])
        .filter(pl.col("n").is_between(pl.col("begin"), pl.col("end")))
        .group_by("row")
        .agg(pl.col("invoice_type").first())
    )
    return (
        rows.join(owner, on="row", how="left")
        .with_columns(in_allocation=pl.col("invoice_type").is_not_null(),
                      ban=pl.col("seller_ban"))
        .sort("row")
    )
