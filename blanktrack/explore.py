"""The explore workbook: look at one period live in JupyterLab (notebooks/explore.ipynb).

Two layers:

- Pure functions on polars frames: a `Selection` (period, BAN, invoice type, track, till, finding
  code, severity, gap kind) and a `TableView` (sort, page) go in, filtered frames and SVG text come
  out. They work on the Reconciliation's aggregates only (blank ranges, skipped runs, findings, one
  row per allocation booklet, invoices per till and day), never on invoice rows, so a control
  change costs the same for a thousand invoices or ten million.
- `ExplorerUI`: ipywidgets controls and HTML outputs, a thin layer that calls the functions above
  when a control changes and redraws only the parts whose inputs changed.

Headless runs (papermill, nbconvert, nbval) show `Explorer.static_outputs()`: plain HTML tables and
SVG charts of the default selection, which stand alone in an archived notebook.
"""

from __future__ import annotations

import datetime as dt
import html
import math
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import polars as pl
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from . import charts
from .blanks import Split
from .booklets import mask_between
from .exports import write_exports
from .frames import BOOKLET_SIZE, SEVERITY_RANK, SUMMARY_SCHEMA
from .reconcile import Reconciliation, reconcile
from .report import html_table

__all__ = [
    "ALL",
    "FINDING_COLUMNS",
    "GAP_COLUMNS",
    "MAP_MAX_BOOKLETS",
    "NUMBER_STATES",
    "Explorer",
    "ExplorerUI",
    "PeriodData",
    "Selection",
    "TableView",
    "View",
    "booklet_cells",
    "booklet_label",
    "booklet_map_svg",
    "booklet_numbers",
    "default_booklet",
    "filter_findings",
    "filter_gaps",
    "filter_issuing",
    "gap_frame",
    "map_cells",
    "map_title",
    "map_track",
    "numbers_html",
    "page_of",
    "selection_bans",
    "selection_summary",
    "sort_frame",
]

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
_GAP_KEYS = ["ban", "invoice_type", "track", "begin_no", "kind", "machine"]
_FINDING_KEYS = ["severity", "code", "ban", "invoice_type", "track", "begin_no", "machine",
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
        _GAP_KEYS, nulls_last=True)


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


def _key_filter(sel: Selection, bans: list[str] | None, *, ban_col: str = "ban") -> pl.Expr:
    cond = pl.lit(True)
    if bans is not None:
        cond &= pl.col(ban_col).is_in(bans)
    if sel.invoice_type is not None:
        cond &= pl.col("invoice_type") == sel.invoice_type
    if sel.track is not None:
        cond &= pl.col("track") == sel.track
    return cond


def filter_gaps(gaps: pl.DataFrame, sel: Selection, bans: list[str] | None) -> pl.DataFrame:
    cond = _key_filter(sel, bans)
    if sel.till is not None:
        cond &= pl.col("tills").list.contains(pl.lit(sel.till))
    if sel.gap_kind is not None:
        cond &= pl.col("kind") == sel.gap_kind
    return gaps.filter(cond)


def filter_findings(findings: pl.DataFrame, sel: Selection, bans: list[str] | None
                    ) -> pl.DataFrame:
    cond = _key_filter(sel, bans)
    if sel.till is not None:
        cond &= pl.col("machine") == sel.till
    if sel.code is not None:
        cond &= pl.col("code") == sel.code
    if sel.severity is not None:
        cond &= pl.col("severity") == sel.severity
    return findings.filter(cond)


def filter_cells(cells: pl.DataFrame, sel: Selection, bans: list[str] | None,
                 skipped_allocs: Iterable[int] = ()) -> pl.DataFrame:
    """Allocation booklets of the selection. A till selects the allocations handed to it (and
    those where it skipped numbers)."""
    cond = _key_filter(sel, bans)
    if sel.till is not None:
        cond &= (pl.col("machine") == sel.till) | pl.col("alloc_id").is_in(list(skipped_allocs))
    return cells.filter(cond)


def filter_issuing(issuing: pl.DataFrame, sel: Selection, bans: list[str] | None
                   ) -> pl.DataFrame:
    """Invoices per seller, till and day. They carry no track or type: only BAN and till apply."""
    cond = pl.lit(True)
    if bans is not None:
        cond &= pl.col("seller_ban").is_in(bans)
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
        .cast(SUMMARY_SCHEMA)  # type: ignore[arg-type]
        .sort("head_ban", "ban", "invoice_type", "track")
    )


def map_track(cells: pl.DataFrame, sel: Selection) -> str | None:
    """The track the booklet map shows: the selected one, else the one with the most skipped,
    then blank numbers."""
    if sel.track is not None:
        return sel.track
    if cells.is_empty():
        return None
    per = cells.group_by("track").agg(pl.col("skipped", "blank").sum()).sort(
        ["skipped", "blank", "track"], descending=[True, True, False])
    return str(per["track"][0])


def map_cells(cells: pl.DataFrame, track: str | None) -> pl.DataFrame:
    """One row per booklet (50 numbers) of a track, in number order."""
    if track is None:
        cells = cells.head(0)
    return (
        cells.filter(pl.col("track") == track)
        .group_by("ban", "track", "booklet")
        .agg(
            pl.col("alloc_mask", "used_in", "blank_mask", "skipped_mask", "elsewhere_mask")
            .bitwise_or(),
            pl.col("machine").drop_nulls().unique().sort().str.join(", "),
        )
        .with_columns(
            first=pl.col("booklet") * BOOKLET_SIZE,
            allocated=pl.col("alloc_mask").bitwise_count_ones().cast(pl.Int64),
            used=pl.col("used_in").bitwise_count_ones().cast(pl.Int64),
            skipped=pl.col("skipped_mask").bitwise_count_ones().cast(pl.Int64),
            blank=pl.col("blank_mask").bitwise_count_ones().cast(pl.Int64),
        )
        .sort("booklet", "ban")
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


# ---------------------------------------------------------------------------------------------
# Rendering: frames → HTML / SVG text
# ---------------------------------------------------------------------------------------------


_USED_CMAP = LinearSegmentedColormap.from_list("used", ["#f2f2f2", charts.COLOURS["used"]])


def booklet_map_svg(booklets: pl.DataFrame, *, title: str, selected: int | None = None,
                    offset: int = 0) -> str:
    """Every booklet of `booklets` (map_cells rows, up to MAP_MAX_BOOKLETS) as one cell coloured
    by the share of its allocated numbers used; booklets with skipped numbers are framed red;
    `selected` (row position) is framed black. Rows of 50 booklets, labelled by first number."""
    n = booklets.height
    ncols = max(1, min(MAP_COLUMNS, n))
    nrows = max(1, math.ceil(n / ncols))
    cell = min(0.45, max(0.13, 6.0 / ncols))  # inches: large for a few booklets
    left, right, top, bottom = 1.7, 1.0, 0.45, 0.4
    axw, axh = cell * ncols, cell * nrows
    width = max(6.5, left + axw + right)
    height = top + axh + bottom
    fig = Figure(figsize=(width, height))
    ax = fig.add_axes((left / width, bottom / height, axw / width, axh / height))
    cax = fig.add_axes(((left + axw + 0.15) / width, bottom / height, 0.12 / width,
                        min(axh, 2.0) / height))
    if n == 0:
        ax.text(0.5, 0.5, "no booklet in this selection", ha="center", va="center")
        ax.set_axis_off()
        cax.set_axis_off()
        return charts.svg_text(fig)
    import numpy as np  # matplotlib's own dependency

    share = (booklets["used"] / booklets["allocated"]).to_numpy().astype(float)
    grid = np.full(nrows * ncols, np.nan)
    grid[:n] = share
    values = np.ma.masked_invalid(grid.reshape(nrows, ncols))
    # one image, not one path per cell: the SVG stays small at 2,000 booklets
    image = ax.imshow(values, cmap=_USED_CMAP, vmin=0, vmax=1, interpolation="none",
                      aspect="auto", extent=(0, ncols, nrows, 0))
    line = 0.6 if n <= 500 else 0.3
    ax.hlines(range(nrows + 1), 0, ncols, colors="white", linewidth=line)
    ax.vlines(range(ncols + 1), 0, nrows, colors="white", linewidth=line)
    skipped = np.flatnonzero(booklets["skipped"].to_numpy() > 0)
    if skipped.size:
        ax.scatter(skipped % ncols + 0.5, skipped // ncols + 0.5, s=(0.72 * cell * 72) ** 2,
                   marker="s", facecolors="none", edgecolors=charts.COLOURS["skipped"],
                   linewidths=1.0)
    if selected is not None and 0 <= selected < n:
        ax.add_patch(Rectangle((selected % ncols, selected // ncols), 1, 1, fill=False,
                               edgecolor="black", linewidth=1.8))
    ax.set_xlim(0, ncols)
    ax.set_ylim(nrows, 0)
    firsts = booklets["first"].to_list()
    track = booklets["track"][0]
    step = max(1, math.ceil(nrows / 20))
    rows = list(range(0, nrows, step))
    ax.set_yticks([r + 0.5 for r in rows],
                  [f"#{offset + r * ncols + 1} {track}{firsts[r * ncols]:08d}" for r in rows],
                  fontsize=7)
    xstep = 10 if ncols > 20 else (5 if ncols > 5 else 1)
    ax.set_xticks([c + 0.5 for c in range(0, ncols, xstep)],
                  [f"+{c}" for c in range(0, ncols, xstep)], fontsize=7)
    ax.tick_params(length=0)
    fig.suptitle(title, fontsize=9, x=0.02, y=1 - 0.12 / height, ha="left")
    if n <= 100:  # few booklets: write the used count in each cell
        for i, (used, allocated) in enumerate(booklets.select("used", "allocated").iter_rows()):
            ax.text(i % ncols + 0.5, i // ncols + 0.5, f"{used}/{allocated}", ha="center",
                    va="center", fontsize=7 if cell >= 0.3 else 5,
                    color="white" if used > allocated / 2 else "black")
    bar = fig.colorbar(image, cax=cax)
    bar.set_label("share used", fontsize=7)
    bar.ax.tick_params(labelsize=6)
    return charts.svg_text(fig)


def numbers_html(numbers: pl.DataFrame, caption: str) -> str:
    """The 50 numbers of a booklet as a 5 × 10 grid coloured by state, with a legend."""
    counts = dict(numbers.group_by("state").len().iter_rows())
    legend = " ".join(
        f'<span style="background:{STATE_COLOURS[s]};border:1px solid #999;padding:0 4px">'
        f"{html.escape(s)}</span> {counts.get(s, 0)}"
        for s in NUMBER_STATES
    )
    rows = []
    values = list(numbers.select("invoice_number", "state", "allocation_till").iter_rows())
    for r in range(0, len(values), 10):
        cells = "".join(
            f'<td title="{html.escape(num)}: {html.escape(state)}'
            f'{" (" + html.escape(till) + ")" if till else ""}" '
            f'style="background:{STATE_COLOURS[state]};padding:2px 4px;'
            f'font-family:monospace;text-align:center">{html.escape(num[-4:])}</td>'
            for num, state, till in values[r:r + 10]
        )
        head = html.escape(values[r][0]) if values else ""
        rows.append(f'<tr><th style="font-family:monospace;padding-right:6px">{head}</th>'
                    f"{cells}</tr>")
    return (f'<div class="bt-numbers"><p><b>{html.escape(caption)}</b></p><p>{legend}</p>'
            f'<table style="border-collapse:collapse" border="1">{"".join(rows)}</table></div>')


# ---------------------------------------------------------------------------------------------
# The explorer: periods, caches, the views of one selection
# ---------------------------------------------------------------------------------------------

Loader = Callable[[], Reconciliation]


@dataclass
class View:
    """Everything shown for one selection (tables as frames, charts as SVG text)."""

    selection: Selection
    gaps: pl.DataFrame
    gap_pages: int
    gap_rows: int
    findings: pl.DataFrame
    finding_pages: int
    finding_rows: int


class Explorer:
    """The periods an auditor can open, and the views of a selection.

    Build it from Reconciliations (`Explorer({'10312': result})`), from files
    (`Explorer.from_files(...)`) or from parameter files (`Explorer.from_params([...])`). A
    period given as files is reconciled the first time it is opened, then kept.
    """

    def __init__(self, periods: Mapping[str, Reconciliation | Loader], default: str | None = None,
                 cache_size: int = 64) -> None:
        if not periods:
            raise ValueError("an explorer needs at least one period")
        self._sources: dict[str, Reconciliation | Loader] = dict(sorted(periods.items()))
        self._data: dict[str, PeriodData] = {}
        self.default_period = default or next(iter(self._sources))
        if self.default_period not in self._sources:
            raise ValueError(f"period {self.default_period} is not one of {self.periods}")
        self._svg_cache: OrderedDict[tuple[Any, ...], str] = OrderedDict()
        self._cache_size = cache_size
        self._map_key: tuple[Any, ...] | None = None
        self._map: tuple[pl.DataFrame, str | None] = (pl.DataFrame(), None)

    # -- construction ----------------------------------------------------------------------

    @classmethod
    def from_result(cls, result: Reconciliation) -> Explorer:
        return cls({result.period.code: result})

    @classmethod
    def from_files(cls, period: str, allocations: Sequence[str | Path],
                   invoices: Sequence[str | Path], *, ban: str | None = None,
                   split: Split = "none", report_date: str | dt.date | None = None,
                   periods: Mapping[str, Mapping[str, Any] | str | Path] | None = None,
                   ) -> Explorer:
        """`period` from the given files (reconciled now), plus other `periods`: each a mapping
        with `allocations`, `invoices` (and optionally `ban`, `split`, `report_date`) or the path
        of a params/*.yaml file. The others are reconciled when first opened."""
        if isinstance(report_date, str):
            report_date = dt.date.fromisoformat(report_date)
        first = reconcile(period, allocations, invoices, ban=ban, split=split,
                          report_date=report_date)
        sources: dict[str, Reconciliation | Loader] = {first.period.code: first}
        for code, spec in (periods or {}).items():
            if code != first.period.code:
                sources[code] = _loader(code, spec, report_date)
        return cls(sources, default=first.period.code)

    @classmethod
    def from_params(cls, params_files: Sequence[str | Path], base_dir: Path | None = None
                    ) -> Explorer:
        """One period per params/*.yaml file; the last one opens first."""
        from .params import load_params

        sources: dict[str, Reconciliation | Loader] = {}
        last = None
        for path in params_files:
            p = load_params(path, base_dir)
            sources[p.period] = _params_loader(p)
            last = p.period
        return cls(sources, default=last)

    # -- periods ---------------------------------------------------------------------------

    @property
    def periods(self) -> list[str]:
        return list(self._sources)

    def data(self, period: str | None = None) -> PeriodData:
        code = period or self.default_period
        if code not in self._data:
            source = self._sources[code]
            result = source if isinstance(source, Reconciliation) else source()
            self._sources[code] = result
            self._data[code] = PeriodData.build(result)
        return self._data[code]

    def loaded(self, period: str) -> bool:
        """Whether the period was reconciled already (opening it again is instant)."""
        return period in self._data

    def result(self, period: str | None = None) -> Reconciliation:
        return self.data(period).result

    def selection(self, **kwargs: Any) -> Selection:
        kwargs.setdefault("period", self.default_period)
        return Selection(**kwargs)

    # -- control options (cascading: types of the BAN, tracks of the BAN and type) ----------

    def options(self, sel: Selection) -> dict[str, list[str]]:
        d = self.data(sel.period)
        allocs = d.result.allocations
        bans = selection_bans(d, sel)
        mine = allocs if bans is None else allocs.filter(pl.col("ban").is_in(bans))
        typed = mine if sel.invoice_type is None else mine.filter(
            pl.col("invoice_type") == sel.invoice_type)
        findings = d.result.findings
        tills = d.tills
        if bans is not None:
            tills = sorted(
                set(mine["machine"].drop_nulls().to_list())
                | set(d.result.issuing.filter(pl.col("seller_ban").is_in(bans))["machine"]
                      .drop_nulls().to_list())
                | set(d.gaps.filter(pl.col("ban").is_in(bans))["machine"].drop_nulls()
                      .str.split(", ").explode().to_list())
                | set(findings.filter(pl.col("ban").is_in(bans))["machine"].drop_nulls()
                      .to_list())
            )
            tills = [t for t in tills if t]
        return {
            "period": self.periods,
            "ban": sorted(set(allocs["ban"].to_list()) | set(allocs["head_ban"].to_list())),
            "invoice_type": sorted(set(mine["invoice_type"].to_list())),
            "track": sorted(set(typed["track"].to_list())),
            "till": tills,
            "code": sorted(set(findings["code"].to_list())),
            "severity": sorted(set(findings["severity"].to_list()),
                               key=lambda s: SEVERITY_RANK.get(s, 9)),
            "gap_kind": ["blank", "skipped"],
        }

    # -- views -----------------------------------------------------------------------------

    def gaps(self, sel: Selection) -> pl.DataFrame:
        d = self.data(sel.period)
        return filter_gaps(d.gaps, sel, selection_bans(d, sel))

    def findings(self, sel: Selection) -> pl.DataFrame:
        d = self.data(sel.period)
        return filter_findings(d.result.findings, sel, selection_bans(d, sel))

    def cells(self, sel: Selection) -> pl.DataFrame:
        d = self.data(sel.period)
        allocs: list[int] = []
        if sel.till is not None:
            allocs = d.result.skipped.filter(pl.col("machine") == sel.till)["alloc_id"].to_list()
        return filter_cells(d.cells, sel, selection_bans(d, sel), allocs)

    def summary(self, sel: Selection) -> pl.DataFrame:
        return selection_summary(self.cells(sel), sel.period)

    def issuing(self, sel: Selection) -> pl.DataFrame:
        d = self.data(sel.period)
        return filter_issuing(d.result.issuing, sel, selection_bans(d, sel))

    def booklet_map(self, sel: Selection, page: int = 0) -> tuple[pl.DataFrame, str | None, int]:
        """The booklets of one map page (≤ MAP_MAX_BOOKLETS), the track shown, and the number
        of pages."""
        key = (sel.period, sel.ban, sel.invoice_type, sel.track, sel.till)
        if self._map_key != key:
            cells = self.cells(sel)
            track = map_track(cells, sel)
            self._map_key, self._map = key, (map_cells(cells, track), track)
        booklets, track = self._map
        pages = max(1, math.ceil(booklets.height / MAP_MAX_BOOKLETS))
        page = min(max(page, 0), pages - 1)
        return booklets.slice(page * MAP_MAX_BOOKLETS, MAP_MAX_BOOKLETS), track, pages

    def numbers(self, sel: Selection, ban: str, track: str, booklet: int) -> pl.DataFrame:
        return booklet_numbers(self.data(sel.period).cells, ban, track, booklet)

    def view(self, sel: Selection, gap_view: TableView = TableView(),
             finding_view: TableView = TableView()) -> View:
        gaps = self.gaps(sel)
        findings = self.findings(sel)
        gp, gn = page_of(gaps, gap_view, _GAP_KEYS)
        fp, fn = page_of(findings, finding_view, _FINDING_KEYS)
        return View(sel, gp.select(GAP_COLUMNS), gn, gaps.height, fp.select(FINDING_COLUMNS), fn,
                    findings.height)

    # -- charts (SVG text, cached per input) ------------------------------------------------

    def _cached(self, key: tuple[Any, ...], make: Callable[[], str]) -> str:
        if key in self._svg_cache:
            self._svg_cache.move_to_end(key)
            return self._svg_cache[key]
        svg = make()
        self._svg_cache[key] = svg
        if len(self._svg_cache) > self._cache_size:
            self._svg_cache.popitem(last=False)
        return svg

    def usage_svg(self, sel: Selection) -> str:
        """Utilisation per track: used / skipped / blank numbers (stacked bars)."""
        key = ("usage", sel.period, sel.ban, sel.invoice_type, sel.track, sel.till)
        return self._cached(key, lambda: charts.usage_svg(self.summary(sel)))

    def issuing_svg(self, sel: Selection) -> str:
        """Invoices per day and till (BAN and till filters apply; invoices per day carry no
        track)."""
        key = ("issuing", sel.period, sel.ban, sel.till)
        return self._cached(key, lambda: charts.issuing_svg(self.issuing(sel)))

    def map_svg(self, sel: Selection, page: int = 0, selected: int | None = None) -> str:
        key = ("map", sel.period, sel.ban, sel.invoice_type, sel.track, sel.till, page, selected)

        def make() -> str:
            booklets, track, pages = self.booklet_map(sel, page)
            return booklet_map_svg(booklets, title=map_title(booklets, track, page, pages),
                                   selected=selected, offset=page * MAP_MAX_BOOKLETS)

        return self._cached(key, make)

    # -- exports ---------------------------------------------------------------------------

    def selection_result(self, sel: Selection) -> Reconciliation:
        """The Reconciliation cut to the selection's BAN, type and track. Till, finding and gap
        filters do not cut an export: the platform replaces a whole track per upload, so a track
        is always exported whole."""
        d = self.data(sel.period)
        r = d.result
        bans = selection_bans(d, sel)
        key = _key_filter(sel, bans)
        if sel.ban is None and sel.invoice_type is None and sel.track is None:
            return r
        allocs = r.allocations.filter(key)
        ids = allocs["alloc_id"]
        period_wide = pl.col("ban").is_null() & pl.col("track").is_null()
        return replace(
            r,
            allocations=allocs,
            booklets=r.booklets.filter(pl.col("alloc_id").is_in(ids.implode())),
            blank_ranges=r.blank_ranges.filter(key),
            skipped=r.skipped.filter(key),
            findings=r.findings.filter(key | period_wide),
            summary=r.summary.filter(key),
            issuing=r.issuing if bans is None else r.issuing.filter(
                pl.col("seller_ban").is_in(bans)),
        )

    def export(self, sel: Selection, out_dir: str | Path,
               progress: Callable[[int, int, str], None] | None = None) -> list[Path]:
        """Write the exports (MOF CSVs, E0402, findings.csv, summary.csv) of the selection into
        out_dir/<selection slug>/; report progress as (step, steps, what)."""
        steps = 3
        say = progress or (lambda _i, _n, _what: None)
        say(0, steps, "selecting")
        cut = self.selection_result(sel)
        target = Path(out_dir) / sel.slug()
        say(1, steps, f"writing to {target}")
        written = write_exports(cut, target)
        say(2, steps, "checking")
        missing = [p for p in written if not p.is_file()]
        if missing:
            raise RuntimeError(f"exports missing after writing: {missing}")
        say(3, steps, f"{len(written)} file(s) written to {target}")
        return written

    # -- headless output --------------------------------------------------------------------

    def static_html(self, sel: Selection | None = None, rows: int = 25) -> str:
        """Tables and charts of a selection as one self-contained HTML fragment (no widgets)."""
        sel = sel or self.selection()
        v = self.view(sel, TableView(page_size=rows), TableView(page_size=rows))
        booklets, _, _ = self.booklet_map(sel)
        pick = default_booklet(booklets)
        parts = [
            f"<h3>Explore {html.escape(sel.label())}</h3>",
            f"<h4>Gaps: {v.gap_rows} (blank ranges and skipped numbers)</h4>",
            html_table(v.gaps, caption=_page_caption("gaps", v.gap_rows, 0, rows)),
            f"<h4>Findings: {v.finding_rows}</h4>",
            html_table(v.findings, caption=_page_caption("findings", v.finding_rows, 0, rows)),
            "<h4>Utilisation per track</h4>", self.usage_svg(sel),
            "<h4>Booklet map</h4>", self.map_svg(sel, 0, pick),
        ]
        if pick is not None:
            parts.append(numbers_html(self.numbers(sel, *_booklet_key(booklets, pick)),
                                      booklet_caption(booklets, pick)))
        parts += ["<h4>Issuing per till</h4>", self.issuing_svg(sel)]
        return "".join(parts)

    def static_outputs(self, sel: Selection | None = None) -> list[Any]:
        """IPython display objects of the default selection, for archived notebooks."""
        from IPython.display import HTML

        return [HTML(self.static_html(sel))]

    def ui(self, out_dir: str | Path = "out/explore", **selection: Any) -> ExplorerUI:
        return ExplorerUI(self, out_dir=out_dir, selection=self.selection(**selection))


def _loader(code: str, spec: Mapping[str, Any] | str | Path, report_date: dt.date | None
            ) -> Loader:
    if isinstance(spec, str | Path):
        from .params import load_params

        return _params_loader(load_params(spec))

    def load() -> Reconciliation:
        rd = spec.get("report_date", report_date)
        if isinstance(rd, str):
            rd = dt.date.fromisoformat(rd)
        return reconcile(code, spec["allocations"], spec["invoices"], ban=spec.get("ban"),
                         split=spec.get("split", "none"), report_date=rd)

    return load


def _params_loader(p: Any) -> Loader:
    def load() -> Reconciliation:
        return reconcile(p.period, p.allocations, p.invoices, ban=p.ban, split=p.split,
                         report_date=p.report_date)

    return load


def _page_caption(what: str, total: int, page: int, size: int) -> str:
    if total == 0:
        return f"{what}: none"
    lo = page * size + 1
    return f"{what} {lo}–{min(total, lo + size - 1)} of {total}"


def default_booklet(booklets: pl.DataFrame) -> int | None:
    """The booklet the drill-down opens on: the first with skipped numbers, else the first
    partly used, else the first."""
    if booklets.is_empty():
        return None
    for cond in (pl.col("skipped") > 0, (pl.col("used") > 0) & (pl.col("blank") > 0)):
        hit = booklets.with_row_index("i").filter(cond)
        if not hit.is_empty():
            return int(hit["i"][0])
    return 0


def _booklet_key(booklets: pl.DataFrame, i: int) -> tuple[str, str, int]:
    ban, track, booklet = booklets.select("ban", "track", "booklet").row(i)
    return ban, track, booklet


def booklet_label(row: Mapping[str, Any]) -> str:
    first = row["first"]
    return (f"{row['track']}{first:08d}–{first + BOOKLET_SIZE - 1:08d} {row['ban']}: used "
            f"{row['used']}/{row['allocated']}" + (f", {row['skipped']} skipped"
                                                   if row["skipped"] else ""))


def booklet_caption(booklets: pl.DataFrame, i: int) -> str:
    return f"Booklet #{i + 1}: " + booklet_label(booklets.row(i, named=True))


def map_title(booklets: pl.DataFrame, track: str | None, page: int, pages: int) -> str:
    if track is None:
        return "Booklet map: no booklet"
    total = booklets.height
    more = f" (page {page + 1} of {pages})" if pages > 1 else ""
    return (f"Track {track}: {total} booklet(s){more}; colour = share used, "
            "red frame = skipped numbers")


# ---------------------------------------------------------------------------------------------
# The widget layer
# ---------------------------------------------------------------------------------------------


def _choices(values: Sequence[str]) -> list[tuple[str, str]]:
    # a real value for "all": ipywidgets 8 shows a None value as no selection at all
    return [(ALL, ALL), *[(v, v) for v in values]]


def _or_none(value: str) -> str | None:
    return None if value in (ALL, "") else value


@dataclass
class _Timing:
    parts: dict[str, float] = field(default_factory=dict)
    total: float = 0.0


class ExplorerUI:
    """ipywidgets controls over an Explorer. Every control change redraws the parts whose inputs
    changed; `timing` says how long the last redraw took, per part."""

    def __init__(self, explorer: Explorer, *, out_dir: str | Path, selection: Selection) -> None:
        import ipywidgets as W

        self.explorer = explorer
        self.out_dir = Path(out_dir)
        self.timing = _Timing()
        self._busy = False
        self._shown: dict[str, Any] = {}
        wide = W.Layout(width="240px")
        dd = W.Dropdown

        def control(name: str, description: str) -> W.Dropdown:
            w = dd(description=description, layout=wide, style={"description_width": "80px"})
            w.add_class(f"bt-{name.replace('_', '-')}")
            return w

        self.period = control("period", "Period")
        self.ban = control("ban", "BAN")
        self.invoice_type = control("invoice_type", "Type")
        self.track = control("track", "Track")
        self.till = control("till", "Till")
        self.code = control("code", "Finding")
        self.severity = control("severity", "Severity")
        self.gap_kind = control("gap_kind", "Gaps")
        self.filters = [self.period, self.ban, self.invoice_type, self.track, self.till,
                        self.code, self.severity, self.gap_kind]

        # tables: sort column, direction, page, page size
        def table_controls(prefix: str, sorts: list[str]) -> tuple[Any, Any, Any, Any, Any]:
            sort = dd(options=[("natural order", ""), *[(s, s) for s in sorts]],
                      description="Sort", layout=W.Layout(width="210px"),
                      style={"description_width": "40px"})
            desc = W.ToggleButton(value=False, description="descending",
                                  layout=W.Layout(width="110px"))
            page = W.BoundedIntText(value=1, min=1, max=1, description="Page",
                                    layout=W.Layout(width="140px"),
                                    style={"description_width": "40px"})
            size = dd(options=list(PAGE_SIZES), value=25, description="Rows",
                      layout=W.Layout(width="130px"), style={"description_width": "40px"})
            out = W.HTML()
            for w, name in ((sort, "sort"), (desc, "desc"), (page, "page"), (size, "size"),
                            (out, "table")):
                w.add_class(f"bt-{prefix}-{name}")
            return sort, desc, page, size, out

        (self.gap_sort, self.gap_desc, self.gap_page, self.gap_page_size,
         self.gap_table) = table_controls("gap", GAP_SORTS)
        (self.finding_sort, self.finding_desc, self.finding_page, self.finding_page_size,
         self.finding_table) = table_controls("finding", FINDING_SORTS)
        self.gap_pages = W.HTML()
        self.finding_pages = W.HTML()

        self.usage_chart = W.HTML()
        self.usage_chart.add_class("bt-usage-chart")
        self.issuing_chart = W.HTML()
        self.issuing_chart.add_class("bt-issuing-chart")
        self.map_chart = W.HTML()
        self.map_chart.add_class("bt-map-chart")
        self.map_page = W.BoundedIntText(value=1, min=1, max=1, description="Map page",
                                         layout=W.Layout(width="170px"))
        self.map_page.add_class("bt-map-page")
        self.booklet = dd(description="Booklet", layout=W.Layout(width="520px"),
                          style={"description_width": "60px"})
        self.booklet.add_class("bt-booklet")
        self.numbers = W.HTML()
        self.numbers.add_class("bt-numbers")
        self.status = W.HTML()
        self.status.add_class("bt-status")

        self.out_dir_text = W.Text(value=str(self.out_dir), description="Out dir",
                                   layout=W.Layout(width="420px"))
        self.export_button = W.Button(description="Write exports", icon="download",
                                      button_style="primary")
        self.export_button.add_class("bt-export")
        self.progress = W.IntProgress(value=0, min=0, max=3, description="Exports",
                                      layout=W.Layout(width="300px"))
        self.export_status = W.HTML()
        self.export_button.on_click(lambda _b: self.write_exports())

        self._booklets = pl.DataFrame()
        self._map_pages = 1
        self._set_options(selection, first=True)
        self._redraw(("all",))

        for w in self.filters:
            w.observe(self._on_filter, names="value")
        for w in (self.gap_sort, self.gap_desc, self.gap_page, self.gap_page_size):
            w.observe(lambda _c: self._on_table("gap"), names="value")
        for w in (self.finding_sort, self.finding_desc, self.finding_page,
                  self.finding_page_size):
            w.observe(lambda _c: self._on_table("finding"), names="value")
        self.map_page.observe(self._on_map_page, names="value")
        self.booklet.observe(self._on_booklet, names="value")

        self.widget = W.VBox([
            W.HTML("<b>Selection</b>"),
            W.HBox([self.period, self.ban, self.invoice_type, self.track]),
            W.HBox([self.till, self.code, self.severity, self.gap_kind]),
            self.status,
            W.Tab(children=[
                W.VBox([W.HBox([self.gap_sort, self.gap_desc, self.gap_page, self.gap_pages,
                                self.gap_page_size]), self.gap_table]),
                W.VBox([W.HBox([self.finding_sort, self.finding_desc, self.finding_page,
                                self.finding_pages, self.finding_page_size]),
                        self.finding_table]),
            ], titles=("Gaps", "Findings")),
            W.HTML("<b>Utilisation per track</b>"), self.usage_chart,
            W.HTML("<b>Booklet map</b>"), W.HBox([self.map_page, self.booklet]),
            self.map_chart, self.numbers,
            W.HTML("<b>Issuing per till</b>"), self.issuing_chart,
            W.HBox([self.out_dir_text, self.export_button, self.progress]), self.export_status,
        ])
        self.widget.add_class("bt-explorer")

    # -- state ----------------------------------------------------------------------------

    @property
    def selection(self) -> Selection:
        return Selection(
            period=self.period.value, ban=_or_none(self.ban.value),
            invoice_type=_or_none(self.invoice_type.value), track=_or_none(self.track.value),
            till=_or_none(self.till.value), code=_or_none(self.code.value),
            severity=_or_none(self.severity.value), gap_kind=_or_none(self.gap_kind.value),
        )

    def table_view(self, which: str) -> TableView:
        sort, desc, page, size = (
            (self.gap_sort, self.gap_desc, self.gap_page, self.gap_page_size) if which == "gap"
            else (self.finding_sort, self.finding_desc, self.finding_page,
                  self.finding_page_size))
        return TableView(_or_none(sort.value), desc.value, page.value - 1, size.value)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    # -- option cascade ---------------------------------------------------------------------

    def _set_options(self, sel: Selection, first: bool = False) -> None:
        """Refresh the options of every filter for `sel`; values that vanish become (all)."""
        self._busy = True
        try:
            opts = self.explorer.options(sel)
            self.period.options = [(p, p) for p in opts["period"]]
            self.period.value = sel.period
            for name in ("ban", "invoice_type", "track", "till", "code", "severity", "gap_kind"):
                w = getattr(self, name)
                choices = _choices(opts[name])
                value = getattr(sel, name)
                if value not in opts[name]:
                    value = None
                if first or list(w.options) != choices:
                    w.options = choices
                w.value = ALL if value is None else value
                if name in ("ban", "invoice_type"):  # later options depend on these
                    sel = replace(sel, **{name: value})
                    opts = self.explorer.options(sel)
        finally:
            self._busy = False

    # -- events ---------------------------------------------------------------------------

    def _on_filter(self, change: dict[str, Any]) -> None:
        if self._busy:
            return
        owner = change["owner"]
        if owner is self.period and not self.explorer.loaded(change["new"]):
            self.status.value = (f"<p>Loading period {html.escape(str(change['new']))}: "
                                 "reconciling its files…</p>")
        if owner in (self.period, self.ban, self.invoice_type):
            self._set_options(self.selection)
        self._busy = True
        try:
            for page in (self.gap_page, self.finding_page, self.map_page):
                page.value = 1
        finally:
            self._busy = False
        self._redraw(("all",))

    def _on_table(self, which: str) -> None:
        if not self._busy:
            self._redraw((which,))

    def _on_map_page(self, _change: dict[str, Any]) -> None:
        if not self._busy:
            self._redraw(("map",))

    def _on_booklet(self, _change: dict[str, Any]) -> None:
        if not self._busy:
            self._redraw(("booklet",))

    # -- drawing --------------------------------------------------------------------------

    def _timed(self, name: str, fn: Callable[[], None]) -> None:
        t = time.perf_counter()
        fn()
        self.timing.parts[name] = self.timing.parts.get(name, 0.0) + time.perf_counter() - t

    def _redraw(self, what: tuple[str, ...]) -> None:
        start = time.perf_counter()
        self.timing = _Timing()
        sel = self.selection
        parts = set(what)
        if "all" in parts:
            parts = {"gap", "finding", "usage", "map", "issuing", "status"}
        if "map" in parts:
            parts.add("booklet")
        if "gap" in parts:
            self._timed("gaps", lambda: self._draw_table("gap", sel))
        if "finding" in parts:
            self._timed("findings", lambda: self._draw_table("finding", sel))
        if "usage" in parts:
            self._timed("usage", lambda: self._show(self.usage_chart, "usage",
                                                    self.explorer.usage_svg(sel)))
        if "issuing" in parts:
            self._timed("issuing", lambda: self._show(self.issuing_chart, "issuing",
                                                      self.explorer.issuing_svg(sel)))
        if "map" in parts:
            self._timed("map", lambda: self._draw_map(sel))
        if "booklet" in parts:
            self._timed("booklet", lambda: self._draw_booklet(sel))
        if "status" in parts:
            self._timed("status", lambda: self._draw_status(sel))
        self.timing.total = time.perf_counter() - start

    def _show(self, widget: Any, name: str, value: str) -> None:
        """Set a widget's HTML only when it changed (no needless traffic to the browser)."""
        if self._shown.get(name) != value:
            widget.value = value
            self._shown[name] = value

    def _draw_table(self, which: str, sel: Selection) -> None:
        view = self.table_view(which)
        if which == "gap":
            frame, keys, cols, out, page, pages_label = (
                self.explorer.gaps(sel), _GAP_KEYS, GAP_COLUMNS, self.gap_table, self.gap_page,
                self.gap_pages)
        else:
            frame, keys, cols, out, page, pages_label = (
                self.explorer.findings(sel), _FINDING_KEYS, FINDING_COLUMNS, self.finding_table,
                self.finding_page, self.finding_pages)
        rows, pages = page_of(frame, view, keys)
        self._busy = True
        try:
            page.max = pages
            if page.value > pages:
                page.value = pages
        finally:
            self._busy = False
        current = min(view.page, pages - 1)
        caption = _page_caption("gaps" if which == "gap" else "findings", frame.height, current,
                                view.page_size)
        pages_label.value = f"of {pages}"
        self._show(out, which, html_table(rows.select(cols), caption=caption))

    def _draw_map(self, sel: Selection) -> None:
        booklets, _, pages = self.explorer.booklet_map(sel, self.map_page.value - 1)
        self._booklets = booklets
        self._map_pages = pages
        self._busy = True
        try:
            self.map_page.max = pages
            labels = [(f"#{i + 1} " + booklet_label(r), i)
                      for i, r in enumerate(booklets.iter_rows(named=True))]
            pick = default_booklet(booklets)
            if list(self.booklet.options) != labels:
                self.booklet.options = labels
            self.booklet.value = pick
        finally:
            self._busy = False

    def _draw_booklet(self, sel: Selection) -> None:
        i = self.booklet.value
        page = self.map_page.value - 1
        self._show(self.map_chart, "map", self.explorer.map_svg(sel, page, i))
        if i is None or self._booklets.is_empty():
            self._show(self.numbers, "numbers", "<p><em>No booklet selected.</em></p>")
            return
        numbers = self.explorer.numbers(sel, *_booklet_key(self._booklets, i))
        self._show(self.numbers, "numbers",
                   numbers_html(numbers, booklet_caption(self._booklets, i)))

    def _draw_status(self, sel: Selection) -> None:
        r = self.explorer.result(sel.period)
        summary = self.explorer.summary(sel)
        a, u, b, s = (int(summary[c].sum()) for c in ("allocated", "used", "blank", "skipped"))
        self.status.value = (
            f"<p>{html.escape(r.period.label)}: {a} number(s) allocated, {u} used, {b} blank "
            f"({s} skipped) in the selection; {r.error_count} error finding(s) in the period. "
            f"<small>Issuing per till shows the BAN and till filters only (invoices per day "
            f"carry no track).</small></p>")

    # -- exports --------------------------------------------------------------------------

    def write_exports(self) -> list[Path]:
        """What the button does: write the exports of the current selection, with progress."""
        sel = self.selection
        self.export_button.disabled = True

        def progress(i: int, n: int, what: str) -> None:
            self.progress.max = n
            self.progress.value = i
            self.export_status.value = f"<p>{html.escape(what)}</p>"

        try:
            written = self.explorer.export(sel, self.out_dir_text.value, progress)
            self.progress.bar_style = "success"
            return written
        except Exception as exc:
            self.progress.bar_style = "danger"
            self.export_status.value = (f'<p style="color:#b00020">Exports failed: '
                                        f"{html.escape(str(exc))}</p>")
            raise
        finally:
            self.export_button.disabled = False

