"""The BAN check digit (both rules) and period arithmetic of the spec's §2 and §6."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from blanktrack.ban import is_valid_ban, valid_ban_expr
from blanktrack.period import Period, current_period, deadline_status

BOTH_RULES = ["04595257", "10458575", "53567686"]
NEW_RULE_ONLY = ["04595252", "12345670", "10000073"]  # python-stdnum and mod-10 tools reject these
INVALID = ["53567687", "1234567", "123456789", "1234567a", "", "０４５９５２５７"]


@pytest.mark.parametrize("ban", BOTH_RULES + NEW_RULE_ONLY)
def test_valid_bans(ban: str) -> None:
    assert is_valid_ban(ban)


@pytest.mark.parametrize("ban", INVALID)
def test_invalid_bans(ban: str) -> None:
    assert not is_valid_ban(ban)


def test_expression_agrees_with_the_function() -> None:
    bans = [*BOTH_RULES, *NEW_RULE_ONLY, *INVALID, None, *(f"{n:08d}" for n in range(0, 10**8, 99991))]
    got = pl.DataFrame({"ban": bans}, schema={"ban": pl.String}).select(valid_ban_expr("ban"))
    assert got.to_series().to_list() == [b is not None and is_valid_ban(b) for b in bans]


@pytest.mark.parametrize(("code", "label", "first", "last"), [
    ("11302", "113/01~113/02", dt.date(2024, 1, 1), dt.date(2024, 2, 29)),
    ("10312", "103/11~103/12", dt.date(2014, 11, 1), dt.date(2014, 12, 31)),
])
def test_period_codes(code: str, label: str, first: dt.date, last: dt.date) -> None:
    p = Period.parse(code)
    assert (p.code, p.label, p.first_day, p.last_day) == (code, label, first, last)
    assert Period.of_date(first) == p == Period.of_date(last)
    assert Period.parse_span(label.replace("~", " ~ ")) == p


@pytest.mark.parametrize("bad", ["11301", "1130", "1130200", "113/12~114/01", "abcde", "11314"])
def test_bad_periods(bad: str) -> None:
    with pytest.raises(ValueError):
        Period.parse(bad) if "/" not in bad else Period.parse_span(bad)


def test_adjacent_periods_cross_years() -> None:
    p = Period.parse("11312")
    assert p.shift(1).code == "11402" and p.shift(-1).code == "11310"
    assert Period.parse("11302").shift(-1).code == "11212"


def test_report_window_and_current_period() -> None:
    p = Period.parse("11302")
    assert p.report_window == (dt.date(2024, 3, 1), dt.date(2024, 3, 10))
    assert current_period(dt.date(2024, 3, 5)) == p
    assert current_period(dt.date(2024, 4, 30)) == p
    assert current_period(dt.date(2024, 5, 1)).code == "11304"
    assert deadline_status(p, dt.date(2024, 3, 8)).days == 2
    assert deadline_status(p, dt.date(2024, 3, 12)).state == "late"


def test_full_width_digits_are_not_digits(tmp_path: Path) -> None:
    """Unicode-aware `\\d` would accept ０-９; the MOF accepts ASCII only."""
    from blanktrack.cli import main

    alloc = tmp_path / "allocations.csv"
    alloc.write_text("ban,invoice_type,period,track,begin_no,end_no\n"
                     "53567686,07,11302,MB,０２０３４２００,02034299\n", encoding="utf-8")
    inv = tmp_path / "invoices.csv"
    inv.write_text("invoice_number,invoice_date,seller_ban,status\n"
                   "MB０２０３４２００,2024-01-02,53567686,issued\n", encoding="utf-8")
    assert main(["reconcile", "--period", "11302", "--allocations", str(alloc), "--invoices",
                 str(inv), "--out-dir", str(tmp_path / "o")]) == 1
    with pytest.raises(ValueError):
        Period.parse("１１３０２")
