"""The door (usage.of_period): every path ends in the same BookletUsage, and that result holds
what spec §3 says the invoices used."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import polars as pl
import pytest
from factories import allocations as allocation_frame
from hypothesis import example, given, settings
from hypothesis import strategies as st

from blanktrack import usage
from blanktrack.booklets import prepare_allocations
from blanktrack.errors import InputError
from blanktrack.period import Period
from blanktrack.usage import BookletUsage, engine
from blanktrack.usage.named_invoices import wanted_numbers

P = Period.parse("11302")
BAN_A, BAN_B = "53567686", "04595257"
ENGINES = ("dense", "one-pass", "validated")
HEADER = "invoice_number,invoice_date,seller_ban,status,machine,upload_status"
# BAN_A holds AB00000000–AB00000099 and CD00000100–CD00000149; BAN_B holds AB00000200–AB00000249.
ALLOCATIONS = [
    {"ban": BAN_A, "track": "AB", "begin": 0, "end": 99},
    {"ban": BAN_A, "track": "CD", "begin": 100, "end": 149},
    {"ban": BAN_B, "track": "AB", "begin": 200, "end": 249},
]


def of_period(files: list[Path], bans: list[str] | None, path: str,
              monkeypatch: pytest.MonkeyPatch) -> tuple[BookletUsage, list[str]]:
    """usage.of_period with one path forced; also which builder made the result."""
    built: list[str] = []
    real_joined, real_by_position = BookletUsage.joined, BookletUsage.by_position

    def joined(*args: object, **kwargs: object) -> BookletUsage:
        built.append("joined")
        return real_joined(*args, **kwargs)  # type: ignore[arg-type]

    def by_position(*args: object, **kwargs: object) -> BookletUsage:
        built.append("by_position")
        return real_by_position(*args, **kwargs)  # type: ignore[arg-type]

    with monkeypatch.context() as mp:
        mp.setattr(BookletUsage, "joined", joined)
        mp.setattr(BookletUsage, "by_position", by_position)
        if path == "dense":
            mp.setattr(engine, "DENSE_MIN_ROWS", 0)
        else:
            mp.setattr(engine, "dense_scan", lambda *a, **k: pytest.fail("the dense scan ran"))
        if path == "validated":
            mp.setattr(engine, "fast_usage", lambda *a, **k: None)
        # as reconcile scopes them: only the allocations of the BANs reported
        prepared = prepare_allocations(allocation_frame(
            [a for a in ALLOCATIONS if bans is None or a["ban"] in bans]))
        chosen = pl.Series(bans, dtype=pl.String) if bans is not None else None
        return usage.of_period(files, P, prepared, chosen), built


def write(folder: Path, lines: list[str]) -> list[Path]:
    path = folder / "invoices.csv"
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    return [path]


def rows(frame: pl.DataFrame | pl.LazyFrame, *columns: str) -> set[tuple]:
    frame = frame.lazy().collect() if isinstance(frame, pl.LazyFrame) else frame
    return set(frame.select(columns).rows())


def ordered(frame: pl.DataFrame | pl.LazyFrame, *columns: str) -> list[tuple]:
    """All rows, duplicates kept, in one order."""
    frame = frame.lazy().collect() if isinstance(frame, pl.LazyFrame) else frame
    return sorted(frame.select(columns).rows(), key=repr)


# ---------------------------------------------------------------------------------------------
# What the result holds, as literals from spec §3.


@pytest.mark.parametrize("path", ENGINES)
def test_the_booklet_usage_of_a_small_period(path: str, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    files = write(tmp_path, [
        f"AB00000000,2024-01-05,{BAN_A},issued,T1,",
        f"AB00000002,2024-01-06,{BAN_A},cancelled,T1,",  # cancelled (作廢): used
        f"AB00000060,2024-02-01,{BAN_A},issued,T2,",
        f"AB00000201,2024-02-01,{BAN_A},issued,T1,",  # BAN_B's number used by BAN_A
        f"CD00000149,2024-05-01,{BAN_A},issued,,",  # dated two periods on: not a use
    ])
    got, built = of_period(files, None, path, monkeypatch)
    assert built == ["joined"]  # a row outside its seller's allocations: no slot for it
    # booklet b of a track holds numbers 50b … 50b + 49; a set bit k is number 50b + k used
    assert rows(got.booklets, "ban", "track", "booklet", "used_mask") == {
        (BAN_A, "AB", 0, 0b101), (BAN_A, "AB", 1, 1 << 10), (BAN_A, "CD", 2, 0),
        (BAN_B, "AB", 4, 0)}
    assert rows(got.used_elsewhere, "track", "booklet", "mask") == {("AB", 4, 1 << 1)}
    assert rows(got.stretches, "alloc_id", "machine", "lo", "hi") == {
        (0, "T1", 0, 2), (0, "T2", 60, 60)}
    assert rows(got.rows_by_file, "rows") == {(5,)}
    assert got.issuing["invoices"].sum() == 4  # the far-dated one is not issued in P
    # chosen for findings: the number outside BAN_A's allocations, the far-dated one
    assert rows(wanted_numbers(got), "seller_ban", "track", "number") == {
        (BAN_A, "AB", 201), (BAN_A, "CD", 149)}


@pytest.mark.parametrize("path", ENGINES)
def test_every_row_in_its_own_booklet_is_read_by_position_on_the_dense_path(
        path: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = write(tmp_path, [
        f"AB00000000,2024-01-05,{BAN_A},issued,T1,",
        f"AB00000001,2024-01-05,{BAN_A},voided,T1,",  # voided, never re-issued
        f"AB00000200,2024-02-01,{BAN_B},issued,T9,failed",
    ])
    got, built = of_period(files, None, path, monkeypatch)
    assert built == (["by_position"] if path == "dense" else ["joined"])
    assert rows(got.booklets.filter(pl.col("used_mask") != 0), "ban", "track", "booklet",
                "used_mask") == {(BAN_A, "AB", 0, 0b11), (BAN_B, "AB", 4, 1)}
    assert got.used_elsewhere.is_empty()
    assert rows(got.stretches, "alloc_id", "machine", "lo", "hi") == {
        (0, "T1", 0, 1), (2, "T9", 200, 200)}
    assert rows(wanted_numbers(got), "seller_ban", "track", "number") == {
        (BAN_A, "AB", 1), (BAN_B, "AB", 200)}


@pytest.mark.parametrize("path", ENGINES)
def test_a_seller_left_out_still_uses_its_numbers(path: str, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """--ban: BAN_B's rows are not counted, but a number it used is used for everyone."""
    files = write(tmp_path, [
        f"AB00000003,2024-01-05,{BAN_A},issued,T1,",
        f"AB00000007,2024-01-05,{BAN_B},issued,T1,",
    ])
    got, _ = of_period(files, [BAN_A], path, monkeypatch)
    assert rows(got.used_elsewhere, "track", "booklet", "mask") == {("AB", 0, 1 << 7)}
    assert rows(got.rows_by_file, "rows") == {(1,)}


def test_a_bad_value_is_named_by_the_door(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                          ) -> None:
    files = write(tmp_path, [f"AB00000003,2024-02-30,{BAN_A},issued,T1,"])
    with pytest.raises(InputError, match=r"invoices\.csv:2: field 'invoice_date'"):
        of_period(files, None, "one-pass", monkeypatch)


# ---------------------------------------------------------------------------------------------
# Every path, the same result.

row = st.tuples(
    st.sampled_from(["AB", "CD"]), st.integers(0, 260),
    st.sampled_from([dt.date(2023, 12, 31), dt.date(2024, 1, 1), dt.date(2024, 2, 29),
                     dt.date(2024, 5, 2)]),
    st.sampled_from([BAN_A, BAN_B]),
    st.sampled_from(["issued", "cancelled", "voided"]),
    st.sampled_from(["T1", "T2", ""]),
    st.sampled_from(["accepted", "failed", ""]),
)


def _same(a: BookletUsage, b: BookletUsage) -> None:
    assert ordered(a.booklets, "alloc_id", "booklet", "used_mask") == ordered(
        b.booklets, "alloc_id", "booklet", "used_mask")
    # only where it meets an allocation booklet does it matter (the dense scan drops a left-out
    # seller's row that falls in no slot)
    def elsewhere(u: BookletUsage) -> list[tuple]:
        return ordered(u.used_elsewhere.join(u.booklets.select("track", "booklet").unique(),
                                             on=["track", "booklet"], how="semi"),
                       "track", "booklet", "mask")

    assert elsewhere(a) == elsewhere(b)
    assert ordered(a.stretches, "alloc_id", "machine", "lo", "hi") == ordered(
        b.stretches, "alloc_id", "machine", "lo", "hi")
    assert ordered(wanted_numbers(a), "seller_ban", "track", "number") == ordered(
        wanted_numbers(b), "seller_ban", "track", "number")
    issuing = ("seller_ban", "machine", "track", "invoice_date", "invoices")
    assert ordered(a.issuing.cast({"invoices": pl.Int64}), *issuing) == ordered(
        b.issuing.cast({"invoices": pl.Int64}), *issuing)
    assert ordered(a.rows_by_file.cast({"rows": pl.Int64}), "source", "rows") == ordered(
        b.rows_by_file.cast({"rows": pl.Int64}), "source", "rows")


@settings(max_examples=40, deadline=None)
@given(st.lists(row, min_size=1, max_size=40), st.sampled_from([None, [BAN_A]]))
@example([("AB", 0, dt.date(2024, 1, 1), BAN_A, "issued", "T1", "")], None)  # by position
@example([("AB", 249, dt.date(2024, 2, 29), BAN_A, "voided", "", "failed")], [BAN_A])
def test_every_path_gives_the_same_booklet_usage(data: list[tuple], bans: list[str] | None
                                                 ) -> None:
    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as mp:
        files = write(Path(tmp), [f"{t}{n:08d},{d.isoformat()},{b},{s},{m},{u}"
                                  for t, n, d, b, s, m, u in data])
        results = [of_period(files, bans, path, mp)[0] for path in ENGINES]
    for other in results[1:]:
        _same(results[0], other)
