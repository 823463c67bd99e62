"""The dense scan's coding of a typed date column (dense._day_codes): the calendar day of each
row read from the stored integers, the text of each code as the validation writes a date
(YYYY-MM-DD), whatever the column's offset into its buffers, its type or its spread of days."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pyarrow as pa
from hypothesis import example, given
from hypothesis import strategies as st

from blanktrack.usage import dense

D = dt.date


def test_a_slice_of_a_date_column_codes_its_own_rows() -> None:
    """A batch is often a slice of a larger array: the days are read from its offset on."""
    days = pa.array([D(2024, 1, 9), D(2024, 1, 1), D(2024, 1, 2), D(2024, 1, 4)], pa.date32())
    codes, text = dense._day_codes(days.slice(1, 3))
    assert codes.tolist() == [0, 1, 3]
    assert text == ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"]


def test_a_timestamp_and_a_date64_count_on_their_calendar_day() -> None:
    stamps = pa.array([dt.datetime(2024, 2, 29, 23, 59, 59), dt.datetime(2024, 2, 28, 0, 0)],
                      pa.timestamp("us"))
    codes, text = dense._day_codes(stamps.slice(0, 2))
    assert codes.tolist() == [1, 0]
    assert text == ["2024-02-28", "2024-02-29"]
    millis = pa.array([D(2024, 3, 1), D(2024, 2, 29)], pa.date64())
    codes, text = dense._day_codes(millis)
    assert codes.tolist() == [1, 0]
    assert text == ["2024-02-29", "2024-03-01"]
    before_1970 = pa.array([dt.datetime(1969, 12, 31, 0, 0, 1)], pa.timestamp("s"))
    assert dense._day_codes(before_1970)[1] == ["1969-12-31"]


def test_days_spread_wider_than_a_span_are_coded_by_their_distinct_values() -> None:
    """A typo'd year puts the days far apart: each distinct day one code, text of each, the
    year written with four digits."""
    days = pa.array([D(2024, 1, 5), D(999, 1, 5), D(2024, 1, 5), D(9999, 12, 31)], pa.date32())
    codes, text = dense._day_codes(days)
    assert codes.tolist() == [1, 0, 1, 2]
    assert text == ["0999-01-05", "2024-01-05", "9999-12-31"]


@given(st.lists(st.dates(D(1, 1, 1), D(9999, 12, 31)), min_size=1, max_size=40),
       st.integers(0, 5))
@example([D(2024, 1, 1)], 0)
@example([D(1, 1, 1), D(9999, 12, 31)], 1)
@example([D(2024, 1, 1), D(2024, 1, 1) + dt.timedelta(days=dense.DAY_SPAN)], 0)
@example([D(2024, 1, 1), D(2024, 1, 1) + dt.timedelta(days=dense.DAY_SPAN - 1)], 0)
def test_every_row_gets_the_text_of_its_own_day(days: list[dt.date], offset: int) -> None:
    """Against the plain model: the text a row's code points to is its day, YYYY-MM-DD."""
    column = pa.array([D(2000, 1, 1)] * offset + days, pa.date32()).slice(offset)
    codes, text = dense._day_codes(column)
    assert [text[c] for c in codes.tolist()] == [f"{d.year:04d}-{d.month:02d}-{d.day:02d}"
                                                  for d in days]


def test_coding_a_date_column_loads_no_pyarrow_compute() -> None:
    """A Date column's days are a view of its integers: a cast would load pyarrow.compute
    (a tenth of a second) in a scanning thread."""
    code = (
        "import sys, datetime as dt, pyarrow as pa\n"
        "from blanktrack.usage import dense\n"
        "days = pa.array([dt.date(2024, 1, 3), dt.date(2024, 1, 1)], pa.date32())\n"
        "assert dense._day_codes(days)[0].tolist() == [2, 0]\n"
        "stamps = pa.array([dt.datetime(2024, 1, 3, 5)], pa.timestamp('us'))\n"
        "assert dense._day_codes(stamps)[1] == ['2024-01-03']\n"
        "print('pyarrow.compute' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


UNITS = st.sampled_from(["s", "ms", "us", "ns"])


@given(st.lists(st.datetimes(dt.datetime(1678, 1, 1), dt.datetime(2261, 12, 31)), min_size=1,
                max_size=40), UNITS, st.integers(0, 3))
@example([dt.datetime(2024, 1, 1, 0, 0), dt.datetime(2023, 12, 31, 23, 59, 59, 999999)], "us", 0)
@example([dt.datetime(1969, 12, 31, 23, 59, 59), dt.datetime(1970, 1, 1)], "ns", 1)
@example([dt.datetime(1678, 1, 1, 0, 0, 1), dt.datetime(1678, 1, 2)], "ns", 0)  # near int64's low end
@example([dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 1) + dt.timedelta(days=dense.DAY_SPAN)],
         "ms", 0)
@example([dt.datetime(2024, 1, 1),
          dt.datetime(2024, 1, 1) + dt.timedelta(days=dense.DAY_SPAN - 1, hours=23)], "s", 2)
def test_every_timestamp_gets_the_text_of_its_calendar_day(stamps: list[dt.datetime], unit: str,
                                                           offset: int) -> None:
    """A naive timestamp of any unit counts on its wall clock's day (the plain model: the
    datetime's date), whether the batch's days are coded arithmetically or by distinct value."""
    if unit == "s":
        stamps = [s.replace(microsecond=0) for s in stamps]
    elif unit == "ms":
        stamps = [s.replace(microsecond=s.microsecond // 1000 * 1000) for s in stamps]
    column = pa.array([dt.datetime(2000, 1, 1)] * offset + stamps, pa.timestamp(unit))
    codes, text = dense._day_codes(column.slice(offset))
    assert [text[c] for c in codes.tolist()] == [s.date().isoformat() for s in stamps]
