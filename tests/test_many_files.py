"""Many invoice files (a day's file each): what is asked of every file before the scan is
asked of as few as the answer needs."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from blanktrack.usage import engine


def _day_files(folder: Path, days: int, rows: int) -> list[Path]:
    paths = []
    for day in range(days):
        path = folder / f"day-{day:02d}.parquet"
        pl.DataFrame({"invoice_number": [f"AB{day * rows + n:08d}" for n in range(rows)],
                      "invoice_date": ["2024-01-05"] * rows, "seller_ban": ["53567686"] * rows,
                      "status": ["issued"] * rows}).write_parquet(path)
        paths.append(path)
    return paths


@pytest.mark.parametrize(("threshold", "large", "footers"),
                         [(10, True, 2), (24, True, 4), (30, True, 5), (31, False, 5), (0, True, 1)])
def test_a_period_is_known_large_at_the_footer_that_makes_it_so(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, threshold: int, large: bool,
        footers: int) -> None:
    # five files of six rows: the footers read until the rows reach the threshold, no more
    paths = _day_files(tmp_path, 5, 6)
    read: list[str] = []
    rows_of = engine.parquet_rows

    def counted(path: Path, name: str) -> int:
        read.append(Path(path).name)
        return rows_of(path, name)

    monkeypatch.setattr(engine, "parquet_rows", counted)
    monkeypatch.setattr(engine, "DENSE_MIN_ROWS", threshold)
    engine._rows.cache_clear()
    assert engine.is_large(paths) is large
    assert read == [p.name for p in paths[:footers]]


def test_no_invoice_file_is_not_large(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "DENSE_MIN_ROWS", 0)
    assert engine.is_large([]) is False
