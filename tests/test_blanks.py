"""The blank rule against a plain set-based model, plus the cases the spec names."""

from __future__ import annotations

import datetime as dt
import itertools

import polars as pl
import pytest
from factories import allocations, invoices
from hypothesis import example, given, settings
from hypothesis import strategies as st

from blanktrack.blanks import blank_intervals, blank_ranges, booklet_state
from blanktrack.booklets import allocation_booklets, prepare_allocations
from blanktrack.period import Period
from blanktrack.split import parse_split
from blanktrack.usage import BookletUsage
from blanktrack.usage.reduction import group_rows, reduce_usage

P = Period.parse("11302")


def compute(alloc: pl.DataFrame, inv: pl.LazyFrame, split: str = "none") -> pl.DataFrame:
    prepared = prepare_allocations(alloc)
    by_machine = reduce_usage(group_rows(inv, "source").collect(), P, None)[0]
    usage = BookletUsage.joined(
        P, [], None, allocation_booklets(prepared), by_machine,
        pl.DataFrame(schema={"track": pl.String, "booklet": pl.Int64, "mask": pl.UInt64}),
        pl.DataFrame(), pl.DataFrame(), clean=False)
    state = booklet_state(usage, withheld=pl.DataFrame(schema={"track": pl.String}))
    return blank_ranges(blank_intervals(state), prepared, split)  # type: ignore[arg-type]


def numbers_of(ranges: pl.DataFrame) -> list[int]:
    out: list[int] = []
    for b, e in ranges.select("begin_no", "end_no").iter_rows():
        out.extend(range(int(b), int(e) + 1))
    return out


def test_mof_example_tail() -> None:
    alloc = allocations([{"ban": "53567686", "track": "MB", "begin": 2034200, "end": 2034299,
                          "period": "11302"}])
    inv = invoices([{"track": "MB", "number": n} for n in range(2034200, 2034268)])
    r = compute(alloc, inv)
    assert r.select("ban", "invoice_type", "track", "begin_no", "end_no", "count").rows() == [
        ("53567686", "07", "MB", "02034268", "02034299", 32)
    ]


def test_skipped_numbers_in_the_middle_are_blank() -> None:
    alloc = allocations([{"begin": 0, "end": 99}])
    used = [n for n in range(0, 60) if n not in (10, 11, 40)]
    r = compute(alloc, invoices([{"number": n} for n in used]))
    assert r.select("begin_no", "end_no").rows() == [
        ("00000010", "00000011"), ("00000040", "00000040"), ("00000060", "00000099")]


def test_cancelled_and_voided_numbers_are_used() -> None:
    alloc = allocations([{"begin": 0, "end": 49}])
    inv = invoices([{"number": 0, "status": "cancelled"}, {"number": 1, "status": "voided"},
                    {"number": 2, "status": "voided"}, {"number": 2, "status": "issued"}])
    assert compute(alloc, inv).select("begin_no", "end_no").rows() == [("00000003", "00000049")]


def test_wholly_unused_allocation_reported_in_full() -> None:
    alloc = allocations([{"begin": 1000, "end": 1499}])
    r = compute(alloc, invoices([]))
    assert r.select("begin_no", "end_no", "count").rows() == [("00001000", "00001499", 500)]


def test_fully_used_track_gives_no_row() -> None:
    alloc = allocations([{"begin": 0, "end": 49}])
    assert compute(alloc, invoices([{"number": n} for n in range(50)])).is_empty()


def test_adjacent_allocations_merge_unless_split() -> None:
    alloc = allocations([{"begin": 0, "end": 99}, {"begin": 100, "end": 199}])
    inv = invoices([{"number": n} for n in range(0, 80)])
    assert compute(alloc, inv).select("begin_no", "end_no").rows() == [("00000080", "00000199")]
    assert compute(alloc, inv, "allocation").select("begin_no", "end_no").rows() == [
        ("00000080", "00000099"), ("00000100", "00000199")]
    assert compute(alloc, inv, "booklet").select("begin_no", "end_no").rows() == [
        ("00000080", "00000099"), ("00000100", "00000149"), ("00000150", "00000199")]


def test_dates_far_from_the_period_do_not_use_numbers() -> None:
    alloc = allocations([{"begin": 0, "end": 49}])
    inv = invoices([
        {"number": 0, "date": dt.date(2023, 12, 31)},  # adjacent period: used
        {"number": 1, "date": dt.date(2024, 3, 1)},  # adjacent period: used
        {"number": 2, "date": dt.date(2024, 5, 1)},  # two periods later: not this allocation
    ])
    assert compute(alloc, inv).select("begin_no", "end_no").rows() == [("00000002", "00000049")]


def test_another_bans_invoice_uses_the_number_for_everyone() -> None:
    # spec §3: "a number that any input shows used is never reported blank by any BAN"
    alloc = allocations([{"ban": "53567686", "begin": 0, "end": 49}])
    inv = invoices([{"ban": "04595257", "number": 0}])
    assert compute(alloc, inv).select("begin_no").rows() == [("00000001",)]


def test_misaligned_allocations_are_computed_exactly() -> None:
    alloc = allocations([{"begin": 10, "end": 30}, {"begin": 31, "end": 77}])
    inv = invoices([{"number": 31}])
    assert compute(alloc, inv).select("begin_no", "end_no").rows() == [
        ("00000010", "00000030"), ("00000032", "00000077")]


def test_unknown_split_is_refused() -> None:
    with pytest.raises(ValueError, match="split must be one of none, allocation, booklet, not 'track'"):
        parse_split("track")


@pytest.mark.parametrize("text", ["none", "allocation", "booklet"])
def test_each_split_is_read(text: str) -> None:
    assert parse_split(text) == text


# --- properties against a set-based model -------------------------------------------------

TRACKS = ("AB", "CD")


@st.composite
def periods(draw: st.DrawFn) -> tuple[list[dict], list[dict]]:
    """A few non-overlapping allocations per track in a small number space, and usage."""
    allocs: list[dict] = []
    for track in TRACKS:
        edges = sorted(draw(st.sets(st.integers(0, 400), min_size=0, max_size=8)))
        # pair up consecutive edges into disjoint ranges, sometimes booklet-aligned
        for b, e in zip(edges[::2], edges[1::2], strict=False):
            if draw(st.booleans()):
                b, e = b // 50 * 50, e // 50 * 50 + 49
            if allocs and allocs[-1]["track"] == track and b <= allocs[-1]["end"]:
                continue
            allocs.append({"track": track, "begin": b, "end": e,
                           "invoice_type": draw(st.sampled_from(["07", "08"]))
                           if not any(a["track"] == track for a in allocs) else
                           next(a["invoice_type"] for a in allocs if a["track"] == track)})
    used = draw(st.lists(st.tuples(st.sampled_from(TRACKS), st.integers(0, 460),
                                   st.sampled_from(["issued", "cancelled", "voided"])),
                         max_size=120))
    inv = [{"track": t, "number": n, "status": s} for t, n, s in used]
    return allocs, inv


def _ab(*ranges: tuple[int, int]) -> list[dict]:
    return [{"track": "AB", "begin": b, "end": e, "invoice_type": "07"} for b, e in ranges]


def _used(*numbers: int, status: str = "issued") -> list[dict]:
    return [{"track": "AB", "number": n, "status": status} for n in numbers]


ACROSS_A_BOOKLET_EDGE = _used(*range(0, 49), *range(51, 100))  # only …49 and …50 blank


@settings(max_examples=150, deadline=None)
@given(periods(), st.sampled_from(["none", "allocation", "booklet"]))
# The edges, on every run: adjacent allocations (merged, or cut by the split), a one-number gap
# between two allocations (never blank, even where an invoice uses it), a one-number allocation,
# a run across a booklet edge, the last and first numbers of booklets used.
@example((_ab((0, 49), (50, 99)), []), "none")
@example((_ab((0, 49), (50, 99)), []), "allocation")
@example((_ab((0, 49), (51, 99)), []), "none")
@example((_ab((0, 49), (51, 99)), _used(50)), "none")
@example((_ab((7, 7)), []), "booklet")
@example((_ab((0, 99)), ACROSS_A_BOOKLET_EDGE), "none")
@example((_ab((0, 99)), ACROSS_A_BOOKLET_EDGE), "booklet")
@example((_ab((0, 99)), _used(49, 50, status="voided") + _used(99, status="cancelled")), "none")
def test_blank_matches_set_model(case: tuple[list[dict], list[dict]], split: str) -> None:
    allocs, inv = case
    result = compute(allocations(allocs), invoices(inv), split)
    for track in TRACKS:
        allocated = {n for a in allocs if a["track"] == track
                     for n in range(a["begin"], a["end"] + 1)}
        used = {i["number"] for i in inv if i["track"] == track}
        rows = result.filter(pl.col("track") == track)
        blank = numbers_of(rows)
        # blank ∪ used = allocated, disjoint, no number twice
        assert len(blank) == len(set(blank))
        assert set(blank) == allocated - used
        assert set(blank).isdisjoint(used)
        # runs are inside allocations, maximal (unless cut where the split says) and sorted
        spans = [(int(b), int(e)) for b, e in rows.select("begin_no", "end_no").iter_rows()]
        assert spans == sorted(spans)
        for (_, e1), (b2, _) in itertools.pairwise(spans):
            if split == "none":
                assert b2 > e1 + 1, "adjacent blank runs must be merged"
            elif split == "booklet" and b2 == e1 + 1:
                assert b2 % 50 == 0 or any(a["begin"] == b2 for a in allocs
                                           if a["track"] == track)
            elif split == "allocation" and b2 == e1 + 1:
                assert any(a["begin"] == b2 for a in allocs if a["track"] == track)
        assert all(r["count"] == int(r["end_no"]) - int(r["begin_no"]) + 1
                   for r in rows.iter_rows(named=True))


@settings(max_examples=40, deadline=None)
@given(periods())
def test_output_is_deterministic_under_input_order(case: tuple[list[dict], list[dict]]) -> None:
    allocs, inv = case
    first = compute(allocations(allocs), invoices(inv))
    second = compute(allocations(list(reversed(allocs))), invoices(list(reversed(inv))))
    assert first.write_csv() == second.write_csv()


_PIECE = st.tuples(st.integers(0, 3), st.integers(0, 120), st.integers(0, 9))


@settings(max_examples=200, deadline=None)
@given(st.lists(_PIECE, max_size=60))
@example([])
@example([(0, 5, 0), (0, 6, 0), (1, 7, 0)])  # touching pieces of two groups stay apart
@example([(2, 0, 50), (2, 10, 0), (2, 52, 3)])  # a piece inside another; a gap of one number
def test_merge_runs_is_the_maximal_runs_of_each_groups_numbers(
        pieces: list[tuple[int, int, int]]) -> None:
    from blanktrack.blanks import merge_runs

    frame = pl.DataFrame([(g, b, b + n) for g, b, n in pieces], orient="row",
                         schema={"group": pl.UInt32, "begin": pl.Int64, "end": pl.Int64})
    numbers: dict[int, set[int]] = {}
    for g, b, n in pieces:
        numbers.setdefault(g, set()).update(range(b, b + n + 1))
    expected = []
    for g in sorted(numbers):
        ordered = sorted(numbers[g])
        for _, run in itertools.groupby(enumerate(ordered), key=lambda kv: kv[1] - kv[0]):
            run_numbers = [n for _, n in run]
            expected.append((g, run_numbers[0], run_numbers[-1]))
    got = merge_runs(frame)
    assert got.rows() == expected
    assert got.schema == pl.Schema({"group": pl.UInt32, "begin": pl.Int64, "end": pl.Int64})


def test_mask_between_sets_exactly_the_bits_lo_to_hi() -> None:
    from blanktrack.booklets import mask_between

    pairs = [(lo, hi) for lo in range(50) for hi in range(lo, 50)]
    frame = pl.DataFrame(pairs, schema={"lo": pl.Int64, "hi": pl.Int64}, orient="row")
    got = frame.select(mask=mask_between(pl.col("lo"), pl.col("hi")))
    assert got.schema == pl.Schema({"mask": pl.UInt64})
    assert got["mask"].to_list() == [sum(1 << k for k in range(lo, hi + 1)) for lo, hi in pairs]
