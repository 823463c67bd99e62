"""The period as an Excel workbook (.xlsx) for the people who check it: summary, blank ranges,
findings and inputs, one sheet each, with bilingual headers (`字軌 track`).

BANs, tracks and invoice numbers are stored as text (Excel would drop the leading zero of
04595257), utilisation as a percentage, every sheet has a frozen header row and filters. No cell
is ever a formula: text that starts with `=` stays text. The same reconciliation gives the same
bytes (the workbook's creation time is the report date)."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from . import labels
from .console import display_width
from .period import Period
from .reconcile import Reconciliation

if TYPE_CHECKING:
    import xlsxwriter

PERCENT = "0.0%"
INTEGER = "#,##0"
TEXT = "@"  # a cell typed over keeps its leading zeros too
MAX_WIDTH = 480  # pixels

# (sheet name, at most 31 characters; table name) of what the workbook holds, in order
SHEETS = (("彙總 summary", "summary"), ("空白區間 blank ranges", "blank_ranges"),
          ("待查事項 findings", "findings"), ("輸入檔案 inputs", "inputs"))


def inputs_table(result: Reconciliation, *, hash_now: bool = False) -> pl.DataFrame:
    """The inputs: role, path, rows, bytes, SHA-256 and what each path held (issue 15: message
    kinds and versions, files read, passed over, unknown), sorted (the order they were given in
    changes nothing). The SHA-256 where it was computed (a period run hashes every input;
    `reconcile` on the command line does not spend the time), or computed now with `hash_now`."""
    by_path = {(k.path, k.role): k for k in result.input_kinds}
    kinds = [by_path.get((f.path, f.role)) for f in result.inputs]
    return pl.DataFrame(
        {
            "role": [f.role for f in result.inputs],
            "file": [f.path for f in result.inputs],
            "rows": [result.rows_by_source.get(f.path) for f in result.inputs],
            "bytes": [f.size for f in result.inputs],
            "sha256": [f.sha256 if hash_now else f.sha256_if_known for f in result.inputs],
            "found": [k.kinds_text if k else None for k in kinds],
            "files_read": [k.files_read if k else None for k in kinds],
            "passed_over": [k.passed_over if k else None for k in kinds],
            "unknown": [len(k.unknown) if k else None for k in kinds],
        },
        schema={"role": pl.String, "file": pl.String, "rows": pl.Int64, "bytes": pl.Int64,
                "sha256": pl.String, "found": pl.String, "files_read": pl.Int64,
                "passed_over": pl.Int64, "unknown": pl.Int64},
    ).sort("role", "file")


# Distinct cells per column looked at in the one query of _widths, longest (in bytes) first;
# a column whose widest cell may lie beyond them is looked at whole.
_WIDEST_CELLS = 32


def _widths(df: pl.DataFrame) -> dict[str, int]:
    """Column widths in pixels: the longest cell or header, a wide character counting double,
    at most MAX_WIDTH (a sentence wraps in its cell instead of pushing the table away)."""
    def longest_first(col: str, limit: int | None) -> pl.Expr:
        cells = pl.col(col).cast(pl.String).fill_null("")
        cells = cells.sort_by(cells.str.len_bytes(), descending=True).unique(maintain_order=True)
        return (cells if limit is None else cells.head(limit)).implode()

    # One query for every column: the cells that can be the widest.
    firsts = df.select(longest_first(c, _WIDEST_CELLS) for c in df.columns).row(0)
    widths = {}
    for col, cells in zip(df.columns, firsts, strict=True):
        longest = display_width(labels.column(col))
        if not _widest(cells, longest)[1] and len(cells) == _WIDEST_CELLS:
            cells = df.select(longest_first(col, None)).item()
        widths[labels.column(col)] = min(MAX_WIDTH, 7 * _widest(cells, longest)[0] + 20)
    return widths


def _widest(cells: list[str], longest: int) -> tuple[int, bool]:
    """The widest of `longest` and the cells (longest in bytes first), and whether it is sure:
    a cell is never wider than its UTF-8 bytes, so the look stops at the first that cannot be
    wider (one look at a few cells, not at every distinct one)."""
    for cell in cells:
        if len(cell.encode("utf-8")) <= longest:
            return longest, True
        longest = max(longest, display_width(cell))
    return longest, False


def _sheet(book: xlsxwriter.Workbook, name: str, table: str, df: pl.DataFrame) -> None:
    """One table: bilingual header row frozen, filters on, integers with thousands separators,
    fractions of labels.PERCENT_COLUMNS as percentages, text as text."""
    formats: dict[str, str] = {}
    for col, dtype in df.schema.items():
        if col in labels.PERCENT_COLUMNS:
            formats[labels.column(col)] = PERCENT
        elif dtype.is_integer():
            formats[labels.column(col)] = INTEGER
        elif dtype == pl.String:
            formats[labels.column(col)] = TEXT
    # The mappings are built in the call so that they take polars' own parameter types.
    labels.bilingual(df).write_excel(
        book, name, table_name=table, column_formats={k: v for k, v in formats.items()} if formats else None,
        freeze_panes=(1, 0), autofilter=True,
        column_widths={k: v for k, v in _widths(df).items()}, table_style="Table Style Light 9",
    )


def write_workbook(result: Reconciliation, path: str | Path) -> Path:
    """Write the period's workbook to `path` (temporary file, then rename: never half a file)."""
    return write_tables(path, result.period, result.report_date, result.summary,
                        result.blank_ranges, result.findings, inputs_table(result))


def write_tables(path: str | Path, period: Period, report_date: dt.date, summary: pl.DataFrame,
                 blank_ranges: pl.DataFrame, findings: pl.DataFrame, inputs: pl.DataFrame
                 ) -> Path:
    """The workbook of these tables (one reporting BAN's set, or the whole period)."""
    target = Path(path)
    temp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    import xlsxwriter  # here: a run of many sets writes no workbook and skips its import

    # Text stays text: no cell of an input becomes a formula, a number or a link. in_memory:
    # the parts are zipped from memory, not each from a temporary file created and removed.
    book = xlsxwriter.Workbook(str(temp), {"strings_to_formulas": False,
                                           "strings_to_numbers": False,
                                           "strings_to_urls": False,
                                           "in_memory": True})
    created = dt.datetime.combine(report_date, dt.time(0, 0))
    book.set_properties({
        "title": f"空白未使用字軌號碼 {period.code} ({period.label})",
        "subject": "blank unused number report",
        "created": created,
    })
    try:
        frames = (summary, blank_ranges, findings, inputs)
        for (sheet, table), df in zip(SHEETS, frames, strict=True):
            _sheet(book, sheet, table, df)
        book.close()
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return target
