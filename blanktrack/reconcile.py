"""One reconciliation of a period: load, validate, compute blanks, findings and summary."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from . import findings as F
from .allocations import load_allocations
from .blanks import RUN_KEYS, Split, blank_ranges, booklet_state
from .booklets import (
    allocation_booklets,
    bit,
    booklet_usage,
    invoice_usage,
    prepare_allocations,
)
from .errors import InputError, Problem
from .frames import BOOKLET_SIZE, SUMMARY_SCHEMA
from .invoices import load_invoices
from .period import Period, period_code_expr, period_index, period_index_expr
from .skipped import segments, skipped_count, skipped_ranges


@dataclass(frozen=True)
class InputFile:
    """An input file as the audit trail records it."""

    path: str
    role: str  # 'allocations' | 'invoices'
    size: int
    sha256: str


@dataclass
class Reconciliation:
    """Everything one period's reconciliation found; the writers and notebooks read from here."""

    period: Period
    split: Split
    ban: str | None
    report_date: dt.date
    inputs: list[InputFile]
    allocations: pl.DataFrame  # the period's allocations, with alloc_id, begin, end
    booklets: pl.DataFrame  # per allocation booklet: alloc_mask, used_in, blank_mask
    blank_ranges: pl.DataFrame
    skipped: pl.DataFrame
    findings: pl.DataFrame
    summary: pl.DataFrame
    issuing: pl.DataFrame  # invoices per seller BAN, machine and day (for charts)
    rows_by_source: dict[str, int]  # rows read from each input file

    @property
    def invoice_rows(self) -> int:
        paths = {f.path for f in self.inputs if f.role == "invoices"}
        return sum(n for p, n in self.rows_by_source.items() if p in paths)

    @property
    def error_count(self) -> int:
        return self.findings.filter(pl.col("severity") == "error").height

    @property
    def exported_ranges(self) -> pl.DataFrame:
        """The rows that go to the MOF: ours, not another system's."""
        return self.blank_ranges.filter(pl.col("reported_by").is_null())


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _describe(paths: Sequence[str | Path], role: str) -> list[InputFile]:
    files = []
    for p in paths:
        path = Path(p)
        if not path.is_file():
            what = "does not exist" if not path.exists() else "is not a regular file"
            raise InputError(Problem(str(path), None, None, f"{role} file {what}",
                                     "give the path of a CSV or Parquet file"))
        files.append(InputFile(str(path), role, path.stat().st_size, sha256_of(path)))
    return files


def _scope(allocations: pl.DataFrame, period: Period, ban: str | None,
           sources: Sequence[str | Path]) -> pl.DataFrame:
    """The period's allocations, of one reporting BAN when asked."""
    in_period = allocations.filter(pl.col("period") == period.code)
    if ban is not None:
        in_period = in_period.filter((pl.col("ban") == ban) | (pl.col("head_ban") == ban))
    if in_period.is_empty():
        found = sorted(allocations["period"].unique().to_list())
        whose = f" for BAN {ban}" if ban else ""
        raise InputError(Problem(
            ", ".join(str(s) for s in sources), None, "period",
            f"no allocation of period {period.code}{whose} (periods present: "
            f"{', '.join(found) or 'none'})",
            "pass the allocation file of this period or the right --period/--ban",
        ))
    return in_period


def reconcile(
    period: str | Period,
    allocation_paths: Sequence[str | Path],
    invoice_paths: Sequence[str | Path],
    *,
    ban: str | None = None,
    split: Split = "none",
    report_date: dt.date | None = None,
) -> Reconciliation:
    """Reconcile one period. Raises InputError for input that cannot be used."""
    period = period if isinstance(period, Period) else Period.parse(period)
    report_date = report_date or dt.date.today()
    inputs = _describe(allocation_paths, "allocations") + _describe(invoice_paths, "invoices")

    allocations_all = load_allocations(allocation_paths)
    allocations = prepare_allocations(_scope(allocations_all, period, ban, allocation_paths))
    invoices = load_invoices(invoice_paths)
    if ban is not None:
        invoices = invoices.filter(pl.col("seller_ban").is_in(allocations["ban"].unique()))

    alloc_booklets = allocation_booklets(allocations)
    by_machine_q = invoice_usage(invoices, period)
    issuing_q = (
        invoices.filter(period_index_expr("invoice_date") == period_index(period))
        .group_by("seller_ban", "machine", "invoice_date")
        .agg(invoices=pl.len())
    )
    count_q = invoices.group_by("source").agg(rows=pl.len())
    by_machine, issuing, counted = pl.collect_all([by_machine_q, issuing_q, count_q])
    usage = booklet_usage(by_machine).collect()

    state = booklet_state(alloc_booklets, usage)
    ranges = blank_ranges(state, allocations, split)
    skipped = skipped_ranges(state, allocations, segments(allocations, alloc_booklets, by_machine))

    detail = _detail(invoices, usage, alloc_booklets, allocations, period)
    findings = F.collect([
        *F.allocation_findings(allocations),
        *F.invoice_findings(detail, period),
        F.skipped_findings(skipped),
        F.reported_elsewhere_findings(ranges),
        F.late_report_findings(period, report_date),
    ])
    return Reconciliation(
        period=period, split=split, ban=ban, report_date=report_date, inputs=inputs,
        allocations=allocations, booklets=state, blank_ranges=ranges, skipped=skipped,
        findings=findings, summary=_summary(state, allocations, skipped),
        issuing=issuing.sort("seller_ban", "machine", "invoice_date", nulls_last=True),
        rows_by_source={
            **dict(allocations_all.group_by("source").agg(pl.len()).iter_rows()),
            **dict(counted.iter_rows()),
        },
    )


def _detail(invoices: pl.LazyFrame, usage: pl.DataFrame, alloc_booklets: pl.DataFrame,
            allocations: pl.DataFrame, period: Period) -> pl.DataFrame:
    """The few invoices that findings need to name: those of booklets where something is odd."""
    union = alloc_booklets.group_by("ban", "track", "booklet").agg(
        alloc_union=pl.col("alloc_mask").bitwise_or()
    )
    odd = (
        usage.join(union, left_on=["seller_ban", "track", "booklet"],
                   right_on=["ban", "track", "booklet"], how="left")
        .with_columns(pl.col("alloc_union").fill_null(0))
        .filter(
            ((pl.col("in_period_mask") & ~pl.col("alloc_union")) != 0)
            | ((pl.col("adjacent_mask") & pl.col("alloc_union")) != 0)
            | (pl.col("failed_mask") != 0)
            | (pl.col("void_mask") != 0)
            | (pl.col("live_rows") > pl.col("live_mask").bitwise_count_ones())
        )
        .select("seller_ban", "track", "booklet")
    )
    if odd.is_empty():
        rows = invoices.head(0).collect()
    else:
        p = period_index(period)
        rows = (
            invoices.with_columns(booklet=pl.col("number").cast(pl.Int64) // BOOKLET_SIZE)
            .filter((period_index_expr("invoice_date") - p).abs() <= 1)
            .join(odd.lazy(), on=["seller_ban", "track", "booklet"], how="semi")
            .drop("booklet")
            .collect()
        )
    rows = rows.with_row_index("row").with_columns(
        n=pl.col("number").cast(pl.Int64),
        offset=period_index_expr("invoice_date") - period_index(period),
        invoice_period=period_code_expr("invoice_date"),
    )
    owner = (
        rows.join(allocations.select("ban", "track", "begin", "end", "invoice_type"),
                  left_on=["seller_ban", "track"], right_on=["ban", "track"])
        .filter(pl.col("n").is_between(pl.col("begin"), pl.col("end")))
        .group_by("row")
        .agg(pl.col("invoice_type").first())
    )
    return (
        rows.join(owner, on="row", how="left")
        .with_columns(in_allocation=pl.col("invoice_type").is_not_null(),
                      ban=pl.col("seller_ban"))
        .sort("row")
    )


def _summary(state: pl.DataFrame, allocations: pl.DataFrame, skipped: pl.DataFrame
             ) -> pl.DataFrame:
    keys = [k for k in RUN_KEYS if k != "reported_by"]
    ones = pl.Expr.bitwise_count_ones
    per = (
        state.join(allocations.select("alloc_id", *RUN_KEYS), on="alloc_id")
        .group_by(keys)
        .agg(
            allocated=ones(pl.col("alloc_mask")).sum().cast(pl.Int64),
            used=ones(pl.col("used_in")).sum().cast(pl.Int64),
            reported_elsewhere=ones(pl.col("blank_mask"))
            .filter(pl.col("reported_by").is_not_null()).sum().cast(pl.Int64),
        )
    )
    skip = skipped_count(skipped).group_by(keys).agg(pl.col("skipped").sum())
    return (
        per.join(skip, on=keys, how="left")
        .with_columns(
            pl.col("skipped").fill_null(0),
            blank=pl.col("allocated") - pl.col("used"),
            utilisation=(pl.col("used") / pl.col("allocated")).round(4),
        )
        .select(list(SUMMARY_SCHEMA))
        .cast(SUMMARY_SCHEMA)  # type: ignore[arg-type]
        .sort("head_ban", "ban", "invoice_type", "track")
    )


__all__ = ["InputFile", "Reconciliation", "bit", "reconcile"]
