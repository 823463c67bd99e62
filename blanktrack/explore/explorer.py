"""`Explorer`: one or more periods' reconciliations with cached views for the workbook."""

from __future__ import annotations

import datetime as dt
import html
import math
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from .. import charts
from ..blanks import Split
from ..exports import write_exports
from ..reconcile import Reconciliation, reconcile
from ..report import html_table
from ..schemas import SEVERITY_RANK
from .drawing import (
    booklet_caption,
    booklet_key,
    booklet_map_svg,
    default_booklet,
    map_title,
    numbers_html,
    page_caption,
)
from .filters import (
    DEFAULT_VIEW,
    FINDING_COLUMNS,
    FINDING_KEYS,
    GAP_COLUMNS,
    GAP_KEYS,
    MAP_MAX_BOOKLETS,
    PeriodData,
    Selection,
    TableView,
    booklet_numbers,
    filter_cells,
    filter_findings,
    filter_gaps,
    filter_issuing,
    key_filter,
    map_cells,
    page_of,
    selection_bans,
    selection_summary,
)

if TYPE_CHECKING:
    from .ui import ExplorerUI


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
        from ..params import load_params

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
        if sel.till is not None:  # every allocation the till issued from
            allocs = d.result.segments.filter(pl.col("machine") == sel.till)["alloc_id"].to_list()
        return filter_cells(d.cells, sel, selection_bans(d, sel), allocs)

    def summary(self, sel: Selection) -> pl.DataFrame:
        return selection_summary(self.cells(sel), sel.period)

    def issuing(self, sel: Selection) -> pl.DataFrame:
        d = self.data(sel.period)
        return filter_issuing(d.result.issuing, sel, selection_bans(d, sel))

    def booklet_map(self, sel: Selection, page: int = 0) -> tuple[pl.DataFrame, str | None, int]:
        """The booklets of one map page (≤ MAP_MAX_BOOKLETS), the track shown (None: every
        track, one after the other), and the number of pages."""
        key = (sel.period, sel.ban, sel.invoice_type, sel.track, sel.till)
        if self._map_key != key:
            self._map_key, self._map = key, (map_cells(self.cells(sel), sel.track), sel.track)
        booklets, track = self._map
        pages = max(1, math.ceil(booklets.height / MAP_MAX_BOOKLETS))
        page = min(max(page, 0), pages - 1)
        return booklets.slice(page * MAP_MAX_BOOKLETS, MAP_MAX_BOOKLETS), track, pages

    def numbers(self, sel: Selection, ban: str, track: str, booklet: int) -> pl.DataFrame:
        return booklet_numbers(self.data(sel.period).cells, ban, track, booklet)

    def view(self, sel: Selection, gap_view: TableView = DEFAULT_VIEW,
             finding_view: TableView = DEFAULT_VIEW) -> View:
        gaps = self.gaps(sel)
        findings = self.findings(sel)
        gp, gn = page_of(gaps, gap_view, GAP_KEYS)
        fp, fn = page_of(findings, finding_view, FINDING_KEYS)
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
        key = ("issuing", sel.period, sel.ban, sel.track, sel.till)
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
        key = key_filter(sel, bans)
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
            issuing_unsorted=filter_issuing(r.issuing_unsorted, replace(sel, till=None), bans),
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
        slug = sel.slug().removeprefix(f"{sel.period}_")
        # a cut's upload file says so in its name: it must not be taken for the whole period's
        written = write_exports(cut, target, upload_suffix="" if slug == "all" else f"_{slug}")
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
            html_table(v.gaps, caption=page_caption("gaps", v.gap_rows, 0, rows)),
            f"<h4>Findings: {v.finding_rows}</h4>",
            html_table(v.findings, caption=page_caption("findings", v.finding_rows, 0, rows)),
            "<h4>Utilisation per track</h4>", self.usage_svg(sel),
            "<h4>Booklet map</h4>", self.map_svg(sel, 0, pick),
        ]
        if pick is not None:
            parts.append(numbers_html(self.numbers(sel, *booklet_key(booklets, pick)),
                                      booklet_caption(booklets, pick)))
        parts += ["<h4>Issuing per till</h4>", self.issuing_svg(sel)]
        return "".join(parts)

    def ui(self, out_dir: str | Path = "out/explore", **selection: Any) -> ExplorerUI:
        from .ui import ExplorerUI  # the widget layer imports this module

        return ExplorerUI(self, out_dir=out_dir, selection=self.selection(**selection))


def _loader(code: str, spec: Mapping[str, Any] | str | Path, report_date: dt.date | None
            ) -> Loader:
    if isinstance(spec, str | Path):
        from ..params import load_params

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
                         report_date=p.report_date, columns=getattr(p, "columns", None))

    return load
