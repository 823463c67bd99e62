"""Dates as businesses write them: ROC (民國) `113/11/05`, `113-11-05`, `1131105` and Western
`2024/11/05`, `2024-11-05`, `20241105`, turned into `YYYY-MM-DD` text for the invoice checks."""

from __future__ import annotations

import polars as pl

_SEP = r"[/.\-]"
_ROC_SPLIT = rf"^([0-9]{{2,3}}){_SEP}([0-9]{{1,2}}){_SEP}([0-9]{{1,2}})$"
_WESTERN_SPLIT = rf"^([0-9]{{4}}){_SEP}([0-9]{{1,2}}){_SEP}([0-9]{{1,2}})$"
_ROC_COMPACT = r"^([0-9]{3})([0-9]{2})([0-9]{2})$"
_ROC_OFFSET = 1911  # ROC year 1 is 1912


def _iso(year: pl.Expr, month: pl.Expr, day: pl.Expr) -> pl.Expr:
    return pl.format("{}-{}-{}", year.cast(pl.String).str.zfill(4), month.str.zfill(2),
                     day.str.zfill(2))


def iso_date_expr(column: str) -> pl.Expr:
    """`column` (text) as `YYYY-MM-DD` where it is one of the known spellings; otherwise the
    text unchanged, so that the invoice check names it as written."""
    # An Excel date cell reads as '2024-11-05 00:00:00': the day is what counts.
    col = pl.col(column).str.strip_chars().str.replace(r"[ T][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?$", "")

    def part(pattern: str, i: int) -> pl.Expr:
        return col.str.extract(pattern, i)

    roc_year = part(_ROC_SPLIT, 1).cast(pl.Int32, strict=False) + _ROC_OFFSET
    compact_year = part(_ROC_COMPACT, 1).cast(pl.Int32, strict=False) + _ROC_OFFSET
    return (
        pl.when(col.str.contains(_WESTERN_SPLIT))
        .then(_iso(part(_WESTERN_SPLIT, 1), part(_WESTERN_SPLIT, 2), part(_WESTERN_SPLIT, 3)))
        .when(col.str.contains(_ROC_SPLIT))
        .then(_iso(roc_year, part(_ROC_SPLIT, 2), part(_ROC_SPLIT, 3)))
        .when(col.str.contains(_ROC_COMPACT))
        .then(_iso(compact_year, part(_ROC_COMPACT, 2), part(_ROC_COMPACT, 3)))
        .otherwise(col)
    )


def iso_dates(dates: pl.Series) -> pl.Series:
    """iso_date_expr of each date (text, stripped; empty → null), worked out once per distinct
    date of a batch: a period has a few hundred, a file millions of rows."""
    distinct = dates.unique().drop_nulls().to_frame("raw")
    value = pl.col("raw").str.strip_chars()
    iso = distinct.with_columns(pl.when(value.str.len_bytes() > 0).then(value).alias("new")
                                ).select("raw", iso=iso_date_expr("new"))
    return dates.replace(iso["raw"], iso["iso"])
