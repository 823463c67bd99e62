"""What an invoice's date and status mean (spec §3), written once for every path.

The validating loader (invoices), the one-pass polars path (usage.one_pass) and the dense scan's
per-value tables (usage/distinct_values) all read a raw date or status through these rules: a polars
expression for a column, the same rule in plain Python for one distinct value.
"""

from __future__ import annotations

import datetime as dt
import re

import polars as pl

# The canonical spellings of a date: `YYYY-MM-DD` or `YYYYMMDD` (other forms are an ERP's, which
# sources/erp converts first).
ISO_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
COMPACT_DATE = r"^[0-9]{8}$"
_ISO = re.compile(ISO_DATE)
_COMPACT = re.compile(COMPACT_DATE)

# Status as written (any case) → its meaning.
STATUSES = {
    "issued": "issued",
    "cancelled": "cancelled",
    "voided": "voided",
    "開立": "issued",
    "作廢": "cancelled",
    "註銷": "voided",
}
UPLOAD_STATUSES = {"accepted": "accepted", "failed": "failed"}
# A cancelled (作廢) invoice was issued: its number is used; a voided (註銷) one awaits its re-issue.
LIVE_STATUSES = ("issued", "cancelled")


def date_expr(column: str) -> pl.Expr:
    """The date of a `YYYY-MM-DD` or `YYYYMMDD` text, null when it is no real calendar date."""
    col = pl.col(column)
    # The regexes matter: chrono alone accepts '2024-2-3' and '2024022'.
    parsed = (
        pl.when(col.str.contains(ISO_DATE))
        .then(col.str.to_date("%Y-%m-%d", strict=False))
        .when(col.str.contains(COMPACT_DATE))
        .then(col.str.to_date("%Y%m%d", strict=False))
    )
    # chrono also takes year 0000, which no calendar has (the year before 1 AD is 1 BC).
    return pl.when(parsed.dt.year() >= 1).then(parsed)


def day_of(raw: str | None) -> dt.date | None:
    """date_expr of one text: its date, or None when it is no canonical spelling of a real day."""
    if raw is None:
        return None
    try:
        if _ISO.match(raw):
            return dt.date.fromisoformat(raw)
        if _COMPACT.match(raw):
            return dt.date(int(raw[:4]), int(raw[4:6]), int(raw[6:]))
    except ValueError:
        return None
    return None


def lookup_expr(column: str, mapping: dict[str, str]) -> pl.Expr:
    """Case-insensitive lookup; null for unknown values."""
    lower = pl.col(column).str.to_lowercase()
    # Each key by its own when/then, not replace_strict: the latter is not streamed and holds
    # the whole column in memory.
    return pl.coalesce(*[pl.when(lower == key).then(pl.lit(value))
                         for key, value in mapping.items()], pl.lit(None, pl.String))


def status_of(raw: str | None) -> str | None:
    """lookup_expr(…, STATUSES) of one text: 'issued', 'cancelled', 'voided' or None."""
    return STATUSES.get(raw.lower()) if raw else None


def upload_status_of(raw: str | None) -> str | None:
    """lookup_expr(…, UPLOAD_STATUSES) of one text: 'accepted', 'failed' or None."""
    return UPLOAD_STATUSES.get(raw.lower()) if raw else None
