"""The validating path: every invoice row checked (file, line and field named), normalised, then
reduced to booklet masks by one hash group-by. Taken when the input is not plainly clean, or when
the faster paths decline it."""

from __future__ import annotations

import polars as pl

from ..booklets import bit
from ..invoice_rules import LIVE_STATUSES
from ..invoices import normalise_invoices, validate_invoices
from ..period import Period, period_index, period_index_expr
from ..schemas import BOOKLET_SIZE
from .one_pass import FOREIGN_SCHEMA, Usage


def invoice_usage(invoices: pl.LazyFrame, period: Period) -> pl.LazyFrame:
    """Per (seller BAN, track, booklet, machine): masks of the numbers used and how.

    Only invoices dated in the period or an adjacent one use its numbers (spec §3); farther
    dates belong to an earlier or later allocation of the same letters, and are only marked in
    far_mask (dated-far-from-period).
    """
    p = period_index(period)
    number = pl.col("number").cast(pl.Int64)
    lf = invoices.with_columns(
        booklet=number // BOOKLET_SIZE,
        b=bit(number % BOOKLET_SIZE),
        offset=period_index_expr("invoice_date") - p,
    )
    near = pl.col("offset").abs() <= 1

    def masked(cond: pl.Expr) -> pl.Expr:
        return pl.col("b").filter(cond).bitwise_or().fill_null(0)

    live = pl.col("status").is_in(LIVE_STATUSES) & near
    return lf.group_by("seller_ban", "track", "booklet", "machine").agg(
        used_mask=masked(near),
        in_period_mask=masked(pl.col("offset") == 0),
        adjacent_mask=masked(pl.col("offset").abs() == 1),
        live_mask=masked(live),
        void_mask=masked((pl.col("status") == "voided") & near),
        failed_mask=masked((pl.col("upload_status") == "failed") & near),
        far_mask=masked(~near),
        live_rows=live.sum().cast(pl.Int64),
    )


def foreign_usage(invoices: pl.LazyFrame, period: Period) -> pl.LazyFrame:
    """(track, booklet, mask) of the numbers invoices dated in P or next to it used, whatever
    their seller: for sellers a reconciliation leaves out (--ban), whose use still makes a
    number of the BANs reported not blank (spec §3)."""
    number = pl.col("number").cast(pl.Int64)
    return (
        invoices.filter((period_index_expr("invoice_date") - period_index(period)).abs() <= 1)
        .group_by("track", booklet=number // BOOKLET_SIZE)
        .agg(mask=bit(number % BOOKLET_SIZE).bitwise_or())
    )


def validated_usage(raw: pl.LazyFrame, period: Period, bans: pl.Series | None) -> Usage:
    """(by_machine, issuing, counted, foreign) of invoices.scan_raw_invoices' frame, every value
    validated first (InputError naming file, line and field)."""
    validate_invoices(raw)
    invoices = normalise_invoices(raw)
    foreign_q = pl.LazyFrame(schema=FOREIGN_SCHEMA)
    if bans is not None:
        mine = pl.col("seller_ban").is_in(bans.implode())
        foreign_q = foreign_usage(invoices.filter(~mine), period)
        invoices = invoices.filter(mine)
    by_machine_q = invoice_usage(invoices, period)
    issuing_q = (
        invoices.filter(period_index_expr("invoice_date") == period_index(period))
        .group_by("seller_ban", "machine", "track", "invoice_date")
        .agg(invoices=pl.len())
    )
    count_q = invoices.group_by("source").agg(rows=pl.len())
    by_machine, issuing, counted, foreign = pl.collect_all(
        [by_machine_q, issuing_q, count_q, foreign_q], engine="streaming"
    )
    return by_machine, issuing, counted, foreign
