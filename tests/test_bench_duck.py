"""The bench's DuckDB contenders (bench/duck.py) on a hand-made period whose blank numbers are
counted here by hand from spec §3: the booklet query and the naive query must both give them,
whatever the invoice date's type (text, Date, Datetime), Parquet or CSV, one file or several."""

from __future__ import annotations

import datetime as dt
import importlib.util
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

pytestmark = pytest.mark.skipif(importlib.util.find_spec("duckdb") is None,
                                reason="duckdb not installed")
ROOT = Path(__file__).resolve().parent.parent
PERIOD = "11302"  # Jan–Feb 2024

ALLOCATIONS = pl.DataFrame({
    "ban": ["53567686", "53567686", "04595257", "53567686"],
    "invoice_type": ["07"] * 4,
    "period": [PERIOD, PERIOD, PERIOD, "11304"],  # the last: another period, not counted
    "track": ["AB", "AB", "CD", "EF"],
    "begin_no": ["00000000", "00000125", "00001000", "00000000"],  # 125: not a booklet's start
    "end_no": ["00000099", "00000149", "00001049", "00000049"],
})
# (number, date, seller BAN, status): the used numbers of P are AB 0–3, AB 130 and CD 1001.
INVOICES = [
    ("AB00000000", "2024-01-05", "53567686", "voided"),
    ("AB00000000", "2024-01-06", "53567686", "issued"),  # the re-issue: counted once
    ("AB00000001", "2024-02-29", "53567686", "cancelled"),  # cancelled numbers are used
    ("AB00000002", "2023-12-31", "53567686", "issued"),  # P−1: used
    ("AB00000003", "2024-03-01", "53567686", "issued"),  # P+1: used
    ("AB00000004", "2023-10-31", "53567686", "issued"),  # P−2: not used
    ("AB00000110", "2024-01-10", "53567686", "issued"),  # in no allocation
    ("AB00000130", "2024-01-10", "53567686", "issued"),
    ("CD00001000", "2024-01-10", "53567686", "issued"),  # another BAN's number: not used
    ("CD00001001", "2024-01-10", "04595257", "issued"),
]
# Allocated in P: AB 0–99 (100) + AB 125–149 (25) + CD 1000–1049 (50) = 175; used 6.
BLANK = 169
# AB 4–99, AB 125–129, AB 131–149, CD 1000, CD 1002–1049.
RANGES = 5


def _invoices(dates: str) -> pl.DataFrame:
    frame = pl.DataFrame(INVOICES, schema=["invoice_number", "invoice_date", "seller_ban",
                                           "status"], orient="row")
    if dates == "date":
        return frame.with_columns(pl.col("invoice_date").str.to_date())
    if dates == "datetime":
        # late in the day: a cast to DATE must drop the time, not round it
        return frame.with_columns(pl.col("invoice_date").str.to_datetime(time_unit="us")
                                  + dt.timedelta(hours=23, minutes=59))
    return frame


def _query(query: str, alloc: Path, files: list[Path]) -> str:
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "duck.py"), "--query", query,
                           PERIOD, str(alloc), *map(str, files)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


@pytest.mark.parametrize(("fmt", "dates", "n_files"), [
    ("parquet", "text", 1), ("parquet", "date", 2), ("parquet", "datetime", 3), ("csv", "text", 2),
])
def test_both_queries_count_the_hand_counted_blanks(tmp_path, fmt, dates, n_files) -> None:
    alloc = tmp_path / "allocations.parquet"
    ALLOCATIONS.write_parquet(alloc)
    frame = _invoices(dates)
    files = []
    step = -(-frame.height // n_files)
    for i in range(n_files):
        path = tmp_path / f"invoices_{i}.{fmt}"
        part = frame.slice(i * step, step)
        if fmt == "parquet":
            part.write_parquet(path)
        else:
            part.write_csv(path)
        files.append(path)
    assert _query("booklet", alloc, files) == f'{{"blank": {BLANK}}}'
    assert _query("naive", alloc, files) == f'{{"blank": {BLANK}, "ranges": {RANGES}}}'


def test_csv_allocations_are_read_as_text(tmp_path) -> None:
    alloc = tmp_path / "allocations.csv"
    ALLOCATIONS.write_csv(alloc)
    inv = tmp_path / "invoices.csv"
    _invoices("text").write_csv(inv)
    assert _query("booklet", alloc, [inv]) == f'{{"blank": {BLANK}}}'
