"""The allocation loader's check of whole columns (the usual rows at once) holds to the full
check of every field of every row."""

from __future__ import annotations

import polars as pl
from hypothesis import example, given, settings
from hypothesis import strategies as st

from blanktrack.allocations import _check_row_fully, _check_rows, _raw_frame
from blanktrack.schemas import ALLOCATION_SCHEMA

BANS = ["04595257", "53567686", "53567687", "4595257", "", "0459525x", "045952570"]
VALUES = {
    "ban": BANS,
    "head_ban": [*BANS, None],
    "invoice_type": ["07", "08", "7", "8", "9", "", "007", "O7"],
    "period": ["11302", "113/01 ~ 113/02", "11301", "1302", "", "113/02~113/03", "11304"],
    "track": ["MB", "mb", "M", "MBC", "", "M1", "ＭＢ"],
    "begin_no": ["02034200", "02034250", "2034200", "MB02034200", "", "2.03e6", "02034299",
                 "020342000"],
    "end_no": ["02034299", "02034249", "02034200", "", "0203429x", "02034300", "020342999"],
    "machine": ["POS-1", "", None],
    "reported_by": ["ERP", "", None],
}
VALID = {"ban": "53567686", "head_ban": None, "invoice_type": "07", "period": "11302",
         "track": "MB", "begin_no": "02034200", "end_no": "02034299", "machine": None,
         "reported_by": None}


@st.composite
def rows(draw: st.DrawFn) -> dict:
    """A valid row with none, one or a few fields changed to any value, valid or not."""
    changed = draw(st.lists(st.sampled_from(sorted(VALUES)), max_size=3))
    return {**VALID, **{k: draw(st.sampled_from(VALUES[k])) for k in changed}}


def edge(**changed: str | None) -> dict:
    return {**VALID, **changed}


# Each edge of the shortcut's test, pinned: every run meets each plausible slip of it, not by
# chance (one field wrong at a time, next to the value that is just right).
@settings(max_examples=500, deadline=None)
@given(rows())
@example(edge(begin_no="02034299", end_no="02034200"))  # end below begin
@example(edge(begin_no="02034200", end_no="02034200"))  # a single number: begin = end
@example(edge(begin_no="020342000"))  # 9 digits: 8 digits and one more
@example(edge(end_no="020342999"))
@example(edge(begin_no="2034200"))  # 7 digits
@example(edge(end_no="0203429x"))
@example(edge(ban="53567687"))  # fails the check digit
@example(edge(ban="045952570"))
@example(edge(ban=""))
@example(edge(head_ban="53567687"))
@example(edge(head_ban="4595257"))
@example(edge(head_ban=""))  # empty: the BAN itself
@example(edge(head_ban="04595257"))
@example(edge(track="mb"))
@example(edge(track="ＭＢ"))  # full-width letters
@example(edge(track="M1"))
@example(edge(track=""))
@example(edge(invoice_type="7"))
@example(edge(invoice_type="007"))
@example(edge(invoice_type="9"))
@example(edge(invoice_type=""))
@example(edge(period="11301"))  # odd month
@example(edge(period="113/02~113/03"))
@example(edge(period="113/01 ~ 113/02"))
@example(edge(period=""))
@example(edge(machine="", reported_by=""))
def test_the_usual_row_shortcut_equals_the_full_check(row: dict) -> None:
    assert checked_by_columns([row]) == checked_one_by_one([row])


def checked_by_columns(rows: list[dict]) -> tuple[list[dict], list]:
    frame, problems = _check_rows("a.csv", _raw_frame(list(enumerate(rows, start=2))))
    assert frame.schema == pl.Schema(ALLOCATION_SCHEMA)
    return frame.to_dicts(), problems


def checked_one_by_one(rows: list[dict]) -> tuple[list[dict], list]:
    good, problems = [], []
    for line, row in enumerate(rows, start=2):
        checked, row_problems = _check_row_fully("a.csv", line, row)
        problems.extend(row_problems)
        if checked is not None:
            good.append(checked)
    return good, problems


@settings(max_examples=200, deadline=None)
@given(st.lists(rows(), max_size=12))
@example([edge(), edge(ban=""), edge(invoice_type="7", head_ban=""), edge(track="mb"),
          edge(begin_no="02034299", end_no="02034200"), edge(period="113/01 ~ 113/02")])
@example([])
def test_a_file_of_rows_checked_by_columns_equals_each_row_checked(rows: list[dict]) -> None:
    """Good and bad rows mixed: the good in the file's order, each bad row's problems in
    line order, worded as the full check words them."""
    assert checked_by_columns(rows) == checked_one_by_one(rows)
