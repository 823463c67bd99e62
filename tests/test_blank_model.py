"""The blank rule against a model made of plain sets (spec §3), with far dates and overlaps.

The model, line by line from §3, for one track of period P:
- a number is used when any invoice (any seller) dated in P or an adjacent period has it;
- a number two distinct allocations claim is withheld from every file;
- BAN b reports blank: the numbers of b's allocations, minus the used ones, minus the withheld;
- every invoice dated more than one period from P whose number lies in an allocation of its
  seller is one `dated-far-from-period` error; one dated in an adjacent period is one
  `dated-outside-period` warning (and its number is used).
Checked on every reading path reconcile may take (dense scan, one-pass polars,
validate-then-aggregate), for every BAN and with --ban.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections import Counter
from pathlib import Path

import polars as pl
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import blanktrack.reconcile as rec
from blanktrack.usage import engine

BANS = ("53567686", "04595257", "22099131")  # the third holds no allocation
PATHS = ("dense", "one-pass", "validate-then-aggregate")


def day(offset: int) -> str:
    """A day in the period `offset` periods from 11302 (2024-01/02)."""
    month = 1 + 2 * offset  # January 2024 + 2 * offset months
    year, month = 2024 + (month - 1) // 12, (month - 1) % 12 + 1
    return f"{year:04d}-{month:02d}-15"


allocation = st.tuples(st.sampled_from(BANS[:2] + BANS[:1]), st.integers(0, 180),
                       st.integers(0, 70)).map(lambda a: (a[0], a[1], a[1] + a[2]))
invoice = st.tuples(st.sampled_from(BANS), st.integers(0, 260), st.integers(-3, 3))


def model(allocations: list[tuple[str, int, int]], invoices: list[tuple[str, int, int]],
          ban: str | None = None) -> tuple[dict[str, set[int]], Counter, Counter]:
    """Blank numbers per BAN, far and adjacent findings per (BAN, number); with `ban` (--ban),
    of that BAN only, but every seller's use and every allocation's claim still count."""
    claims = sorted(set(allocations))  # the same allocation twice is one allocation
    held: dict[str, set[int]] = {}
    count: Counter[int] = Counter()
    for owner, lo, hi in claims:
        held.setdefault(owner, set()).update(range(lo, hi + 1))
        count.update(range(lo, hi + 1))
    withheld = {n for n, c in count.items() if c >= 2}
    used = {n for _, n, offset in invoices if abs(offset) <= 1}
    blank = {ban: numbers - used - withheld for ban, numbers in held.items()}
    far = Counter((ban, n) for ban, n, offset in invoices
                  if abs(offset) > 1 and n in held.get(ban, set()))
    adjacent = Counter((ban, n) for ban, n, offset in invoices
                       if abs(offset) == 1 and n in held.get(ban, set()))
    if ban is not None:
        blank = {b: s for b, s in blank.items() if b == ban}
        far = Counter({k: v for k, v in far.items() if k[0] == ban})
        adjacent = Counter({k: v for k, v in adjacent.items() if k[0] == ban})
    return {b: s for b, s in blank.items() if s}, far, adjacent


def reconciled(folder: Path, allocations: list[tuple[str, int, int]],
               invoices: list[tuple[str, int, int]], path: str, ban: str | None = None
               ) -> tuple[dict[str, set[int]], Counter, Counter]:
    a, i = folder / "allocations.csv", folder / "invoices.csv"
    a.write_text("ban,invoice_type,period,track,begin_no,end_no\n" + "".join(
        f"{ban},07,11302,AB,{lo:08d},{hi:08d}\n" for ban, lo, hi in allocations), encoding="utf-8")
    i.write_text("invoice_number,invoice_date,seller_ban,status,machine\n" + "".join(
        f"AB{n:08d},{day(offset)},{ban},issued,POS-1\n" for ban, n, offset in invoices),
        encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        if path == "dense":
            mp.setattr(engine, "DENSE_MIN_ROWS", 0)
        else:
            mp.setattr(engine, "dense_scan", lambda *args, **kwargs: None)
        if path == "validate-then-aggregate":
            mp.setattr(engine, "fast_usage", lambda *args, **kwargs: None)
        result = rec.reconcile("11302", [a], [i], ban=ban, report_date=dt.date(2024, 3, 5))
    blank: dict[str, set[int]] = {}
    for ban, begin, end in result.exported_ranges.select("ban", "begin_no", "end_no").iter_rows():
        blank.setdefault(ban, set()).update(range(int(begin), int(end) + 1))

    def found(code: str) -> Counter:
        rows = result.findings.filter(pl.col("code") == code)
        return Counter((ban, int(n)) for ban, n in rows.select("ban", "begin_no").iter_rows())

    assert set(result.findings.filter(pl.col("code") == "dated-far-from-period")["severity"]
               ) <= {"error"}
    return blank, found("dated-far-from-period"), found("dated-outside-period")


@settings(max_examples=40, deadline=None)
@given(allocations=st.lists(allocation, min_size=1, max_size=4),
       invoices=st.lists(invoice, min_size=1, max_size=30), path=st.sampled_from(PATHS),
       ban=st.sampled_from([None, None, BANS[0], BANS[1]]))
# One period away is used (and a warning), two are far (an error, and the number stays blank).
@example(allocations=[(BANS[0], 0, 49)], invoices=[(BANS[0], 5, 1), (BANS[0], 6, -1),
                                                   (BANS[0], 7, 2), (BANS[0], 8, -2)],
         path="validate-then-aggregate", ban=None)
@example(allocations=[(BANS[0], 0, 49)], invoices=[(BANS[0], 5, 1), (BANS[0], 7, 2),
                                                   (BANS[0], 8, -3)], path="dense", ban=None)
@example(allocations=[(BANS[0], 0, 49)], invoices=[(BANS[0], 5, 1), (BANS[0], 7, 2)],
         path="one-pass", ban=None)
# An overlap of exactly one number, of two BANs and of one BAN.
@example(allocations=[(BANS[0], 0, 49), (BANS[1], 49, 99)], invoices=[(BANS[0], 0, 0)],
         path="one-pass", ban=None)
@example(allocations=[(BANS[0], 0, 49), (BANS[0], 49, 99)], invoices=[(BANS[0], 0, 0)],
         path="dense", ban=None)
# A used number inside the overlap, and one another seller used in a BAN's allocation.
@example(allocations=[(BANS[0], 0, 99), (BANS[1], 50, 149)],
         invoices=[(BANS[1], 60, 0), (BANS[0], 70, 0), (BANS[2], 10, 0), (BANS[0], 120, 0)],
         path="validate-then-aggregate", ban=None)
@example(allocations=[(BANS[0], 0, 99), (BANS[1], 50, 149)],
         invoices=[(BANS[1], 60, 0), (BANS[2], 10, 0), (BANS[0], 120, -1)], path="dense", ban=None)
# --ban: another BAN's claim still withholds, a left-out seller's use still counts.
@example(allocations=[(BANS[0], 0, 99), (BANS[1], 50, 149)],
         invoices=[(BANS[1], 60, 0), (BANS[1], 10, 0), (BANS[2], 20, 1), (BANS[0], 30, 2)],
         path="dense", ban=BANS[0])
@example(allocations=[(BANS[0], 0, 99), (BANS[1], 50, 149)],
         invoices=[(BANS[1], 10, 0), (BANS[2], 20, -1), (BANS[1], 30, 3)],
         path="one-pass", ban=BANS[0])
@example(allocations=[(BANS[0], 0, 99), (BANS[1], 50, 149)],
         invoices=[(BANS[1], 10, 0), (BANS[2], 20, -1)],
         path="validate-then-aggregate", ban=BANS[0])
# The same allocation twice: one allocation, nothing withheld.
@example(allocations=[(BANS[0], 0, 49), (BANS[0], 0, 49)], invoices=[(BANS[0], 3, 3)],
         path="one-pass", ban=None)
def test_blanks_and_findings_follow_the_set_model(allocations: list[tuple[str, int, int]],
                                                  invoices: list[tuple[str, int, int]],
                                                  path: str, ban: str | None) -> None:
    if ban is not None and ban not in {b for b, _, _ in allocations}:
        ban = None  # --ban of a BAN without allocations is refused (no allocation of period)
    with tempfile.TemporaryDirectory() as tmp:
        got = reconciled(Path(tmp), allocations, invoices, path, ban)
    want = model(allocations, invoices, ban)
    assert got[0] == want[0], "blank numbers per BAN"
    assert got[1] == want[1], "dated-far-from-period per (BAN, number)"
    assert got[2] == want[2], "dated-outside-period per (BAN, number)"
