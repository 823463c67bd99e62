"""usage/csv_batches.KeyCodes and its kernel (usage/key_coding.py): a CSV batch's text keys coded
from polars' string_view columns, held to a plain dict model, through the machine code and
through numba's dispatcher alike: values of 0..12 bytes (inside the view), longer ones (coded
another way), nulls, runs, slices, chunks, and enough distinct values to grow the table.
"""

from __future__ import annotations

import datetime as dt
import itertools
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from blanktrack.usage import csv_batches, key_coding
from blanktrack.usage import native_loop as native
from blanktrack.usage.csv_batches import KeyCodes
from blanktrack.usage.distinct_values import NotClean

NEWEST = pl.CompatLevel.newest()


@pytest.fixture(scope="module", params=["native", "numba"])
def kernels(request: pytest.FixtureRequest) -> native.Kernels:
    if request.param == "native":
        machine = native.kernels()
        assert machine.kind == "native", "this machine should load the native loop"
        return machine
    return native._numba_kernels()


def test_the_constants_are_the_kernels() -> None:
    """csv_batches keeps copies (key_coding imports numba, which a run does not load)."""
    assert (csv_batches.ENTRY_WORDS, csv_batches.INLINE_BYTES) == (
        key_coding.ENTRY_WORDS, key_coding.INLINE_BYTES)
    assert (csv_batches.DONE, csv_batches.TABLE_FULL, csv_batches.LONG_VALUE) == (
        key_coding.DONE, key_coding.TABLE_FULL, key_coding.LONG_VALUE)


# A value: null, inline text of 0..12 bytes (one- and three-byte characters: 12 bytes exactly
# is the edge), or longer (13 bytes: the first that is not inline).
_short = st.text(st.sampled_from("ab0-9 \u6536\u9280"), max_size=12).filter(
    lambda v: len(v.encode()) <= 12)
_values = st.one_of(st.none(), _short, st.sampled_from(
    ["", "a" * 12, "a" * 13, "\u6536\u9280\u6a5f\u4e00", "\u6536\u9280\u6a5f\u4e00\u6a13"]),
    st.text(min_size=7, max_size=20))
_batch = st.lists(st.tuples(_values, st.integers(1, 4)), max_size=40).map(
    lambda runs: [v for v, k in runs for _ in range(k)])  # runs of one value


def column(values: list[str | None], chunks: int, sliced: bool) -> pa.ChunkedArray:
    """The values as polars hands a String column to Arrow: string_view, in `chunks` chunks,
    each maybe a slice of a longer array (an offset into its views and validity)."""
    bounds = np.linspace(0, len(values), chunks + 1).astype(int)
    arrays = []
    for lo, hi in itertools.pairwise(bounds.tolist()):
        part = values[lo:hi]
        if sliced:
            whole = pl.Series([None, "x" * 20, *part, "pad"], dtype=pl.String).to_arrow(
                compat_level=NEWEST)
            arrays.append(whole.slice(2, len(part)))
        else:
            arrays.append(pl.Series(part, dtype=pl.String).to_arrow(compat_level=NEWEST))
    return pa.chunked_array(arrays, pa.string_view())


@settings(max_examples=150, deadline=None)
@given(batches=st.lists(_batch, min_size=1, max_size=4), chunks=st.integers(1, 3),
       sliced=st.booleans(), entries=st.sampled_from([4, 64]))
@example(batches=[["2024-01-05"] * 3 + [None] + ["2024-01-05"]], chunks=1, sliced=False,
         entries=4)
@example(batches=[["a" * 12, "a" * 13, "a" * 12, None, ""]], chunks=2, sliced=True, entries=4)
@example(batches=[[f"POS-{k}" for k in range(300)], [f"POS-{k}" for k in range(299, -1, -1)]],
         chunks=3, sliced=False, entries=4)  # the table grown several times within a batch
def test_codes_follow_a_dict_model(kernels: native.Kernels, batches: list[list[str | None]],
                                   chunks: int, sliced: bool, entries: int) -> None:
    """Every row's code names its value in `texts`; a value keeps its code from batch to batch;
    codes are distinct values' places, given in the order met where no value is long (the
    null's when a chunk with nulls begins)."""
    keys = KeyCodes(kernels, entries)
    model: dict[str | None, int] = {}
    for values in batches:
        before = list(keys.texts)
        codes = keys.codes(column(values, chunks, sliced))
        assert codes.dtype == np.int32 and not codes.flags.writeable
        assert len(codes) == len(values)
        assert keys.texts[:len(before)] == before, "codes already given are kept"
        assert [keys.texts[c] for c in codes] == values
        assert len(set(keys.texts)) == len(keys.texts), "one code a value"
        for v in values:
            model.setdefault(v, len(model))
    assert set(keys.texts) == set(model)
    if not any(v is not None and len(v.encode()) > 12 for b in batches for v in b):
        # (the null's code is given when a chunk with nulls begins)
        assert [v for v in keys.texts if v is not None] == [v for v in model if v is not None]


def test_a_long_value_codes_its_chunk_another_way(kernels: native.Kernels) -> None:
    """The kernel stops at a value of 13 bytes; the chunk is coded by its distinct values,
    the short ones keeping the codes the kernel gave them."""
    keys = KeyCodes(kernels)
    first = keys.codes(column(["POS-1", "POS-2"], 1, False))
    assert list(first) == [0, 1]
    codes = keys.codes(column(["POS-2", "a-till-of-13b", None, "POS-1", "POS-3"], 1, False))
    assert keys.texts == ["POS-1", "POS-2", None, "POS-3", "a-till-of-13b"]
    assert list(codes) == [1, 4, 2, 0, 3]


def test_a_column_the_file_lacks_is_all_null(kernels: native.Kernels) -> None:
    keys = KeyCodes(kernels)
    lacking = pl.Series([None] * 5, dtype=pl.String).to_arrow(compat_level=NEWEST)
    assert list(keys.codes(lacking)) == [0] * 5
    assert keys.texts == [None]


def test_a_key_not_as_string_view_is_declined(kernels: native.Kernels) -> None:
    """Not polars' own text: the dense scan declines, the polars paths decide."""
    with pytest.raises(NotClean):
        KeyCodes(kernels).codes(pa.array(["2024-01-05"], pa.large_string()))


def test_the_kernels_agree_row_by_row() -> None:
    """The machine code and numba's dispatcher give the same codes, stops and table."""
    machine, dispatcher = native.kernels(), native._numba_kernels()
    values = [f"{k % 37:04d}" for k in range(500)] + ["x" * 13]
    arr = pl.Series(values, dtype=pl.String).to_arrow(compat_level=NEWEST)
    views = np.frombuffer(arr.buffers()[1], np.uint64)[:2 * len(arr)]
    results = []
    for k in (machine, dispatcher):
        table = np.zeros(4 * 16, np.int64)
        table[2::4] = -1
        keys = np.zeros(16, np.uint64)
        codes = np.full(len(values), -9, np.int32)
        got = k.code_keys(views, np.zeros(0, np.uint8), 0, -1, table, keys, 0, codes, 0)
        results.append((got, table.tolist(), keys.tolist(), codes.tolist()))
    assert results[0] == results[1]
    (done, n_codes, why), *_ = results[0]
    assert (done, n_codes, why) == (2, 2, key_coding.TABLE_FULL)  # an eighth of 16 entries


def test_a_table_of_very_many_values_fills_to_half(kernels: native.Kernels) -> None:
    """Up to 2^16 entries a table holds an eighth as many codes (few probes past the first
    entry); a larger one half (a column of very many values keeps the smaller table)."""
    values = [f"{k:06d}" for k in range(70_000)]
    arr = pl.Series(values, dtype=pl.String).to_arrow(compat_level=NEWEST)
    views = np.frombuffer(arr.buffers()[1], np.uint64)[:2 * len(arr)]
    for entries, room in ((1 << 16, 8192), (1 << 17, 65_536)):
        table = np.zeros(4 * entries, np.int64)
        table[2::4] = -1
        keys = np.zeros(entries, np.uint64)
        codes = np.full(len(values), -9, np.int32)
        got = kernels.code_keys(views, np.zeros(0, np.uint8), 0, -1, table, keys, 0, codes, 0)
        assert got == (room, room, key_coding.TABLE_FULL)
        assert codes[:room].tolist() == list(range(room))


def test_the_day_units_are_the_kernels() -> None:
    """dense keeps key_coding.DAY_TICKS' units as a copy (key_coding imports numba)."""
    from blanktrack.usage import dense

    assert {t: u for u, t in enumerate(key_coding.DAY_TICKS)} == dense._DAY_UNITS
    assert key_coding.DAY_TICKS == (1, 86_400, 86_400_000, 86_400_000_000, 86_400_000_000_000)


_ZONES = [None, "Asia/Taipei", "America/Los_Angeles"]
# Within the time zone database's own transitions (to 2037): past them pyarrow and Python apply
# a zone's daylight saving differently.
_moments = st.datetimes(min_value=dt.datetime(1950, 1, 1), max_value=dt.datetime(2037, 12, 31))


@settings(max_examples=120, deadline=None)
@given(near=st.lists(_moments, min_size=1, max_size=30), far=st.booleans(),
       unit=st.sampled_from(["s", "ms", "us", "ns", "date64"]),
       zone=st.sampled_from(_ZONES), sliced=st.booleans())
@example(near=[dt.datetime(1969, 12, 31, 23, 59, 59), dt.datetime(1970, 1, 1)], far=False,
         unit="us", zone=None, sliced=False)  # the last tick before day 0, and day 0
def test_a_typed_date_is_coded_by_its_calendar_day(kernels: native.Kernels,
                                                   near: list[dt.datetime], far: bool, unit: str,
                                                   zone: str | None, sliced: bool) -> None:
    """The scan's day codes (key_coding.day_codes) name each row's calendar day in its own
    time zone, as numpy's do: within DAY_SPAN days coded from the first, wider by np.unique
    (`far` adds a day 3,000 days before)."""
    from blanktrack.usage import dense

    moments = near + ([near[0] - dt.timedelta(days=3000)] if far else [])
    if unit == "date64":
        days = [m.date() for m in moments]
        column = pa.array(days, pa.date64())
        want = [d.isoformat() for d in days]
    else:
        tz = None if zone is None else ZoneInfo(zone)
        stamps = [m.replace(tzinfo=tz) if tz else m for m in moments]
        column = pa.array(stamps, pa.timestamp(unit, tz=zone))
        want = [s.date().isoformat() for s in stamps]  # the wall clock's day where it was
    if sliced:
        column = pa.concat_arrays([column, column]).slice(len(column), len(column))
    codes, text = dense._day_codes(column, kernels)
    assert [text[c] for c in codes] == want
    by_numpy, numpy_text = dense._day_codes(column)
    assert (codes.tolist(), text) == (by_numpy.tolist(), numpy_text)
    assert codes.dtype == np.int32 and not codes.flags.writeable
