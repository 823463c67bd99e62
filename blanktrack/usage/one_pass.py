"""The one-pass polars path: invoices reduced to booklet masks by one streaming group-by of their raw
text, with validation on the few distinct values of each column (not per row).

Input that is not plainly clean gives None, and usage.engine takes the validating path
(usage.validated), which names every problem with file, line and field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import polars as pl

from .. import invoices
from ..allocations import is_parquet
from ..booklets import bit, fold_usage
from ..invoice_rules import LIVE_STATUSES, STATUSES, UPLOAD_STATUSES, date_expr, lookup_expr
from ..period import Period, period_index, period_index_expr
from ..schemas import BOOKLET_SIZE

# (by_machine, issuing, counted, foreign): foreign = (track, booklet, mask) of the numbers that
# sellers left out by --ban used (in P or next to it): never blank for the BANs reported either.
Usage = tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame]
FOREIGN_SCHEMA = {"track": pl.String, "booklet": pl.Int64, "mask": pl.UInt64}

TEXT_KEYS = ("seller_ban", "machine", "invoice_date", "status", "upload_status")
BY_MACHINE_KEYS = ("seller_ban", "track", "booklet", "machine")


def raw_frames(paths: Sequence[str | Path]) -> list[pl.LazyFrame] | None:
    """The invoice files as raw text (RAW_COLUMNS unstripped, `file` index); None if a header
    lacks a column. Call after invoices.scan_raw_invoices has checked the files."""
    frames = []
    for i, path in enumerate(map(Path, paths)):
        lf = raw_frame(path)
        if lf is None:
            return None
        frames.append(lf.with_columns(file=pl.lit(i, pl.UInt32)))
    return frames or None


def raw_frame(path: Path, text_dtypes: Mapping[str, pl.DataType] | None = None
              ) -> pl.LazyFrame | None:
    """One invoice file as raw text (RAW_COLUMNS, unstripped; a missing optional column all
    null); None if a header lacks a column or a Parquet column is not text. With text_dtypes
    (CSV only: dense.py's Categoricals), those columns are read as those types."""
    if is_parquet(path):
        # Plain scan (no row index: it slows the reader down); text columns only, other
        # types go the original way, which converts them.
        lf = pl.scan_parquet(path)
        schema = lf.collect_schema()
        # Categorical: text too (resolve.py writes an ERP export's few-valued columns so).
        coded = [n for n, dtype in schema.items() if isinstance(dtype, pl.Categorical)]
        if any(dtype != pl.String for n, dtype in schema.items()
               if n not in invoices.PROVENANCE and n not in coded):
            return None
        present = [invoices.normal_name(c) for c in schema.names()]
        lf = lf.with_columns(pl.col(coded).cast(pl.String)).rename(
            dict(zip(schema.names(), present, strict=True)))
    elif invoices.read_from_disk(path, str(path)):
        # A large or plain CSV (its encoding and header are checked by scan_raw_invoices): scanned
        # without a row index, which slows polars' reader down; line numbers are only
        # needed to name a problem, and then the validating path reads the file again. Text keys
        # of another type are parsed as that type directly (cheaper than a cast afterwards).
        header = pl.scan_csv(path, encoding="utf8", infer_schema=False).collect_schema().names()
        renamed = {n: invoices.normal_name(n) for n in header}
        overrides = {n: text_dtypes[c] for n, c in renamed.items()
                     if text_dtypes and c in text_dtypes}
        lf = pl.scan_csv(path, encoding="utf8", infer_schema=False,
                         schema_overrides=overrides or None).rename(renamed)
        present = list(renamed.values())  # (a second collect_schema reads the file's head again)
    else:
        lf, _ = invoices.scan_csv_file(path, str(path))
        present = lf.collect_schema().names()
    if any(c not in present for c in invoices.REQUIRED):
        return None
    lf = lf.select(*[pl.col(c) if c in present else pl.lit(None, pl.String).alias(c)
                     for c in invoices.RAW_COLUMNS])
    if text_dtypes:
        lf = lf.with_columns(pl.col(c).cast(dtype) for c, dtype in text_dtypes.items())
    return lf


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
        out = checked.select("__raw", pl.col(column).alias("__t"), __norm=date_expr(column))
    elif column == "status":
        out = checked.select("__raw", __norm=lookup_expr(column, STATUSES))
    elif column == "upload_status":
        out = checked.select("__raw", __norm=lookup_expr(column, UPLOAD_STATUSES))
    else:
        out = checked.select("__raw", __norm=pl.col(column))
    return out.select("__raw", "__norm")


def group_raw_rows(frames: Sequence[pl.LazyFrame]) -> pl.DataFrame | None:
    """The raw rows grouped by their text values and booklet, with the OR of their numbers' bits
    and a row count; None when a row's number is malformed or polars cannot read a file."""
    number = pl.col("invoice_number")
    n = number.str.slice(2).cast(pl.Int64, strict=False)
    # A row whose number is not exactly two capitals and eight digits (spaces included) lands in
    # a group with a null booklet: then the validating path validates and names it.
    per_file = [
        frame.with_columns(
            track=number.str.slice(0, 2),
            booklet=pl.when(number.str.contains(invoices.INVOICE_NUMBER_PATTERN)).then(n // BOOKLET_SIZE),
            b=bit(n % BOOKLET_SIZE),
        )
        .group_by("file", *TEXT_KEYS, "track", "booklet")
        .agg(pl.col("b").bitwise_or(), rows=pl.len())
        for frame in frames
    ]
    # One query per file, run together: each hash table stays small (a file is one system's
    # tills), which is much faster than one table of every booklet of the period.
    try:
        groups = pl.concat(pl.collect_all(per_file, engine="streaming"), how="vertical")
    except pl.exceptions.PolarsError:
        return None  # e.g. a ragged CSV: the validating path reads it again and names the problem
    if groups["booklet"].has_nulls():
        return None
    return groups


def fast_usage(paths: Sequence[str | Path], period: Period, bans: pl.Series | None
                ) -> Usage | None:
    """(by_machine, issuing, counted, foreign) as the validating path computes them, from one streaming
    group-by of the raw rows by their text values and booklet; None when the input is not plainly
    clean (a value with spaces, a blank row, a bad value): the validating path then validates it.

    Only the invoice number is checked per row (it is unique per row); the other columns have few
    distinct values, which are checked once each with the same expressions as
    invoices.validate_invoices.
    """
    frames = raw_frames(paths)
    if frames is None:
        return None
    groups = group_raw_rows(frames)
    if groups is None or groups.is_empty():  # no invoice at all: the validating path copes
        return None
    return usage_from_groups(groups, paths, period, bans)


def usage_from_groups(groups: pl.DataFrame, paths: Sequence[str | Path], period: Period,
                      bans: pl.Series | None
                      ) -> Usage | None:
    """(by_machine, issuing, counted, foreign) of grouped raw rows; None if a value is not
    plainly clean."""
    p = period_index(period)
    dates: pl.DataFrame | None = None
    for column in TEXT_KEYS:
        mapping = key_map(groups, column)
        if mapping is None:
            return None
        if column == "invoice_date":
            # Few distinct dates: their period offset is computed once each, then looked up.
            dates = mapping.with_columns(offset=period_index_expr("__norm") - p)
            continue
        if mapping.select(pl.col("__raw").eq_missing(pl.col("__norm")).all()).item():
            continue  # already in normal form
        groups = groups.with_columns(pl.col(column).replace_strict(
            mapping["__raw"], mapping["__norm"], return_dtype=mapping.schema["__norm"]
        ))
    assert dates is not None
    groups = groups.with_columns(offset=pl.col("invoice_date").replace_strict(
        dates["__raw"], dates["offset"], return_dtype=pl.Int32))
    foreign = pl.DataFrame(schema=FOREIGN_SCHEMA)
    if bans is not None:
        mine = pl.col("seller_ban").is_in(bans.implode())
        foreign = (
            groups.filter(~mine & (pl.col("offset").abs() <= 1))
            .group_by("track", "booklet").agg(mask=pl.col("b").bitwise_or())
            .cast(pl.Schema(FOREIGN_SCHEMA))
        )
        groups = groups.filter(mine)

    def masked(cond: pl.Expr) -> pl.Expr:
        return pl.when(cond).then(pl.col("b")).otherwise(pl.lit(0, pl.UInt64))

    near = pl.col("offset").abs() <= 1
    live = pl.col("status").is_in(LIVE_STATUSES) & near
    masks = {
        "used_mask": masked(near),
        "in_period_mask": masked(pl.col("offset") == 0),
        "adjacent_mask": masked(pl.col("offset").abs() == 1),
        "live_mask": masked(live),
        "void_mask": masked((pl.col("status") == "voided") & near),
        "failed_mask": masked(pl.col("upload_status").eq_missing(pl.lit("failed")) & near),
        # Dated farther than one period from P: no use of P's numbers, only a finding (spec §3).
        "far_mask": masked(~near),
    }
    by_machine_q = fold_usage(
        groups.lazy()
        .select("seller_ban", "track", "booklet", "machine", **masks,
                live_rows=pl.when(live).then(pl.col("rows").cast(pl.Int64)).otherwise(0)),
        BY_MACHINE_KEYS,
    )
    issuing_q = (
        groups.lazy().filter(pl.col("offset") == 0)
        .group_by("seller_ban", "machine", "track", "invoice_date")
        .agg(invoices=pl.col("rows").sum().cast(pl.UInt32))
        .with_columns(pl.col("invoice_date").replace_strict(
            dates["__raw"], dates["__norm"], return_dtype=pl.Date))
        # Two spellings of one day ('2024-01-05', '20240105') are one day.
        .group_by("seller_ban", "machine", "track", "invoice_date")
        .agg(pl.col("invoices").sum().cast(pl.UInt32))
    )
    names = pl.DataFrame({"file": range(len(paths)), "source": [str(Path(p)) for p in paths]},
                         schema={"file": pl.UInt32, "source": pl.String})
    counted_q = (
        groups.lazy().group_by("file").agg(rows=pl.col("rows").sum().cast(pl.UInt32))
        .join(names.lazy(), on="file").select("source", "rows")
    )
    by_machine, issuing, counted = pl.collect_all([by_machine_q, issuing_q, counted_q])
    return by_machine, issuing, counted, foreign
