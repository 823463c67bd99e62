"""Build canonical frames directly, for tests of the computation without files."""

from __future__ import annotations

import datetime as dt

import polars as pl

from blanktrack.schemas import ALLOCATION_SCHEMA, INVOICE_SCHEMA


def allocations(rows: list[dict]) -> pl.DataFrame:
    """rows: dicts with at least track, begin, end (ints); defaults fill the rest."""
    full = []
    for i, r in enumerate(rows):
        full.append({
            "ban": r.get("ban", "53567686"),
            "invoice_type": r.get("invoice_type", "07"),
            "period": r.get("period", "11302"),
            "track": r.get("track", "AB"),
            "begin_no": f"{r['begin']:08d}",
            "end_no": f"{r['end']:08d}",
            "head_ban": r.get("head_ban", r.get("ban", "53567686")),
            "machine": r.get("machine"),
            "reported_by": r.get("reported_by"),
            "source": "allocations.csv",
            "line": i + 2,
        })
    return pl.DataFrame(full, schema=ALLOCATION_SCHEMA)


def invoices(rows: list[dict]) -> pl.LazyFrame:
    """rows: dicts with at least track and number (int); defaults fill the rest."""
    full = []
    for i, r in enumerate(rows):
        number = f"{r['number']:08d}"
        track = r.get("track", "AB")
        full.append({
            "invoice_number": track + number,
            "track": track,
            "number": number,
            "invoice_date": r.get("date", dt.date(2024, 1, 15)),
            "seller_ban": r.get("ban", "53567686"),
            "status": r.get("status", "issued"),
            "machine": r.get("machine"),
            "upload_status": r.get("upload_status"),
            "source": r.get("source", "invoices.csv"),
            "line": i + 2,
        })
    return pl.DataFrame(full, schema=INVOICE_SCHEMA).lazy()
