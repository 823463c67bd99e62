"""A plain model of spec §3 (and the §4 findings that follow from it), in sets of numbers.

Nothing here is fast or clever: each function is a few lines to check against the spec, line by
line. The tests hold every reading path of blanktrack to it (tests/test_reference*.py).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

BOOKLET = 50  # §2: a booklet is 50 numbers from a multiple of 50
LIVE = ("issued", "cancelled")  # §2: a cancelled number stays used; a void awaits its re-issue


@dataclass(frozen=True)
class Allocation:
    ban: str
    invoice_type: str  # "07" / "08"
    period: str  # YYYMM, even month
    track: str
    begin: int
    end: int
    head_ban: str | None = None  # None: the BAN reports for itself
    reported_by: str | None = None  # None: this report; else another system's (§5.1)


@dataclass(frozen=True)
class Invoice:
    number: str  # 10 characters: track + 8 digits
    date: dt.date
    seller_ban: str
    status: str  # issued / cancelled / voided
    upload_status: str | None = None  # accepted / failed / None (unknown)
    machine: str | None = None


def period_index(day: dt.date) -> int:
    """Two-month periods counted from year 0; adjacent periods differ by 1."""
    return (day.year * 12 + day.month - 1) // 2


def offset(invoice: Invoice, period: str) -> int:
    """How many periods the invoice's date lies from `period` (0: in it)."""
    year, end_month = int(period[:3]) + 1911, int(period[3:])
    return period_index(invoice.date) - period_index(dt.date(year, end_month, 1))


def numbers(a: Allocation) -> set[tuple[str, int]]:
    return {(a.track, n) for n in range(a.begin, a.end + 1)}


def of_period(allocations: list[Allocation], period: str) -> list[Allocation]:
    """The period's allocations; the same allocation listed twice is one allocation."""
    return sorted({a for a in allocations if a.period == period}, key=repr)


def used(invoices: list[Invoice], period: str) -> set[tuple[str, int]]:
    """§3: numbers an invoice dated in P or P±1 uses, whatever its status. Not only the seller's
    own: a number any input shows used is never reported blank, by any BAN."""
    return {(i.number[:2], int(i.number[2:])) for i in invoices if abs(offset(i, period)) <= 1}


def withheld(allocations: list[Allocation], period: str) -> set[tuple[str, int]]:
    """§3: numbers two allocations of P claim (allocation-overlap) go to no upload file."""
    claims = Counter(x for a in of_period(allocations, period) for x in numbers(a))
    return {x for x, count in claims.items() if count >= 2}


def blank(allocations: list[Allocation], invoices: list[Invoice], period: str
          ) -> dict[Allocation, set[int]]:
    """Blank numbers of each allocation of P: allocated − used − withheld."""
    taken = used(invoices, period) | withheld(allocations, period)
    return {a: {n for t, n in numbers(a) - taken} for a in of_period(allocations, period)}


def runs(values: set[int], edge: int | None = None) -> list[tuple[int, int]]:
    """Maximal runs of consecutive numbers; with `edge`, also cut before every multiple of it."""
    out: list[tuple[int, int]] = []
    for n in sorted(values):
        if out and out[-1][1] == n - 1 and (edge is None or n % edge != 0):
            out[-1] = (out[-1][0], n)
        else:
            out.append((n, n))
    return out


Row = tuple[str, str, str, str, int, int]  # reporting BAN, BAN, type, track, begin, end


def upload_rows(allocations: list[Allocation], invoices: list[Invoice], period: str,
                split: str = "none") -> list[Row]:
    """§3/§5.3: the upload rows, sorted: maximal runs per (BAN, type, track), merged across
    adjacent allocations (`split`: cut at allocation or booklet edges); numbers another system
    reports (reported_by) are left out."""
    per_key: dict[tuple[str, str, str, str], set[int]] = {}
    rows: list[Row] = []
    for a, free in blank(allocations, invoices, period).items():
        if a.reported_by is not None:
            continue
        key = (a.head_ban or a.ban, a.ban, a.invoice_type, a.track)
        if split == "allocation":
            rows += [(*key, lo, hi) for lo, hi in runs(free)]
        else:
            per_key.setdefault(key, set()).update(free)
    edge = BOOKLET if split == "booklet" else None
    rows += [(*key, lo, hi) for key, free in per_key.items() for lo, hi in runs(free, edge)]
    return sorted(rows, key=lambda r: (r[1], r[2], r[3], r[4]))


Finding = tuple[str, str, str]  # code, BAN, invoice number


def findings(allocations: list[Allocation], invoices: list[Invoice], period: str
             ) -> Counter[Finding]:
    """§4, the findings about single invoices, each counted per invoice row (per number for
    duplicate-number and void-not-reissued). `ban` is the seller's."""
    own: dict[str, set[tuple[str, int]]] = {}
    for a in of_period(allocations, period):
        own.setdefault(a.ban, set()).update(numbers(a))
    found: Counter[Finding] = Counter()
    live: Counter[tuple[str, str]] = Counter()
    voided: Counter[tuple[str, str]] = Counter()
    for i in invoices:
        o = offset(i, period)
        mine = (i.number[:2], int(i.number[2:])) in own.get(i.seller_ban, set())
        key = (i.seller_ban, i.number)
        if abs(o) > 1:
            if mine:  # not used; a person must look
                found["dated-far-from-period", *key] += 1
            continue
        if o == 0 and not mine:
            found["outside-allocation", *key] += 1
        if o != 0 and mine:
            found["dated-outside-period", *key] += 1
        if i.upload_status == "failed" and (mine or o == 0):
            found["upload-failed", *key] += 1
        if mine:
            live[key] += i.status in LIVE
            voided[key] += i.status == "voided"
    for key in live:
        if live[key] >= 2:  # a void followed by a re-issue is one live issue
            found["duplicate-number", *key] += 1
        if voided[key] and not live[key]:
            found["void-not-reissued", *key] += 1
    return found


def scope(allocations: list[Allocation], period: str, ban: str) -> set[str]:
    """--ban: the BANs reported on — `ban` and the branches it reports for. Every seller's use and
    every allocation's claim still count; only the rows and findings of other BANs are left out."""
    return {a.ban for a in of_period(allocations, period) if ban in (a.ban, a.head_ban)}
