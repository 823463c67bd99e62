"""Reporting periods (期別): two calendar months named by ROC year and the even end month."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # polars is loaded only where an expression is built: the CLI starts faster
    import polars as pl

_CODE = re.compile(r"^([0-9]{3})([0-9]{2})$")
# MOF download form: "113/03 ~ 113/04" (spaces optional), also "113/03~113/04".
_SPAN = re.compile(r"^\s*([0-9]{3})/([0-9]{2})\s*~\s*([0-9]{3})/([0-9]{2})\s*$")

REPORT_WINDOW_DAYS = 10  # report from day 1 to day 10 of the month after the period


@dataclass(frozen=True, order=True)
class Period:
    """A two-month reporting period, e.g. Period(113, 2) = Jan–Feb 2024 = code '11302'."""

    roc_year: int
    end_month: int

    @classmethod
    def parse(cls, code: str) -> Period:
        """Parse a period as people write it: the code `YYYMM` (11312) or the two months
        `113/11~113/12` (spaces around `~` optional); raise ValueError saying what is wrong."""
        if isinstance(code, str) and "~" in code:
            return cls.parse_span(code)
        m = _CODE.match(code.strip()) if isinstance(code, str) else None
        if not m:
            raise ValueError(
                f"period {code!r} is not a 5-digit code YYYMM (ROC year + even end month, e.g. "
                "11312) or two months 113/11~113/12"
            )
        year, month = int(m.group(1)), int(m.group(2))
        if month not in (2, 4, 6, 8, 10, 12):
            raise ValueError(
                f"period {code!r}: month {month:02d} is not the even end month of a two-month "
                "period (02, 04, 06, 08, 10 or 12)"
            )
        if year < 1:
            raise ValueError(f"period {code!r}: ROC year must be at least 001")
        return cls(year, month)

    @classmethod
    def parse_span(cls, text: str) -> Period:
        """Parse the MOF download form `113/03 ~ 113/04`."""
        m = _SPAN.match(text)
        if not m:
            raise ValueError(f"period {text!r} is not of the form '113/03 ~ 113/04'")
        y1, m1, y2, m2 = (int(g) for g in m.groups())
        if y1 != y2 or m2 != m1 + 1 or m2 % 2:
            raise ValueError(
                f"period {text!r} is not two consecutive months ending on an even month"
            )
        return cls.parse(f"{y2:03d}{m2:02d}")

    @classmethod
    def of_date(cls, day: dt.date) -> Period:
        month = day.month + (day.month % 2)
        return cls(day.year - 1911, month)

    @property
    def code(self) -> str:
        return f"{self.roc_year:03d}{self.end_month:02d}"

    @property
    def first_day(self) -> dt.date:
        return dt.date(self.roc_year + 1911, self.end_month - 1, 1)

    @property
    def last_day(self) -> dt.date:
        return self.shift(1).first_day - dt.timedelta(days=1)

    @property
    def label(self) -> str:
        """How people see it: 113/01~113/02."""
        return f"{self.roc_year:03d}/{self.end_month - 1:02d}~{self.roc_year:03d}/{self.end_month:02d}"

    def shift(self, n: int) -> Period:
        index = (self.roc_year * 12 + self.end_month - 2) // 2 + n
        return Period(index // 6, (index % 6) * 2 + 2)

    @property
    def report_window(self) -> tuple[dt.date, dt.date]:
        """Day 1 to day 10 of the month after the period."""
        start = self.last_day + dt.timedelta(days=1)
        return start, start + dt.timedelta(days=REPORT_WINDOW_DAYS - 1)

    def __str__(self) -> str:
        return self.code


_ISO_DATE = re.compile(r"^([0-9]{4})-([0-9]{2})-([0-9]{2})$")
_GREGORIAN_DIGITS = re.compile(r"^([0-9]{4})([0-9]{2})([0-9]{2})$")
# ROC (民國) dates as Taiwanese forms and ERPs write them: 114/01/06, 114-01-06, 114.01.06, 1140106
_ROC_DATE = re.compile(r"^([0-9]{2,3})[/.-]([0-9]{1,2})[/.-]([0-9]{1,2})$")
_ROC_DIGITS = re.compile(r"^([0-9]{3})([0-9]{2})([0-9]{2})$")
_GREGORIAN_SLASH = re.compile(r"^([0-9]{4})/([0-9]{1,2})/([0-9]{1,2})$")
ROC_OFFSET = 1911  # ROC year 1 = 1912


def parse_date(text: str) -> dt.date:
    """A date as a person in Taiwan types it: ROC `114/01/06` (also `114-01-06`, `114.01.06`,
    `1140106`) or Gregorian `2025-01-06` (also `20250106`, `2025/01/06`). ValueError names the
    text and the accepted forms."""
    value = text.strip() if isinstance(text, str) else ""
    for pattern, offset in ((_ISO_DATE, 0), (_GREGORIAN_DIGITS, 0), (_GREGORIAN_SLASH, 0),
                            (_ROC_DATE, ROC_OFFSET), (_ROC_DIGITS, ROC_OFFSET)):
        m = pattern.match(value)
        if not m:
            continue
        year, month, day = (int(g) for g in m.groups())
        if offset and year < 1:
            break
        try:
            return dt.date(year + offset, month, day)
        except ValueError as exc:
            raise ValueError(f"date {text!r} does not exist ({exc})") from exc
    raise ValueError(f"date {text!r} is not a date: write ROC 114/01/06 (or 1140106) or "
                     "2025-01-06")


def roc_date(day: dt.date) -> str:
    """How Taiwanese forms write a date: 114/01/06."""
    return f"{day.year - ROC_OFFSET:03d}/{day.month:02d}/{day.day:02d}"


def period_code_expr(date_column: str) -> pl.Expr:
    """Period code of each date, as a string like '11302'."""
    import polars as pl

    d = pl.col(date_column)
    month = d.dt.month() + d.dt.month() % 2
    year = d.dt.year() - 1911
    return year.cast(pl.String).str.zfill(3) + month.cast(pl.String).str.zfill(2)


def period_index_expr(date_column: str) -> pl.Expr:
    """A running number of the period a date lies in: adjacent periods differ by 1."""
    import polars as pl

    d = pl.col(date_column)
    return (d.dt.year().cast(pl.Int32) * 6 + (d.dt.month().cast(pl.Int32) - 1) // 2)


def date_period_index(day: dt.date) -> int:
    """period_index_expr of one date: the running number of the period it lies in."""
    return day.year * 6 + (day.month - 1) // 2


def period_index(period: Period) -> int:
    """The running number of a period (period_index_expr of any of its days)."""
    return date_period_index(period.first_day)


def current_period(today: dt.date) -> Period:
    """The period to report today: the one that ended most recently."""
    return Period.of_date(today).shift(-1)


@dataclass(frozen=True)
class DeadlineStatus:
    period: Period
    report_date: dt.date
    window_start: dt.date
    window_end: dt.date
    state: str  # 'early' (period not over), 'open', 'late'
    days: int  # days left in the window (open), days until it opens (early), days late (late)

    @property
    def sentence(self) -> str:
        w = f"{self.window_start.isoformat()} to {self.window_end.isoformat()}"
        if self.state == "early":
            return (
                f"Period {self.period.code} ({self.period.label}) has not ended on "
                f"{self.report_date.isoformat()}: numbers may still be used; the report window is {w}."
            )
        if self.state == "open":
            return (
                f"Report window {w} is open: {self.days} day(s) left after "
                f"{self.report_date.isoformat()}."
            )
        return (
            f"Report for period {self.period.code} ({self.period.label}) is {self.days} day(s) late: "
            f"the window was {w}, the report date is {self.report_date.isoformat()}."
        )


def deadline_status(period: Period, report_date: dt.date) -> DeadlineStatus:
    start, end = period.report_window
    if report_date < start:
        state, days = "early", (start - report_date).days
    elif report_date <= end:
        state, days = "open", (end - report_date).days
    else:
        state, days = "late", (report_date - end).days
    return DeadlineStatus(period, report_date, start, end, state, days)
