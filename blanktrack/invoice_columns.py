"""The columns of a canonical invoice file, by name: which are required, which optional, and
how a header's spelling is read. Imports nothing heavy (usage/read_ahead.py plans its reads
from these before polars is loaded)."""

from __future__ import annotations

REQUIRED = ("invoice_number", "invoice_date", "seller_ban", "status")
OPTIONAL = ("machine", "upload_status")
RAW_COLUMNS = REQUIRED + OPTIONAL
# The columns whose few distinct values are judged once each, not row by row.
TEXT_KEYS = ("seller_ban", "machine", "invoice_date", "status", "upload_status")


def normal_name(name: str) -> str:
    """A header as written (a BOM, spaces, any case) as the column it names."""
    return name.lstrip("\ufeff").strip().lower()
