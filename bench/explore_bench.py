"""How fast the explore workbook redraws on a large period.

Generates a period of 1,000,000 invoices with blanktrack.demo.generate_period (into a temporary
folder, or --data DIR to keep and reuse it), reconciles it once, builds the widget UI, then changes
one control at a time and times the redraw that the change triggers (the widget callbacks run in
the kernel synchronously, so the time of the assignment is the time of the redraw). Every change
is the first of its kind (nothing cached). Prints a table; exits 1 when a change takes longer than
the budget (0.3 s).

    .venv/bin/python bench/explore_bench.py [--invoices 1000000] [--data DIR] [--budget 0.5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import polars as pl

from blanktrack.demo import generate_period
from blanktrack.explore import ALL, Explorer, ExplorerUI
from blanktrack.reconcile import reconcile

PERIOD = "11302"
GEN = {"n_bans": 200, "tills_per_ban": 4, "seed": 7, "skip_rate": 0.002, "cancel_rate": 0.01,
       "void_rate": 0.002, "fmt": "parquet"}


def generate(folder: Path, n_invoices: int) -> tuple[list[Path], list[Path], float]:
    """The period's files; reused when `folder` already holds the same generation."""
    stamp = folder / "generated.json"
    want = {"period": PERIOD, "n_invoices": n_invoices, **GEN}
    t = time.perf_counter()
    if not (stamp.is_file() and json.loads(stamp.read_text()) == want):
        shutil.rmtree(folder, ignore_errors=True)
        generate_period(folder, period=PERIOD, n_invoices=n_invoices, **GEN)  # type: ignore[arg-type]
        stamp.write_text(json.dumps(want))
    took = time.perf_counter() - t
    return ([folder / "allocations.parquet"], sorted((folder / "invoices").glob("*.parquet")),
            took)


def steps(ex: Explorer, ui: ExplorerUI) -> list[tuple[str, Any, Any]]:
    """(label, widget, value) in order; values picked from the data."""
    cells = ex.data().cells
    biggest = (cells.group_by("ban", "invoice_type", "track").len()
               .sort(["len", "ban"], descending=[True, False]).row(0, named=True))
    ban, itype, track = biggest["ban"], biggest["invoice_type"], biggest["track"]
    tills = (cells.filter(pl.col("ban") == ban)["machine"].drop_nulls().unique().sort()
             .to_list())
    other_track = next((t for t in ex.options(ex.selection())["track"] if t != track), track)
    return [
        ("ban", ui.ban, ban),
        ("invoice type", ui.invoice_type, itype),
        ("track", ui.track, track),
        ("till", ui.till, tills[0] if tills else ALL),
        ("finding code", ui.code, "skipped-number"),
        ("severity", ui.severity, "warning"),
        ("gap kind", ui.gap_kind, "skipped"),
        ("gap sort", ui.gap_sort, "count"),
        ("gap sort descending", ui.gap_desc, True),
        ("gap page", ui.gap_page, 2),
        ("gap page size", ui.gap_page_size, 100),
        ("finding sort", ui.finding_sort, "begin_no"),
        ("finding page", ui.finding_page, 2),
        ("booklet (drill-down)", ui.booklet, 1),
        ("booklet (map click)", ui.map_grid, 2),
        ("till: all", ui.till, ALL),
        ("finding code: all", ui.code, ALL),
        ("gap kind: all", ui.gap_kind, ALL),
        ("ban: all (whole track)", ui.ban, ALL),
        ("map page", ui.map_page, 2),
        ("type: all", ui.invoice_type, ALL),
        *([("track: another", ui.track, other_track)] if other_track != track else []),
        ("track: all", ui.track, ALL),
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--invoices", type=int, default=1_000_000)
    ap.add_argument("--data", type=Path, help="folder to generate into and reuse (default: temp)")
    ap.add_argument("--budget", type=float, default=0.3, help="seconds a redraw may take")
    args = ap.parse_args(argv)

    tmp = None
    folder = args.data
    if folder is None:
        tmp = Path(tempfile.mkdtemp(prefix="blanktrack-explore-bench-"))
        folder = tmp / "period"
    try:
        allocations, invoices, gen_s = generate(folder, args.invoices)
        t = time.perf_counter()
        result = reconcile(PERIOD, allocations, invoices, report_date=dt.date(2024, 3, 5))
        rec_s = time.perf_counter() - t
        t = time.perf_counter()
        ex = Explorer.from_result(result)
        ex.data()
        agg_s = time.perf_counter() - t
        t = time.perf_counter()
        ui = ExplorerUI(ex, out_dir=(tmp or folder) / "exports", selection=ex.selection())
        ui_s = time.perf_counter() - t
        d = ex.data()
        print(f"period {PERIOD}: {result.invoice_rows:,} invoice rows in {len(invoices)} file(s), "
              f"{result.allocations.height} allocations, {result.booklets.height:,} allocation "
              f"booklets, {d.gaps.height:,} gaps, {result.findings.height:,} findings, "
              f"{result.issuing.height:,} till-days")
        print(f"generate {gen_s:.2f} s (0 when reused) | reconcile {rec_s:.2f} s | explorer "
              f"aggregates {agg_s:.3f} s | first draw of the UI {ui_s:.3f} s")
        print()
        head = (f"{'#':>2}  {'control':<24} {'value':<16} {'redraw s':>9}  {'gaps':>6} "
                f"{'findings':>8} {'map':>5}  slowest part")
        print(head)
        print("-" * len(head))
        worst = 0.0
        for i, (label, widget, value) in enumerate(steps(ex, ui), 1):
            trait = "selected" if widget is ui.map_grid else "value"  # a click sets `selected`
            t = time.perf_counter()
            setattr(widget, trait, value)
            took = time.perf_counter() - t
            worst = max(worst, took)
            part, part_s = max(ui.timing.parts.items(), key=lambda kv: kv[1],
                               default=("-", 0.0))
            sel = ui.selection
            flag = "" if took <= args.budget else "  SLOW"
            print(f"{i:>2}  {label:<24} {value!s:<16} {took:>9.3f}  "
                  f"{ex.gaps(sel).height:>6} {ex.findings(sel).height:>8} "
                  f"{ui._booklets.height:>5}  {part} {part_s:.3f}{flag}")
        t = time.perf_counter()
        written = ui.write_exports()
        print(f"\nexports of the last selection: {len(written)} file(s) in "
              f"{time.perf_counter() - t:.2f} s (not a redraw)")
        verdict = "PASS" if worst <= args.budget else "FAIL"
        print(f"slowest redraw {worst:.3f} s, budget {args.budget} s: {verdict}")
        return 0 if worst <= args.budget else 1
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
