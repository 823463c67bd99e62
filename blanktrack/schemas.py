"""The canonical frames that flow between the modules, and their column order.

Numbers and BANs are strings with their leading zeros everywhere a person or a file sees them;
integer copies exist only inside the computation.
"""

from __future__ import annotations

import polars as pl

BOOKLET_SIZE = 50  # 本: 50 consecutive numbers from a multiple of 50

# Allocations (配號) after loading, one row per allocation line of an input file.
ALLOCATION_SCHEMA: dict[str, pl.DataType] = {
    "ban": pl.String(),  # 8 digits, the BAN that owns the numbers
    "invoice_type": pl.String(),  # '07' or '08'
    "period": pl.String(),  # 'YYYMM', even month
    "track": pl.String(),  # 2 upper-case letters
    "begin_no": pl.String(),  # 8 digits
    "end_no": pl.String(),  # 8 digits
    "head_ban": pl.String(),  # reporting BAN: the head office, or the BAN itself (never null)
    "machine": pl.String(),  # till/system the range was handed to, or null
    "reported_by": pl.String(),  # null = this report; else the system that reports these blanks
    "source": pl.String(),  # file the row came from
    "line": pl.Int64(),  # 1-based line (text) or row (Parquet) in that file
}

# Invoices after loading (a LazyFrame: several files, possibly very large).
INVOICE_SCHEMA: dict[str, pl.DataType] = {
    "invoice_number": pl.String(),  # 10 characters, e.g. 'MB02034267'
    "track": pl.String(),
    "number": pl.String(),  # 8 digits
    "invoice_date": pl.Date(),
    "seller_ban": pl.String(),
    "status": pl.String(),  # 'issued' | 'cancelled' | 'voided'
    "machine": pl.String(),  # or null
    "upload_status": pl.String(),  # 'accepted' | 'failed' | null (unknown)
    "source": pl.String(),
    "line": pl.Int64(),
}

# Blank ranges: the report itself, sorted by ban, invoice_type, track, begin_no.
BLANK_RANGE_SCHEMA: dict[str, pl.DataType] = {
    "period": pl.String(),
    "head_ban": pl.String(),
    "ban": pl.String(),
    "invoice_type": pl.String(),
    "track": pl.String(),
    "begin_no": pl.String(),
    "end_no": pl.String(),
    "count": pl.Int64(),
    "reported_by": pl.String(),  # null = in our exports; else left out, reported by that system
}

# Findings: what a person must look at besides the blanks.
FINDING_SCHEMA: dict[str, pl.DataType] = {
    "severity": pl.String(),  # 'error' | 'warning' | 'info'
    "code": pl.String(),
    "period": pl.String(),
    "ban": pl.String(),
    "invoice_type": pl.String(),
    "track": pl.String(),
    "begin_no": pl.String(),
    "end_no": pl.String(),
    "machine": pl.String(),
    "message": pl.String(),
}

SEVERITY_RANK = {"error": 0, "warning": 1, "info": 2}

SUMMARY_SCHEMA: dict[str, pl.DataType] = {
    "period": pl.String(),
    "head_ban": pl.String(),
    "ban": pl.String(),
    "invoice_type": pl.String(),
    "track": pl.String(),
    "allocated": pl.Int64(),
    "used": pl.Int64(),
    "blank": pl.Int64(),
    "skipped": pl.Int64(),
    "reported_elsewhere": pl.Int64(),  # blank numbers left to another reporting system
    "utilisation": pl.Float64(),  # used / allocated
}


def empty(schema: dict[str, pl.DataType]) -> pl.DataFrame:
    return pl.DataFrame(schema=schema)
