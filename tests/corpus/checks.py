"""What every run that exits 0 must satisfy, and what every run that exits 1 must not leave.

- every MOF upload CSV passes `blanktrack check` (lint, with the allocations);
- every E0402 document validates against the project's own schema (blanktrack/schema) and the
  MOF's 4.1 schema (../shared/xsd, used in place) with lxml;
- findings.csv and summary.csv hold no cell a spreadsheet would run as a formula;
- no temporary or staging file is left; every set folder's ledger lists exactly its files.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import json
import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

import polars as pl
import pytest
from lxml import etree

from blanktrack.allocations import load_allocations
from blanktrack.e0402 import SCHEMA as OWN_XSD
from blanktrack.mof_csv import check_file

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "blanktrack" / "sample" / "10312"
SHARED_ENV = "BLANKTRACK_SHARED"  # the shared folder (with xsd/), where it is not beside the repo


def shared_xsd_dir() -> Path:
    """The MOF schemas, used in place: $BLANKTRACK_SHARED/xsd, else ../shared/xsd beside this
    checkout, else beside the checkout it was cloned from (a `git clone` of a local checkout,
    as a fresh-clone check makes). The first that exists; else the first (tests then skip)."""
    candidates = [Path(os.environ[SHARED_ENV]) / "xsd"] if os.environ.get(SHARED_ENV) else []
    candidates.append(ROOT.parent / "shared" / "xsd")
    try:
        origin = subprocess.run(["git", "-C", str(ROOT), "remote", "get-url", "origin"],
                                capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        origin = ""
    if origin and Path(origin).is_dir():
        candidates.append(Path(origin).resolve().parent / "shared" / "xsd")
    return next((c for c in candidates if c.is_dir()), candidates[0])


SHARED_XSD = shared_xsd_dir() / "E0402_4.1.xsd"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@functools.cache
def schemas() -> dict[str, etree.XMLSchema]:
    """Both E0402 schemas, compiled once. The shared one includes GenericType_4.0.xsd beside it."""
    if not SHARED_XSD.exists():
        pytest.skip(f"shared schema {SHARED_XSD} not found (set {SHARED_ENV} to the shared folder)")
    return {
        "own": etree.XMLSchema(etree.parse(str(OWN_XSD))),
        "MOF 4.1": etree.XMLSchema(etree.parse(str(SHARED_XSD))),
    }


def xsd_errors(data: bytes) -> list[str]:
    """Every validation error of one E0402 document against both schemas."""
    doc = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True)
                           ).getroottree()
    errors = []
    for name, schema in schemas().items():
        if not schema.validate(doc):
            errors.extend(f"{name}: {e.message} (line {e.line})" for e in schema.error_log)
    return errors


def live_formulas(data: bytes) -> list[str]:
    """Cells of a CSV table that a spreadsheet would run as a formula."""
    rows = csv.reader(io.StringIO(data.decode("utf-8"), newline=""))
    return [cell for row in rows for cell in row if cell.startswith(FORMULA_START)]


def visible_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()
                  and not any(part.startswith(".") for part in p.relative_to(folder).parts))


# Where a reconcile puts its files: one set folder per period and reporting BAN,
# out_dir/{period}/{BAN}/ with {BAN}_{period}.csv, e0402/*.xml, findings.csv, summary.csv and
# the ledger .blanktrack-set.json. Tests reach outputs only through these helpers.
LEDGER = ".blanktrack-set.json"


def set_dirs(out_dir: Path) -> list[Path]:
    """The set folders of out_dir, sorted."""
    return sorted(p for p in Path(out_dir).glob("[0-9]*/[0-9]*") if p.is_dir()
                  and p.name.isdigit() and len(p.name) == 8)


def set_dir(out_dir: Path, period: str, ban: str) -> Path:
    return Path(out_dir) / period / ban


def upload_file(out_dir: Path, ban: str, period: str) -> Path:
    """The MOF upload CSV of a reporting BAN and period."""
    return set_dir(out_dir, period, ban) / f"{ban}_{period}.csv"


def upload_files(out_dir: Path) -> list[Path]:
    """Every MOF upload CSV under out_dir, sorted."""
    return sorted(p for d in set_dirs(out_dir) for p in d.glob("*.csv")
                  if p.name == f"{d.name}_{d.parent.name}.csv")


def e0402_files(out_dir: Path) -> list[Path]:
    """Every E0402 document under out_dir, sorted."""
    return sorted(p for d in set_dirs(out_dir) for p in (d / "e0402").glob("*.xml"))


def findings_files(out_dir: Path) -> list[Path]:
    return [d / "findings.csv" for d in set_dirs(out_dir) if (d / "findings.csv").is_file()]


def summary_files(out_dir: Path) -> list[Path]:
    return [d / "summary.csv" for d in set_dirs(out_dir) if (d / "summary.csv").is_file()]


def people_csv(path: Path) -> pl.DataFrame:
    """A findings.csv or summary.csv as text, its bilingual headers (`字軌 track`) by their
    column names (`track`)."""
    frame = pl.read_csv(path, infer_schema=False)
    return frame.rename({c: c.rsplit(" ", 1)[-1] for c in frame.columns})


def findings_of(out_dir: Path) -> pl.DataFrame:
    """The findings of every set, as text; a finding that every set carries (no BAN of the run)
    once."""
    frames = [people_csv(p) for p in findings_files(out_dir)]
    assert frames, f"no findings.csv under {out_dir}"
    return pl.concat(frames).unique(maintain_order=True)


def summary_of(out_dir: Path) -> pl.DataFrame:
    """The summary rows of every set, as text."""
    frames = [people_csv(p) for p in summary_files(out_dir)]
    assert frames, f"no summary.csv under {out_dir}"
    return pl.concat(frames)


def exports_of(out_dir: Path) -> dict[str, bytes]:
    """Every visible output file, by path relative to out_dir."""
    return {p.relative_to(out_dir).as_posix(): p.read_bytes() for p in visible_files(out_dir)}


def check_ledgers(out_dir: Path) -> None:
    """Every set folder's ledger lists exactly its files, with their SHA-256."""
    for folder in set_dirs(out_dir):
        ledger = json.loads((folder / LEDGER).read_bytes())
        assert (ledger["period"], ledger["reporting_ban"]) == (folder.parent.name, folder.name)
        files = {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
                 for p in folder.rglob("*") if p.is_file() and p.name != LEDGER}
        assert ledger["files"] == files, folder


def check_outputs(out_dir: Path, allocation_paths: Sequence[Path]) -> None:
    """The self-checks every successful reconcile must pass (see the module docstring)."""
    allocations = load_allocations(allocation_paths)
    files = visible_files(out_dir)
    assert set_dirs(out_dir), files
    for folder in set_dirs(out_dir):
        assert (folder / "findings.csv").is_file() and (folder / "summary.csv").is_file(), folder
    assert not [p for p in out_dir.rglob("*") if p.suffix == ".tmp" or "staging" in p.name
                or ".old-" in p.name], files
    check_ledgers(out_dir)
    for path in upload_files(out_dir):
        problems = [p for p in check_file(path, allocations) if p.is_error]
        assert problems == [], "\n".join(map(str, problems))
    for path in e0402_files(out_dir):
        assert xsd_errors(path.read_bytes()) == [], path
    for path in findings_files(out_dir) + summary_files(out_dir):
        assert live_formulas(path.read_bytes()) == [], path


def nothing_written(out_dir: Path) -> bool:
    """The output folder does not exist, or is empty."""
    return not out_dir.exists() or not any(out_dir.iterdir())
