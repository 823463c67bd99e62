"""The one-pass path (usage.one_pass.fast_usage) against the validating path (usage.validated):
two fronts (raw text of clean files; every row validated) into the one reduction."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from blanktrack.invoices import scan_raw_invoices
from blanktrack.period import Period
from blanktrack.usage.one_pass import fast_usage
from blanktrack.usage.validated import validated_usage

P = Period.parse("11302")
DAYS = [dt.date(2023, 11, 30), dt.date(2023, 12, 31), dt.date(2024, 1, 1), dt.date(2024, 2, 29),
        dt.date(2024, 3, 1), dt.date(2024, 5, 2)]

rows = st.lists(
    st.tuples(
        st.sampled_from(["AB", "CD"]), st.integers(0, 260),
        st.sampled_from(DAYS), st.booleans(),  # compact date spelling
        st.sampled_from(["53567686", "04595257"]),
        st.sampled_from(["issued", "cancelled", "voided", "開立", "作廢", "註銷", "ISSUED"]),
        st.sampled_from(["POS-1", "POS-2", ""]),
        st.sampled_from(["accepted", "failed", ""]),
    ),
    min_size=1, max_size=80,
)


def write(folder: Path, data: list[tuple], parts: int) -> list[Path]:
    files = []
    for k in range(parts):
        lines = ["invoice_number,invoice_date,seller_ban,status,machine,upload_status"]
        for track, n, day, compact, ban, status, machine, upload in data[k::parts]:
            date = day.strftime("%Y%m%d" if compact else "%Y-%m-%d")
            lines.append(f"{track}{n:08d},{date},{ban},{status},{machine},{upload}")
        if len(lines) > 1:
            path = folder / f"inv{k}.csv"
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
            files.append(path)
    return files


def canonical(df: pl.DataFrame) -> list[tuple]:
    return sorted(df.select(sorted(df.columns)).rows(), key=repr)


@settings(max_examples=60, deadline=None)
@given(rows, st.integers(1, 3))
def test_fast_path_equals_original(data: list[tuple], parts: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        files = write(Path(tmp), data, parts)
        fast = fast_usage(files, P, None)
        assert fast is not None, "clean input must take the fast path"
        original = validated_usage(scan_raw_invoices(files), P, None)
        assert fast[3].is_empty(), "no seller is left out: nothing used by one"
        for got, want in zip(fast[:3], original[:3], strict=True):
            assert got.schema == want.schema
            assert canonical(got) == canonical(want)
