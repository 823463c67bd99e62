"""Write a reconciliation's files: MOF upload CSVs, E0402 documents, findings and summary.

Everything is first written to a staging folder inside the output folder, then moved into place,
so a crash leaves either the previous complete set or the new one — never a mix or half a file,
and never a stale file from an earlier run (a track that has no blanks any more loses its XML).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import polars as pl

from .atomic import write_bytes_atomic
from .e0402 import write_e0402
from .mof_csv import write_mof_csvs
from .reconcile import Reconciliation

# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def defuse_formulas(df: pl.DataFrame) -> pl.DataFrame:
    """Prefix text cells a spreadsheet would run as a formula with an apostrophe."""
    text = [c for c, t in df.schema.items() if t == pl.String]
    return df.with_columns(
        pl.when(pl.any_horizontal(*[pl.col(c).str.starts_with(s) for s in _FORMULA_START]))
        .then(pl.lit("'") + pl.col(c))
        .otherwise(pl.col(c))
        .alias(c)
        for c in text
    )


def table_csv(df: pl.DataFrame) -> bytes:
    """A table for people: UTF-8 with header, LF, formula-safe."""
    return defuse_formulas(df).write_csv(line_terminator="\n").encode("utf-8")


def write_exports(result: Reconciliation, out_dir: Path) -> list[Path]:
    """Write D/mof/{BAN}_{period}.csv, D/e0402/*.xml, D/findings.csv, D/summary.csv."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".blanktrack-staging-", dir=out_dir))
    try:
        write_mof_csvs(result.exported_ranges, staging / "mof")
        (staging / "mof").mkdir(exist_ok=True)
        write_e0402(result.exported_ranges, staging / "e0402")
        (staging / "e0402").mkdir(exist_ok=True)
        write_bytes_atomic(staging / "findings.csv", table_csv(result.findings))
        write_bytes_atomic(staging / "summary.csv", table_csv(result.summary))
        for name in ("mof", "e0402", "findings.csv", "summary.csv"):
            _replace(staging / name, out_dir / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return sorted(p for p in out_dir.rglob("*") if p.is_file() and not _hidden(p, out_dir))


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def _replace(new: Path, target: Path) -> None:
    if new.is_dir() and target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
        os.replace(new, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(new, target)
