"""The one reduction (usage.reduction) held to spec §3's rules written out plainly per row, through
both fronts that feed it: the one-pass path over clean raw text and the validating path over any
spelling (spaces, case, Chinese statuses, compact dates), with and without --ban."""

from __future__ import annotations

import datetime as dt
import tempfile
from collections import defaultdict
from pathlib import Path

import polars as pl
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from blanktrack.errors import InputError
from blanktrack.invoices import scan_raw_invoices
from blanktrack.period import Period
from blanktrack.usage.one_pass import fast_usage
from blanktrack.usage.validated import validated_usage

P = Period.parse("11302")  # January-February 2024
BAN_A, BAN_B = "53567686", "04595257"
# Each day with its distance in periods from P (literal: 11212 is Nov-Dec 2023, 11304 Mar-Apr).
DAYS = {dt.date(2023, 10, 31): -2, dt.date(2023, 11, 1): -1, dt.date(2023, 12, 31): -1,
        dt.date(2024, 1, 1): 0, dt.date(2024, 2, 29): 0, dt.date(2024, 3, 1): 1,
        dt.date(2024, 4, 30): 1, dt.date(2024, 5, 1): 2}
# Spellings of a status (spec §3: cancelled is a used number; voided awaits its re-issue).
STATUS = {"issued": "issued", "ISSUED": "issued", "開立": "issued", "cancelled": "cancelled",
          "作廢": "cancelled", "voided": "voided", "註銷": "voided"}

rows = st.lists(
    st.tuples(
        st.sampled_from(["AB", "CD"]), st.integers(0, 160), st.sampled_from(sorted(DAYS)),
        st.booleans(),  # compact date spelling
        st.sampled_from([BAN_A, BAN_B]), st.sampled_from(sorted(STATUS)),
        st.sampled_from(["POS-1", "POS-2", ""]), st.sampled_from(["accepted", "failed", ""]),
    ),
    min_size=1, max_size=60,
)


def write(folder: Path, data: list[tuple], parts: int, padded: bool) -> list[Path]:
    files = []
    pad = " " if padded else ""
    for k in range(parts):
        lines = ["invoice_number,invoice_date,seller_ban,status,machine,upload_status"]
        for track, n, day, compact, ban, status, machine, upload in data[k::parts]:
            date = day.strftime("%Y%m%d" if compact else "%Y-%m-%d")
            lines.append(f"{track}{n:08d},{pad}{date},{ban}{pad},{status},{machine},{upload}")
        if len(lines) > 1:
            path = folder / f"inv{k}.csv"
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
            files.append(path)
    return files


def model(data: list[tuple], parts: int, bans: set[str] | None, folder: Path) -> tuple:
    """Spec §3 per row: a row dated within one period of P uses its number; in P it counts as
    issuing; farther, it only marks the number far. Sellers left out by --ban still use numbers."""
    by_machine: dict[tuple, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    issuing: dict[tuple, int] = defaultdict(int)
    counted: dict[str, int] = defaultdict(int)
    foreign: dict[tuple, int] = defaultdict(int)
    for k in range(parts):
        for track, n, day, _, ban, status, machine, upload in data[k::parts]:
            offset, bit, meaning = DAYS[day], 1 << (n % 50), STATUS[status]
            near = abs(offset) <= 1
            if bans is not None and ban not in bans:
                if near:
                    foreign[(track, n // 50)] |= bit
                continue
            counted[str(folder / f"inv{k}.csv")] += 1
            till = machine or None
            masks = by_machine[(ban, track, n // 50, till)]
            for name, holds in (("used_mask", near), ("in_period_mask", offset == 0),
                                ("adjacent_mask", abs(offset) == 1),
                                ("live_mask", near and meaning != "voided"),
                                ("void_mask", near and meaning == "voided"),
                                ("failed_mask", near and upload == "failed"),
                                ("far_mask", not near)):
                masks[name] |= bit if holds else 0
            masks["live_rows"] += 1 if near and meaning != "voided" else 0
            if offset == 0:
                issuing[(ban, till, track, day)] += 1
    return ({key: dict(v) for key, v in by_machine.items()}, dict(issuing), dict(counted),
            {key: v for key, v in foreign.items() if v})


def as_model(usage: tuple[pl.DataFrame, ...]) -> tuple:
    by_machine, issuing, counted, foreign = usage
    masks = ("used_mask", "in_period_mask", "adjacent_mask", "live_mask", "void_mask",
             "failed_mask", "far_mask", "live_rows")
    got_by_machine = {}
    for row in by_machine.iter_rows(named=True):
        key = (row["seller_ban"], row["track"], row["booklet"], row["machine"])
        assert key not in got_by_machine, f"two rows for {key}"
        got_by_machine[key] = {m: row[m] for m in masks}
    got_issuing = {}
    for ban, till, track, day, n in issuing.select("seller_ban", "machine", "track",
                                                   "invoice_date", "invoices").iter_rows():
        assert (ban, till, track, day) not in got_issuing
        got_issuing[(ban, till, track, day)] = n
    return (got_by_machine, got_issuing, dict(counted.select("source", "rows").iter_rows()),
            {(t, b): m for t, b, m in foreign.select("track", "booklet", "mask").iter_rows()})


@settings(max_examples=60, deadline=None)
@given(rows, st.integers(1, 3), st.booleans(), st.sampled_from([None, {BAN_A}, {BAN_B}]))
@example(data=[("AB", 49, dt.date(2023, 10, 31), False, BAN_A, "voided", "", "failed"),
               ("AB", 49, dt.date(2024, 5, 1), True, BAN_A, "作廢", "", ""),
               ("AB", 50, dt.date(2024, 3, 1), False, BAN_B, "ISSUED", "POS-1", "failed")],
         parts=1, padded=False, bans={BAN_A})
@example(data=[("CD", 0, dt.date(2024, 1, 1), False, BAN_A, "issued", "POS-1", ""),
               ("CD", 0, dt.date(2024, 1, 1), True, BAN_A, "開立", "POS-1", "accepted")],
         parts=2, padded=True, bans=None)
def test_both_fronts_reduce_as_spec(data: list[tuple], parts: int, padded: bool,
                                    bans: set[str] | None) -> None:
    chosen = pl.Series(sorted(bans), dtype=pl.String) if bans is not None else None
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        files = write(folder, data, parts, padded)
        want = model(data, parts, bans, folder)
        validated = validated_usage(scan_raw_invoices(files), P, chosen)
        assert as_model(validated) == want
        one_pass = fast_usage(files, P, chosen)
        if not padded:  # spaces around a value are for the validating path to strip
            assert one_pass is not None, "clean input must take the one-pass path"
        if one_pass is not None:
            assert as_model(one_pass) == want
            for got, other in zip(one_pass, validated, strict=True):
                assert got.schema == other.schema


def test_validating_path_names_file_line_field() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "inv.csv"
        path.write_text("invoice_number,invoice_date,seller_ban,status\n"
                        "AB00000001,2024-01-05,53567686,issued\n"
                        "AB00000002,2024-13-05,53567686,issued\n", encoding="utf-8")
        assert fast_usage([path], P, None) is None
        with pytest.raises(InputError) as caught:
            validated_usage(scan_raw_invoices([path]), P, None)
    problem = caught.value.problems[0]
    assert (Path(problem.file).name, problem.line, problem.field) == ("inv.csv", 3,
                                                                         "invoice_date")


def test_no_invoice_rows_reduce_to_nothing() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "inv.csv"
        path.write_text("invoice_number,invoice_date,seller_ban,status\n", encoding="utf-8")
        by_machine, issuing, counted, foreign = validated_usage(scan_raw_invoices([path]), P, None)
    assert (by_machine.height, issuing.height, counted.height, foreign.height) == (0, 0, 0, 0)
