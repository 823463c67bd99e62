"""Sorting shortcuts hold to the plain sort they replace."""

from __future__ import annotations

import datetime as dt

import polars as pl
from hypothesis import example, given, settings
from hypothesis import strategies as st

from blanktrack.reconcile import _sort_issuing

_BANS = st.sampled_from(["00000000", "04595257", "53567686", "99999999", "12345675"])
_MACHINES = st.one_of(st.none(), st.sampled_from(["POS-01", "POS-10", "pos-2", "", "收銀機", "Z"]))
_TRACKS = st.one_of(st.none(), st.sampled_from(["AA", "AB", "KT", "ZZ"]))
_DAYS = st.dates(dt.date(1911, 1, 1), dt.date(2400, 12, 31))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(_BANS, _MACHINES, _TRACKS, _DAYS), max_size=40, unique=True))
@example([("04595257", "POS-1", "ZZ", dt.date(2024, 1, 5)),  # one till and day, by track
          ("04595257", "POS-1", None, dt.date(2024, 1, 4)),
          ("04595257", "POS-1", "AB", dt.date(2024, 1, 6))])
def test_issuing_sorted_as_by_its_four_keys(
        rows: list[tuple[str, str | None, str | None, dt.date]]) -> None:
    issuing = pl.DataFrame(
        [(*r, k) for k, r in enumerate(rows)], orient="row",
        schema={"seller_ban": pl.String, "machine": pl.String, "track": pl.String,
                "invoice_date": pl.Date, "invoices": pl.UInt32},
    )
    expected = issuing.sort("seller_ban", "machine", "track", "invoice_date", nulls_last=True)
    assert _sort_issuing(issuing).equals(expected)
