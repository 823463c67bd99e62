"""The one-pass polars path: the raw text of plainly clean files grouped by one streaming group-by
(reduction.group_rows), each distinct value validated once (reduction.normalised), then the one
reduction (reduction.reduce_usage) the validating path ends in too.

Input that is not plainly clean gives None, and usage.engine takes the validating path
(usage.validated), which names every problem with file, line and field.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import polars as pl

from .. import invoices
from ..allocations import is_parquet
from ..period import Period
from .reduction import Usage, group_rows, normalised, reduce_usage


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


def raw_frame(path: Path, checked_here: bool = False, data: bytes | None = None
              ) -> pl.LazyFrame | None:
    """One invoice file as raw text (RAW_COLUMNS, unstripped; a missing optional column all
    null); None if a header lacks a column or a Parquet column is not text. With checked_here
    (a CSV of the dense scan), the file checks are made here (InputError): the dense scan runs
    before scan_raw_invoices, and after it there is nothing else to check. `data`: a CSV's
    bytes as invoices.plain_bytes gives them (checked there), which polars reads in place of
    the file."""
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
    elif data is not None or (
            invoices.check_csv_file(path, str(path), invoices.HEADER_BYTES) if checked_here
            else invoices.read_from_disk(path, str(path))):
        # A large or plain CSV (its encoding and header checked by scan_raw_invoices, or just
        # above for the dense scan): scanned without a row index, which slows polars' reader
        # down; line numbers are only needed to name a problem, and then the validating path
        # reads the file again.
        lf = pl.scan_csv(path if data is None else data, encoding="utf8", infer_schema=False)
        renamed = {n: invoices.normal_name(n) for n in lf.collect_schema().names()}
        lf = lf.rename(renamed)
        present = list(renamed.values())  # (a second collect_schema reads the file's head again)
    else:
        lf, _ = invoices.scan_csv_file(path, str(path))
        present = lf.collect_schema().names()
    if any(c not in present for c in invoices.REQUIRED):
        return None
    return lf.select(*[pl.col(c) if c in present else pl.lit(None, pl.String).alias(c)
                       for c in invoices.RAW_COLUMNS])


def group_raw_rows(frames: Sequence[pl.LazyFrame]) -> pl.DataFrame | None:
    """reduction.group_rows of each file's raw rows (by `file`); None when a row's number is
    malformed or polars cannot read a file."""
    # One query per file, run together: each hash table stays small (a file is one system's
    # tills), which is much faster than one table of every booklet of the period.
    per_file = [group_rows(frame, "file") for frame in frames]
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
                      bans: pl.Series | None) -> Usage | None:
    """(by_machine, issuing, counted, foreign) of group_raw_rows' groups of `paths`; None if a
    value is not plainly clean."""
    clean = normalised(groups)
    if clean is None:
        return None
    return reduce_usage(clean, period, bans, sources=[str(Path(p)) for p in paths])
