"""The validating path: every invoice row checked (file, line and field named), then the same
grouping, normalisation and reduction as the one-pass path (reduction.py). Taken when the input
is not plainly clean, or when the faster paths decline it."""

from __future__ import annotations

import polars as pl

from ..invoices import validate_invoices
from ..period import Period
from .reduction import Usage, group_rows, normalised, reduce_usage


def validated_usage(raw: pl.LazyFrame, period: Period, bans: pl.Series | None) -> Usage:
    """(by_machine, issuing, counted, foreign) of invoices.scan_raw_invoices' frame, every value
    validated first (InputError naming file, line and field)."""
    validate_invoices(raw)
    # Grouped as written (stripped), so each distinct spelling is normalised once, not each row.
    groups = normalised(group_rows(raw, "source").collect(engine="streaming"))
    if groups is None:  # validate_invoices and normalised disagree: a bug, never a user's input
        raise AssertionError("a validated invoice value failed its normalisation")
    return reduce_usage(groups, period, bans)
