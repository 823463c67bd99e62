"""Pure functions of the explore workbook: a Selection and a TableView in, filtered polars frames
out, from the Reconciliation's aggregates only (never invoice rows)."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import polars as pl

from .. import charts
from ..booklets import mask_between
from ..reconcile import Reconciliation
from ..schemas import BOOKLET_SIZE, SEVERITY_RANK, SUMMARY_SCHEMA

MAP_MAX_BOOKLETS = 2000  # cells in one booklet map; more are paged
MAP_COLUMNS = 50  # booklets per map row (2,500 numbers)
PAGE_SIZES = (10, 25, 50, 100)
NUMBER_STATES = ("used", "skipped", "blank", "elsewhere", "not allocated")
STATE_COLOURS = {
    "used": charts.COLOURS["used"],
    "skipped": charts.COLOURS["skipped"],
    "blank": charts.COLOURS["blank"],
    "elsewhere": charts.COLOURS["elsewhere"],
    "not allocated": "#ffffff",
}
ALL = "(all)"  # the label of "no filter" in every control

GAP_COLUMNS = ["kind", "ban", "invoice_type", "track", "begin_no", "end_no", "count", "machine",
               "reported_by", "note"]
GAP_SORTS = ["ban", "track", "begin_no", "count", "kind", "machine", "invoice_type"]
FINDING_COLUMNS = ["severity", "code", "ban", "invoice_type", "track", "begin_no", "end_no",
                   "machine", "message"]
FINDING_SORTS = ["severity", "code", "ban", "track", "begin_no", "machine"]
GAP_KEYS = ["ban", "invoice_type", "track", "begin_no", "kind", "machine"]
FINDING_KEYS = ["severity", "code", "ban", "invoice_type", "track", "begin_no", "machine",
                 "message"]


# ---------------------------------------------------------------------------------------------
# State
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Selection:
    """What the controls select. None = all."""

    period: str
    ban: str | None = None  # a BAN, or a head office with its branches
    invoice_type: str | None = None
    track: str | None = None
    till: str | None = None
    code: str | None = None  # findings only
    severity: str | None = None  # findings only
    gap_kind: str | None = None  # 'blank' | 'skipped' | None (both)

    def label(self) -> str:
        parts = [f"period {self.period}"]
        for name in ("ban", "invoice_type", "track", "till", "code", "severity", "gap_kind"):
            value = getattr(self, name)
            if value is not None:
                parts.append(f"{name.replace('_', ' ')} {value}")
        return ", ".join(parts)

    def slug(self) -> str:
        """A folder name for the exports of this selection."""
        parts = [self.period]
        for name in ("ban", "invoice_type", "track"):
            value = getattr(self, name)
            if value is not None:
                parts.append(f"{name.replace('_', '')}-{value}")
        if len(parts) == 1:
            parts.append("all")
        return re.sub(r"[^A-Za-z0-9_.-]", "_", "_".join(parts))


@dataclass(frozen=True)
class TableView:
    """How a table is shown: sort column and direction, page (0-based) and page size."""

    sort: str | None = None  # None = the table's natural order
    descending: bool = False
    page: int = 0
    page_size: int = 25


DEFAULT_VIEW = TableView()


# ---------------------------------------------------------------------------------------------
# Per-period aggregates, computed once per Reconciliation
# ---------------------------------------------------------------------------------------------


@dataclass
class PeriodData:
    """A Reconciliation and the aggregates the explorer filters (all small: no invoice rows)."""

    result: Reconciliation
    gaps: pl.DataFrame  # blank ranges and skipped runs, one frame (GAP_COLUMNS + tills, head_ban)
    cells: pl.DataFrame  # one row per allocation booklet with counts and masks
    tills: list[str]
    family: dict[str, list[str]]  # BAN → itself and the branches it reports for

    @classmethod
    def build(cls, result: Reconciliation) -> PeriodData:
        allocs = result.allocations
        family: dict[str, set[str]] = {}
        for ban, head in allocs.select("ban", "head_ban").unique().iter_rows():
            family.setdefault(ban, set()).add(ban)
            family.setdefault(head, set()).update({head, ban})
        tills = sorted(
            set(allocs["machine"].drop_nulls().to_list())
            | set(result.issuing["machine"].drop_nulls().to_list())
            | set(result.skipped["machine"].drop_nulls().to_list())
            | set(result.findings["machine"].drop_nulls().to_list())
        )
        return cls(result=result, gaps=gap_frame(result), cells=booklet_cells(result),
                   tills=tills, family={k: sorted(v) for k, v in family.items()})


def _number_str(expr: pl.Expr) -> pl.Expr:
    return expr.cast(pl.String).str.zfill(8)


def gap_frame(result: Reconciliation) -> pl.DataFrame:
    """Blank ranges (what goes to the MOF) and skipped runs (跳號) as one table.

    `machine` of a blank range names the tills its allocation rows were handed to; of a skipped
    run, the till whose segment skipped it. `tills` is the same as a list, for the till filter.
    """
    ranges = result.blank_ranges.with_row_index("row").with_columns(
        begin=pl.col("begin_no").cast(pl.Int64), end=pl.col("end_no").cast(pl.Int64))
    owners = (
        ranges.select("row", "ban", "invoice_type", "track", "begin", "end")
        .join(result.allocations.select("ban", "invoice_type", "track", a_begin="begin",
                                        a_end="end", a_machine="machine"),
              on=["ban", "invoice_type", "track"])
        .filter((pl.col("a_begin") <= pl.col("end")) & (pl.col("begin") <= pl.col("a_end")))
        .group_by("row")
        .agg(tills=pl.col("a_machine").drop_nulls().unique().sort())
    )
    blank = (
        ranges.join(owners, on="row", how="left")
        .with_columns(pl.col("tills").fill_null(pl.lit([], dtype=pl.List(pl.String))))
        .select(
            kind=pl.lit("blank"), ban="ban", head_ban="head_ban", invoice_type="invoice_type",
            track="track", begin_no="begin_no", end_no="end_no", count="count",
            machine=pl.when(pl.col("tills").list.len() > 0)
            .then(pl.col("tills").list.join(", ")),
            reported_by="reported_by",
            note=pl.when(pl.col("reported_by").is_not_null())
            .then(pl.format("reported by {}, not in our exports", pl.col("reported_by")))
            .otherwise(pl.lit(None, dtype=pl.String)),
            tills="tills",
        )
    )
    s = result.skipped
    skipped = s.select(
        kind=pl.lit("skipped"), ban="ban", head_ban="head_ban", invoice_type="invoice_type",
        track="track", begin_no=_number_str(pl.col("begin")), end_no=_number_str(pl.col("end")),
        count=(pl.col("end") - pl.col("begin") + 1).cast(pl.Int64), machine="machine",
        reported_by="reported_by",
        note=pl.format("issued up to {}{}", pl.col("track"), _number_str(pl.col("highest_used"))),
        tills=pl.concat_list(pl.col("machine")).list.drop_nulls(),
    )
    return pl.concat([blank, skipped], how="vertical_relaxed").sort(
        GAP_KEYS, nulls_last=True)


def booklet_cells(result: Reconciliation) -> pl.DataFrame:
    """One row per allocation booklet: the allocation's keys and till, how many of its numbers
    are allocated, used, blank, skipped and reported elsewhere, and the masks for the drill-down.
    Counts are popcounts of the 50-bit masks of `result.booklets`."""
    ones = pl.Expr.bitwise_count_ones
    base = pl.col("booklet") * BOOKLET_SIZE
    sk = result.skipped
    skipped = (
        sk.select("alloc_id", "begin", "end",
                  booklet=pl.int_ranges(pl.col("begin") // BOOKLET_SIZE,
                                        pl.col("end") // BOOKLET_SIZE + 1))
        .explode("booklet")
        .with_columns(base=pl.col("booklet") * BOOKLET_SIZE)
        .with_columns(skipped_mask=mask_between(
            pl.max_horizontal("begin", "base") - pl.col("base"),
            pl.min_horizontal("end", pl.col("base") + BOOKLET_SIZE - 1) - pl.col("base"),
        ))
        .group_by("alloc_id", "booklet")
        .agg(pl.col("skipped_mask").bitwise_or())
    )
    attrs = result.allocations.select("alloc_id", "head_ban", "invoice_type", "machine",
                                      "reported_by")
    return (
        result.booklets.join(attrs, on="alloc_id", how="left")
        .join(skipped, on=["alloc_id", "booklet"], how="left")
        .with_columns(pl.col("skipped_mask").fill_null(0).cast(pl.UInt64))
        .with_columns(skipped_mask=pl.col("skipped_mask") & pl.col("blank_mask"))
        .with_columns(
            elsewhere_mask=pl.when(pl.col("reported_by").is_not_null())
            .then(pl.col("blank_mask")).otherwise(pl.lit(0, dtype=pl.UInt64)),
        )
        .with_columns(
            first=base,
            allocated=ones(pl.col("alloc_mask")).cast(pl.Int64),
            used=ones(pl.col("used_in")).cast(pl.Int64),
            blank=ones(pl.col("blank_mask")).cast(pl.Int64),
            skipped=ones(pl.col("skipped_mask")).cast(pl.Int64),
            elsewhere=ones(pl.col("elsewhere_mask")).cast(pl.Int64),
        )
        .sort("track", "booklet", "ban", "alloc_id")
    )


# ---------------------------------------------------------------------------------------------
# Filters: Selection → frames
# ---------------------------------------------------------------------------------------------


def selection_bans(data: PeriodData, sel: Selection) -> list[str] | None:
    """The BANs a BAN selection covers (a head office with its branches); None = all."""
    if sel.ban is None:
        return None
    return data.family.get(sel.ban, [sel.ban])


def key_filter(sel: Selection, bans: list[str] | None, *, ban_col: str = "ban") -> pl.Expr:
    cond = pl.lit(True)
    if bans is not None:
        cond &= pl.col(ban_col).is_in(bans)
    if sel.invoice_type is not None:
        cond &= pl.col("invoice_type") == sel.invoice_type
    if sel.track is not None:
        cond &= pl.col("track") == sel.track
    return cond


def filter_gaps(gaps: pl.DataFrame, sel: Selection, bans: list[str] | None) -> pl.DataFrame:
    cond = key_filter(sel, bans)
    if sel.till is not None:
        cond &= pl.col("tills").list.contains(pl.lit(sel.till))
    if sel.gap_kind is not None:
        cond &= pl.col("kind") == sel.gap_kind
    return gaps.filter(cond)


def filter_findings(findings: pl.DataFrame, sel: Selection, bans: list[str] | None
                    ) -> pl.DataFrame:
    cond = key_filter(sel, bans)
    if sel.till is not None:
        cond &= pl.col("machine") == sel.till
    if sel.code is not None:
        cond &= pl.col("code") == sel.code
    if sel.severity is not None:
        cond &= pl.col("severity") == sel.severity
    return findings.filter(cond)


def filter_cells(cells: pl.DataFrame, sel: Selection, bans: list[str] | None,
                 till_allocs: Iterable[int] = ()) -> pl.DataFrame:
    """Allocation booklets of the selection. A till selects the allocations handed to it and
    those it issued from."""
    cond = key_filter(sel, bans)
    if sel.till is not None:
        cond &= (pl.col("machine") == sel.till) | pl.col("alloc_id").is_in(list(till_allocs))
    return cells.filter(cond)


def filter_issuing(issuing: pl.DataFrame, sel: Selection, bans: list[str] | None
                   ) -> pl.DataFrame:
    """Invoices per seller, till, track and day. They carry no type (the track is the type's
    within a period): BAN, track and till apply."""
    cond = pl.lit(True)
    if bans is not None:
        cond &= pl.col("seller_ban").is_in(bans)
    if sel.track is not None:
        cond &= pl.col("track") == sel.track
    if sel.till is not None:
        cond &= pl.col("machine") == sel.till
    return issuing.filter(cond)


def selection_summary(cells: pl.DataFrame, period: str) -> pl.DataFrame:
    """The summary (SUMMARY_SCHEMA) of some allocation booklets, per BAN / type / track."""
    keys = ["head_ban", "ban", "invoice_type", "track"]
    if cells.is_empty():
        return pl.DataFrame(schema=SUMMARY_SCHEMA)
    return (
        cells.group_by(keys)
        .agg(pl.col("allocated", "used", "blank", "skipped", "elsewhere").sum())
        .with_columns(
            period=pl.lit(period),
            reported_elsewhere="elsewhere",
            utilisation=(pl.col("used") / pl.col("allocated")).round(4),
        )
        .select(list(SUMMARY_SCHEMA))
        .cast(pl.Schema(SUMMARY_SCHEMA))
        .sort("head_ban", "ban", "invoice_type", "track")
    )


_MAP_KEYS = ("ban", "track", "booklet")
_MASKS = ("alloc_mask", "used_in", "blank_mask", "skipped_mask", "elsewhere_mask")


def map_cells(cells: pl.DataFrame, track: str | None) -> pl.DataFrame:
    """One row per booklet (50 numbers) of a track, or of every track (None), in track and
    number order. `cells` come sorted by track, booklet, BAN (booklet_cells)."""
    if track is not None:
        cells = cells.filter(pl.col("track") == track)
    # Most booklets lie in one allocation: merge only when one is split between allocations
    # (the whole period's 40,000 booklets would otherwise go through a group-by on every redraw).
    split = cells.select(pl.all_horizontal(
        pl.col(k) == pl.col(k).shift(1) for k in _MAP_KEYS).any()).item()
    merged = (cells.group_by(*_MAP_KEYS, maintain_order=True).agg(pl.col(*_MASKS).bitwise_or())
              if split else cells.select(*_MAP_KEYS, *_MASKS))
    return (
        merged.with_columns(
            first=pl.col("booklet") * BOOKLET_SIZE,
            allocated=pl.col("alloc_mask").bitwise_count_ones().cast(pl.Int64),
            used=pl.col("used_in").bitwise_count_ones().cast(pl.Int64),
            skipped=pl.col("skipped_mask").bitwise_count_ones().cast(pl.Int64),
            blank=pl.col("blank_mask").bitwise_count_ones().cast(pl.Int64),
        )
    )


def sort_frame(df: pl.DataFrame, sort: str | None, descending: bool, keys: Sequence[str]
               ) -> pl.DataFrame:
    """Sort by one column, ties in the table's natural order. Severity sorts by rank."""
    by = [k for k in keys if k in df.columns]
    if sort is not None and sort in df.columns:
        by = [sort, *[k for k in by if k != sort]]
    if not by:
        return df
    exprs = [
        pl.col(c).replace_strict(SEVERITY_RANK, default=9, return_dtype=pl.Int8)
        if c == "severity" else pl.col(c)
        for c in by
    ]
    desc = [descending if i == 0 and sort is not None else False for i in range(len(by))]
    return df.sort(exprs, descending=desc, nulls_last=True)


def page_of(df: pl.DataFrame, view: TableView, keys: Sequence[str]) -> tuple[pl.DataFrame, int]:
    """The rows of one page (sorted) and the number of pages (at least 1)."""
    pages = max(1, math.ceil(df.height / view.page_size))
    page = min(max(view.page, 0), pages - 1)
    ordered = sort_frame(df, view.sort, view.descending, keys)
    return ordered.slice(page * view.page_size, view.page_size), pages


def booklet_numbers(cells: pl.DataFrame, ban: str, track: str, booklet: int) -> pl.DataFrame:
    """The 50 numbers of one booklet: state (used / skipped / blank / elsewhere / not
    allocated) and the till of the allocation that holds it."""
    rows = cells.filter((pl.col("ban") == ban) & (pl.col("track") == track)
                        & (pl.col("booklet") == booklet))
    alloc = used = skipped = elsewhere = 0
    till: dict[int, str] = {}
    for a, u, s, e, machine in rows.select("alloc_mask", "used_in", "skipped_mask",
                                           "elsewhere_mask", "machine").iter_rows():
        alloc |= a
        used |= u
        skipped |= s
        elsewhere |= e
        for k in range(BOOKLET_SIZE):
            if machine is not None and a >> k & 1:
                till[k] = machine
    states = []
    for k in range(BOOKLET_SIZE):
        if not alloc >> k & 1:
            states.append("not allocated")
        elif used >> k & 1:
            states.append("used")
        elif skipped >> k & 1:
            states.append("skipped")
        elif elsewhere >> k & 1:
            states.append("elsewhere")
        else:
            states.append("blank")
    first = booklet * BOOKLET_SIZE
    return pl.DataFrame(
        {
            "invoice_number": [f"{track}{first + k:08d}" for k in range(BOOKLET_SIZE)],
            "state": states,
            "allocation_till": [till.get(k) for k in range(BOOKLET_SIZE)],
        },
        schema={"invoice_number": pl.String, "state": pl.String, "allocation_till": pl.String},
    )
