"""Every reading path held directly to the plain model of spec §3 (tests/reference.py).

Each example is one small period, written in one shape (canonical CSV or Parquet with text,
Date or Datetime dates, plain or categorical text; rows in till order, date order or no order;
one file or several; with or without machine/upload_status; or a source reader's input: MIG XML
bare and in envelopes, a Turnkey folder, the platform download, an ERP CSV), reconciled by one
forced engine (dense scan, also in tiny batches; one-pass polars; validate-then-aggregate), with
or without --split and --ban, and compared with the model: the upload rows and the invoice
findings per number.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from reference import Allocation, Invoice, findings, scope, upload_rows
from reference_period import (
    BRANCH,
    ENGINES,
    FAR,
    HEAD,
    OTHER,
    PERIOD,
    STRANGER,
    as_read,
    chunks,
    invoice_findings,
    ordered,
    periods,
    reconciled,
    write_allocations,
    write_bare,
    write_canonical,
    write_envelopes,
    write_erp,
    write_platform,
    write_turnkey,
)
from reference_period import upload_rows as exported

from blanktrack import usage
from blanktrack.usage import dense

D = dt.date
WHOLE = Allocation(HEAD, "07", PERIOD, "AB", 0, 49)


# The function of usage.engine that reduces the invoices on each forced engine.
REDUCED_BY = {"dense": "dense_scan", "dense-in-small-batches": "dense_scan",
              "dense-read-ahead": "dense_scan", "one-pass": "fast_usage",
              "validate-then-aggregate": "validated_usage"}


def paths_taken() -> tuple[pytest.MonkeyPatch, list[str]]:
    """Spies on the engine's paths: each that gave a result is named in the list, in order
    (the forced engine's own patches, set later, replace the spies of the paths it shuts)."""
    taken: list[str] = []
    mp = pytest.MonkeyPatch()
    for name in set(REDUCED_BY.values()):
        real = getattr(usage.engine, name)

        def spy(*args, _real=real, _name=name, **kwargs):  # type: ignore[no-untyped-def]
            result = _real(*args, **kwargs)
            if result is not None:
                taken.append(_name)
            return result

        mp.setattr(usage.engine, name, spy)
    return mp, taken


def check(allocs: list[Allocation], rows: list[Invoice], paths_of, engine: str,
          split: str = "none", ban: str | None = None, *, text: bool = True) -> None:
    """Reconcile what `paths_of(folder)` writes and compare with the model of `rows` (with
    `ban`, of the BANs that BAN reports on); the forced engine must be the path that ran (the
    one-pass path reads text columns only: for typed ones, not `text`, the validating path)."""
    mp, taken = paths_taken()
    with tempfile.TemporaryDirectory() as tmp, mp.context():
        folder = Path(tmp)
        paths = paths_of(folder)
        result = reconciled(write_allocations(folder, allocs), paths, engine, split, ban)
        got_rows, got_findings = exported(result), invoice_findings(result)
    mp.undo()
    want = "validated_usage" if engine == "one-pass" and not text else REDUCED_BY[engine]
    assert taken == [want], f"{engine} forced, {taken} ran"
    want_rows = upload_rows(allocs, rows, PERIOD, split)
    want_findings = findings(allocs, rows, PERIOD)
    if ban is not None:
        bans = scope(allocs, PERIOD, ban)
        want_rows = [r for r in want_rows if r[1] in bans]
        want_findings = Counter({f: n for f, n in want_findings.items() if f[1] in bans})
    assert got_rows == sorted(want_rows), "upload rows"
    assert got_findings == want_findings, "invoice findings per number"


# One period away is used (and a warning); two are far (an error, and the number stays blank).
ONE_VS_TWO = ([WHOLE], [Invoice("AB00000005", D(2024, 3, 1), HEAD, "issued"),
                        Invoice("AB00000006", D(2023, 12, 31), HEAD, "cancelled"),
                        Invoice("AB00000007", D(2024, 5, 1), HEAD, "issued"),
                        Invoice("AB00000008", D(2023, 10, 31), HEAD, "issued", "failed"),
                        Invoice("AB00000009", FAR[0], HEAD, "issued")])
# Allocations of two BANs sharing exactly one number (49).
ONE_NUMBER_OVERLAP = ([WHOLE, Allocation(OTHER, "07", PERIOD, "AB", 49, 99)],
                      [Invoice("AB00000000", D(2024, 1, 1), HEAD, "issued")])
# A number used inside an overlap, and one a seller without allocations used.
USED_IN_OVERLAP = ([Allocation(HEAD, "07", PERIOD, "AB", 0, 99),
                    Allocation(BRANCH, "07", PERIOD, "AB", 50, 149, HEAD)],
                   [Invoice("AB00000060", D(2024, 2, 29), BRANCH, "issued"),
                    Invoice("AB00000070", D(2024, 1, 1), HEAD, "issued"),
                    Invoice("AB00000010", D(2024, 1, 15), STRANGER, "issued"),
                    Invoice("AB00000120", D(2023, 12, 1), HEAD, "voided")])
# The booklet edge …49/…50: the blank run 49..50 crosses it (split by booklet: two rows).
BOOKLET_EDGE = ([Allocation(HEAD, "07", PERIOD, "AB", 0, 99)],
                [Invoice("AB00000048", D(2024, 1, 2), HEAD, "issued"),
                 Invoice("AB00000051", D(2024, 1, 3), HEAD, "issued")])
# A void then its re-issue (no finding), a void alone, a number issued twice.
VOID_THEN_REISSUE = ([WHOLE], [Invoice("AB00000003", D(2024, 1, 10), HEAD, "voided"),
                               Invoice("AB00000003", D(2024, 1, 12), HEAD, "issued"),
                               Invoice("AB00000004", D(2024, 1, 10), HEAD, "voided"),
                               Invoice("AB00000005", D(2024, 1, 10), HEAD, "issued"),
                               Invoice("AB00000005", D(2024, 2, 10), HEAD, "cancelled")])
# Adjacent allocations of one key merge; one reported by another system is left out.
ADJACENT = ([WHOLE, Allocation(HEAD, "07", PERIOD, "AB", 50, 99),
             Allocation(HEAD, "07", PERIOD, "AB", 100, 149, None, "VAC-2")],
            [Invoice("AB00000120", D(2024, 1, 5), HEAD, "issued")])
# Two allocations that share a booklet (not whole booklets: a warning, still reported): with
# --split booklet their blank numbers 250–253 are one row, cut at booklet edges only.
SHARED_BOOKLET = ([Allocation(HEAD, "07", PERIOD, "AB", 182, 252),
                   Allocation(HEAD, "07", PERIOD, "AB", 253, 253)],
                  [Invoice("AB00000000", D(2024, 1, 1), HEAD, "issued")])


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(period=periods(), fmt=st.sampled_from(("csv", "parquet")),
       dates=st.sampled_from(("iso", "compact", "date", "datetime", "iso-categorical",
                              "date-categorical")),
       order=st.sampled_from(("till", "date", "random")), seed=st.integers(0, 2**16),
       parts=st.integers(1, 3), optional=st.booleans(), chinese=st.booleans(),
       engine=st.sampled_from(ENGINES), split=st.sampled_from(("none", "none", "allocation",
                                                               "booklet")),
       ban=st.sampled_from((None, None, None, HEAD, BRANCH, OTHER)))
@example(period=ONE_VS_TWO, fmt="csv", dates="iso", order="till", seed=0, parts=1,
         optional=True, chinese=False, engine="dense", split="none", ban=None)
@example(period=ONE_VS_TWO, fmt="parquet", dates="date", order="random", seed=1, parts=2,
         optional=True, chinese=False, engine="one-pass", split="none", ban=None)
@example(period=ONE_VS_TWO, fmt="parquet", dates="datetime", order="date", seed=0, parts=1,
         optional=True, chinese=True, engine="validate-then-aggregate", split="none", ban=None)
@example(period=ONE_NUMBER_OVERLAP, fmt="parquet", dates="iso", order="till", seed=0, parts=1,
         optional=False, chinese=False, engine="dense", split="none", ban=None)
@example(period=ONE_NUMBER_OVERLAP, fmt="csv", dates="compact", order="date", seed=0, parts=1,
         optional=True, chinese=False, engine="validate-then-aggregate", split="allocation", ban=None)
@example(period=USED_IN_OVERLAP, fmt="csv", dates="iso", order="random", seed=3, parts=3,
         optional=True, chinese=False, engine="dense-in-small-batches", split="none",
         ban=None)
@example(period=USED_IN_OVERLAP, fmt="parquet", dates="date", order="till", seed=0, parts=2,
         optional=True, chinese=False, engine="one-pass", split="booklet", ban=None)
@example(period=BOOKLET_EDGE, fmt="parquet", dates="iso", order="till", seed=0, parts=1,
         optional=True, chinese=False, engine="dense", split="booklet", ban=None)
@example(period=BOOKLET_EDGE, fmt="csv", dates="iso", order="till", seed=0, parts=1,
         optional=True, chinese=False, engine="one-pass", split="none", ban=None)
@example(period=VOID_THEN_REISSUE, fmt="parquet", dates="iso", order="random", seed=5,
         parts=2, optional=True, chinese=True, engine="dense-in-small-batches", split="none",
         ban=None)
@example(period=VOID_THEN_REISSUE, fmt="parquet", dates="date", order="date", seed=0, parts=1,
         optional=False, chinese=False, engine="validate-then-aggregate", split="none", ban=None)
@example(period=ADJACENT, fmt="parquet", dates="iso-categorical", order="till", seed=0, parts=1,
         optional=True, chinese=False, engine="one-pass", split="none", ban=None)
@example(period=ADJACENT, fmt="csv", dates="iso", order="till", seed=0, parts=1,
         optional=True, chinese=False, engine="dense", split="allocation", ban=None)
@example(period=SHARED_BOOKLET, fmt="csv", dates="iso", order="till", seed=0, parts=1,
         optional=False, chinese=False, engine="dense", split="booklet", ban=None)
# --ban: another BAN's claim still withholds, another seller's use still counts.
@example(period=USED_IN_OVERLAP, fmt="csv", dates="iso", order="till", seed=0, parts=1,
         optional=True, chinese=False, engine="dense", split="none", ban=BRANCH)
@example(period=USED_IN_OVERLAP, fmt="parquet", dates="iso", order="date", seed=0, parts=2,
         optional=True, chinese=False, engine="one-pass", split="none", ban=HEAD)
def test_canonical_shapes_follow_the_model(period, fmt, dates, order, seed, parts, optional,
                                          chinese, engine, split, ban) -> None:
    allocs, rows = period
    if ban is not None and not scope(allocs, PERIOD, ban):
        ban = None  # --ban of a BAN without allocations of the period is refused
    dates, _, categorical = dates.partition("-")
    if fmt == "csv" and dates in ("date", "datetime"):
        dates = "iso"  # a CSV holds text
    rows = as_read(rows, "canonical", optional)
    check(allocs, rows, lambda folder: write_canonical(
        folder, chunks(ordered(rows, order, seed), parts), fmt, dates, optional, chinese,
        bool(categorical)), engine, split, ban, text=fmt == "csv" or dates in ("iso", "compact"))


SOURCES = ("bare", "envelope", "turnkey", "platform", "erp")


def _source_paths(source: str, rows: list[Invoice], order: str, seed: int, parts: int):
    rows = ordered(rows, order, seed)

    def write(folder: Path) -> list[Path]:
        if source == "bare":
            return write_bare(folder, rows)
        if source == "envelope":
            return write_envelopes(folder, chunks(rows, parts))
        if source == "turnkey":
            return write_turnkey(folder, rows)
        if source == "platform":  # no row left: no file (an empty download is no input)
            return write_platform(folder, rows) if rows else []
        return write_erp(folder, rows)

    return write


# A refused (ERR) issue and its refused cancel beside re-issues of the number in BAK: the cancel
# replaces the refused issue, its own class, not the earliest of all (one upload-failed).
REFUSED_CANCEL = ([WHOLE], [Invoice("AB00000000", D(2024, 1, 1), HEAD, "cancelled", "failed"),
                            *[Invoice("AB00000000", D(2024, 1, 1), HEAD, "issued")] * 3])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(period=periods(), source=st.sampled_from(SOURCES),
       order=st.sampled_from(("till", "date", "random")), seed=st.integers(0, 2**16),
       parts=st.integers(1, 3), engine=st.sampled_from(ENGINES))
@example(period=ONE_VS_TWO, source="turnkey", order="till", seed=0, parts=1, engine="dense")
@example(period=ONE_VS_TWO, source="erp", order="date", seed=0, parts=1, engine="one-pass")
@example(period=ONE_VS_TWO, source="platform", order="random", seed=2, parts=1,
         engine="validate-then-aggregate")
@example(period=USED_IN_OVERLAP, source="envelope", order="random", seed=4, parts=2,
         engine="dense")
@example(period=VOID_THEN_REISSUE, source="bare", order="random", seed=7, parts=1,
         engine="one-pass")
@example(period=VOID_THEN_REISSUE, source="turnkey", order="date", seed=0, parts=1,
         engine="validate-then-aggregate")
@example(period=VOID_THEN_REISSUE, source="envelope", order="till", seed=0, parts=3,
         engine="dense")
@example(period=BOOKLET_EDGE, source="erp", order="random", seed=9, parts=1, engine="dense")
@example(period=REFUSED_CANCEL, source="turnkey", order="till", seed=0, parts=1, engine="dense")
# A platform download of no invoice of the period is no file at all: nothing for an engine.
@example(period=([Allocation(HEAD, "07", PERIOD, "AB", 0, 0)], []), source="platform",
         order="till", seed=0, parts=1, engine="dense")
def test_source_readers_follow_the_model(period, source, order, seed, parts, engine) -> None:
    allocs, rows = period
    rows = as_read(rows, source)
    if source == "platform" and not rows:
        engine = "validate-then-aggregate"  # no file to scan (_source_paths): no engine forced
    check(allocs, rows, _source_paths(source, rows, order, seed, parts), engine)


@pytest.mark.parametrize("engine", ["dense", "dense-in-small-batches"])
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_the_forced_dense_scan_reads_text_shapes(fmt: str, engine: str, tmp_path: Path) -> None:
    """The "dense" engine above is the dense scan itself, not the polars path it falls back to
    when it declines the input: it takes canonical text of both formats."""
    allocs, rows = VOID_THEN_REISSUE
    taken: list[bool] = []
    scan = dense.scan

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        result = scan(*args, **kwargs)
        taken.append(result is not None)
        return result

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(dense, "scan", spy)
        reconciled(write_allocations(tmp_path, allocs),
                   write_canonical(tmp_path, [rows], fmt, "iso", True, False), engine)
    assert taken == [True]
