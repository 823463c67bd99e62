"""The date and status rules, written once (invoice_rules): the polars expression of a column and
the rule for one value agree, and both say what the canonical table's spelling means."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from blanktrack.invoice_rules import (
    STATUSES,
    UPLOAD_STATUSES,
    date_expr,
    day_of,
    lookup_expr,
    status_of,
    upload_status_of,
)


@pytest.mark.parametrize(("raw", "day"), [
    ("2024-02-29", dt.date(2024, 2, 29)),
    ("20240229", dt.date(2024, 2, 29)),
    ("2023-02-29", None),  # no such day
    ("0000-01-01", None),  # no year 0
    ("2024-2-3", None),  # not YYYY-MM-DD
    ("2024022", None),  # seven digits: an ROC date, not this table's
    ("113/02/29", None),
    (" 2024-02-29", None),
    ("", None),
    (None, None),
])
def test_a_date_is_yyyy_mm_dd_or_yyyymmdd(raw: str | None, day: dt.date | None) -> None:
    assert day_of(raw) == day
    assert pl.DataFrame({"d": [raw]}, schema={"d": pl.String}).select(date_expr("d")).item() == day


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789-/ ", max_size=11))
@example("2024-12-31")
@example("99991231")
@example("2024-13-01")
def test_the_expression_and_the_single_value_agree_on_dates(raw: str) -> None:
    frame = pl.DataFrame({"d": [raw]}, schema={"d": pl.String})
    assert frame.select(date_expr("d")).item() == day_of(raw)


@pytest.mark.parametrize(("raw", "status"), [
    ("issued", "issued"), ("ISSUED", "issued"), ("開立", "issued"),
    ("cancelled", "cancelled"), ("作廢", "cancelled"),
    ("voided", "voided"), ("註銷", "voided"),
    ("void", None), ("", None), (None, None),
])
def test_statuses(raw: str | None, status: str | None) -> None:
    assert status_of(raw) == status
    frame = pl.DataFrame({"s": [raw]}, schema={"s": pl.String})
    assert frame.select(lookup_expr("s", STATUSES)).item() == status


@pytest.mark.parametrize(("raw", "upload"), [
    ("accepted", "accepted"), ("Failed", "failed"), ("rejected", None), ("", None), (None, None),
])
def test_upload_statuses(raw: str | None, upload: str | None) -> None:
    assert upload_status_of(raw) == upload
    frame = pl.DataFrame({"u": [raw]}, schema={"u": pl.String})
    assert frame.select(lookup_expr("u", UPLOAD_STATUSES)).item() == upload
