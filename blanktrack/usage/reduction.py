"""The one reduction of the polars paths: invoice rows → (by_machine, issuing, counted, foreign).

Both polars paths go through the same three steps: `group_rows` (the rows grouped by their text
values and booklet: the OR of their numbers' bits, a row count), `normalised` (each distinct value
of a key column checked once and put in normal form: a Date, a status, a BAN), `reduce_usage` (the
mask rules of spec §3, written only here). The one-pass path (one_pass.py) groups raw text of
plainly clean files and declines (None) at the first value that is not; the validating path
(validated.py) checks every row first, naming file, line and field, so its values always pass.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from .. import invoices
from ..booklets import bit, fold_usage
from ..invoice_columns import TEXT_KEYS
from ..invoice_rules import LIVE_STATUSES, STATUSES, UPLOAD_STATUSES, date_expr, lookup_expr
from ..period import Period, period_index, period_index_expr
from ..schemas import BOOKLET_SIZE

# (by_machine, issuing, counted, foreign): foreign = (track, booklet, mask) of the numbers that
# sellers left out by --ban used (in P or next to it): never blank for the BANs reported either.
Usage = tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame]
FOREIGN_SCHEMA = {"track": pl.String, "booklet": pl.Int64, "mask": pl.UInt64}

BY_MACHINE_KEYS = ("seller_ban", "track", "booklet", "machine")
ISSUING_KEYS = ("seller_ban", "machine", "track", "invoice_date")


def group_rows(rows: pl.LazyFrame, by: str) -> pl.LazyFrame:
    """Invoice rows (invoice_number and TEXT_KEYS, any spelling) grouped by `by` (the file),
    their TEXT_KEYS as written, track and booklet: `b`, the OR of their numbers' bits, and
    `rows`. A number that is not exactly two capitals and eight digits (spaces included) gets a
    null booklet."""
    number = pl.col("invoice_number")
    n = number.str.slice(2).cast(pl.Int64, strict=False)
    return (
        rows.with_columns(
            track=number.str.slice(0, 2),
            booklet=pl.when(number.str.contains(invoices.INVOICE_NUMBER_PATTERN))
            .then(n // BOOKLET_SIZE),
            b=bit(n % BOOKLET_SIZE),
        )
        .group_by(by, *TEXT_KEYS, "track", "booklet")
        .agg(pl.col("b").bitwise_or(), rows=pl.len())
    )


def key_map(groups: pl.DataFrame, column: str) -> pl.DataFrame | None:
    """Distinct raw values of one key column → normalised value; None if one is invalid."""
    raw = groups.select(pl.col(column).unique())
    value = pl.col(column).str.strip_chars()
    text = pl.when(value.str.len_bytes() > 0).then(value)
    norm = raw.with_columns(__text=text)
    checked = norm.rename({column: "__raw", "__text": column})
    bad = invoices.bad_value_exprs().get(column)
    if bad is not None and checked.select(bad.any()).item():
        return None
    if column == "invoice_date":
        out = checked.select("__raw", __norm=date_expr(column))
    elif column == "status":
        out = checked.select("__raw", __norm=lookup_expr(column, STATUSES))
    elif column == "upload_status":
        out = checked.select("__raw", __norm=lookup_expr(column, UPLOAD_STATUSES))
    else:
        out = checked.select("__raw", __norm=pl.col(column))
    return out.select("__raw", "__norm")


def normalised(groups: pl.DataFrame) -> pl.DataFrame | None:
    """group_rows' groups with every TEXT_KEYS value in normal form (invoice_date a Date); None
    if a value is not valid (or not plainly clean). Two spellings of one value (' POS-1',
    '20240105') stay two groups: reduce_usage folds them."""
    if groups["booklet"].has_nulls():
        return None
    if groups.is_empty():  # (replace_strict keeps an empty column's type)
        return groups.cast({"invoice_date": pl.Date})
    for column in TEXT_KEYS:
        mapping = key_map(groups, column)
        if mapping is None:
            return None
        if column != "invoice_date" and mapping.select(
                pl.col("__raw").eq_missing(pl.col("__norm")).all()).item():
            continue  # already in normal form (a date is text until here)
        groups = groups.with_columns(pl.col(column).replace_strict(
            mapping["__raw"], mapping["__norm"], return_dtype=mapping.schema["__norm"]
        ))
    return groups


def reduce_usage(groups: pl.DataFrame, period: Period, bans: pl.Series | None,
                 sources: Sequence[str] | None = None) -> Usage:
    """(by_machine, issuing, counted, foreign) of normalised groups; `bans`: the sellers reported
    (--ban), None for all. Rows are counted per `source` column, or, with `sources`, per `file`
    index into it."""
    groups = groups.with_columns(
        offset=(period_index_expr("invoice_date") - period_index(period)).cast(pl.Int32))
    foreign = pl.LazyFrame(schema=FOREIGN_SCHEMA)
    if bans is not None:
        mine = pl.col("seller_ban").is_in(bans.implode())
        foreign = (
            groups.lazy().filter(~mine & (pl.col("offset").abs() <= 1))
            .group_by("track", "booklet").agg(mask=pl.col("b").bitwise_or())
            .cast(pl.Schema(FOREIGN_SCHEMA))
        )
        groups = groups.filter(mine)

    def masked(cond: pl.Expr) -> pl.Expr:
        return pl.when(cond).then(pl.col("b")).otherwise(pl.lit(0, pl.UInt64))

    # Only invoices dated in P or next to it use its numbers (spec §3); farther dates belong to an
    # earlier or later allocation of the same letters, and are only marked (dated-far-from-period).
    near = pl.col("offset").abs() <= 1
    live = pl.col("status").is_in(LIVE_STATUSES) & near
    by_machine_q = fold_usage(
        groups.lazy().select(
            *BY_MACHINE_KEYS,
            used_mask=masked(near),
            in_period_mask=masked(pl.col("offset") == 0),
            adjacent_mask=masked(pl.col("offset").abs() == 1),
            live_mask=masked(live),
            void_mask=masked((pl.col("status") == "voided") & near),
            failed_mask=masked(pl.col("upload_status").eq_missing(pl.lit("failed")) & near),
            far_mask=masked(~near),
            live_rows=pl.when(live).then(pl.col("rows").cast(pl.Int64)).otherwise(0),
        ),
        BY_MACHINE_KEYS,
    )
    issuing_q = (
        groups.lazy().filter(pl.col("offset") == 0)
        .group_by(*ISSUING_KEYS).agg(invoices=pl.col("rows").sum().cast(pl.UInt32))
    )
    by_file = "source" if sources is None else "file"
    counted_q = groups.lazy().group_by(by_file).agg(rows=pl.col("rows").sum().cast(pl.UInt32))
    if sources is not None:
        names = pl.LazyFrame({"file": range(len(sources)), "source": list(sources)},
                             schema={"file": pl.UInt32, "source": pl.String})
        counted_q = counted_q.join(names, on="file").select("source", "rows")
    by_machine, issuing, counted, foreign_df = pl.collect_all(
        [by_machine_q, issuing_q, counted_q, foreign])
    return by_machine, issuing, counted, foreign_df
