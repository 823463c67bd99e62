"""`ExplorerUI`: the ipywidgets layer — controls and outputs that call the Explorer and redraw
only what a change affects."""

from __future__ import annotations

import html
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from ..report import html_table
from .drawing import (
    booklet_caption,
    booklet_key,
    booklet_labels,
    default_booklet,
    map_title,
    numbers_html,
    page_caption,
)
from .filters import (
    ALL,
    FINDING_COLUMNS,
    FINDING_KEYS,
    FINDING_SORTS,
    GAP_COLUMNS,
    GAP_KEYS,
    GAP_SORTS,
    PAGE_SIZES,
    Selection,
    TableView,
    page_of,
)

# ---------------------------------------------------------------------------------------------
# The widget layer
# ---------------------------------------------------------------------------------------------

if TYPE_CHECKING:
    from .explorer import Explorer


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
        import ipywidgets as widgets

        self.explorer = explorer
        self.out_dir = Path(out_dir)
        self.timing = _Timing()
        self._busy = False
        self._shown: dict[str, Any] = {}
        wide = widgets.Layout(width="240px")
        dd = widgets.Dropdown

        def control(name: str, description: str) -> widgets.Dropdown:
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
                      description="Sort", layout=widgets.Layout(width="210px"),
                      style={"description_width": "40px"})
            desc = widgets.ToggleButton(value=False, description="descending",
                                        layout=widgets.Layout(width="110px"))
            page = widgets.BoundedIntText(value=1, min=1, max=1, description="Page",
                                          layout=widgets.Layout(width="140px"),
                                          style={"description_width": "40px"})
            size = dd(options=list(PAGE_SIZES), value=25, description="Rows",
                      layout=widgets.Layout(width="130px"), style={"description_width": "40px"})
            out = widgets.HTML()
            for w, name in ((sort, "sort"), (desc, "desc"), (page, "page"), (size, "size"),
                            (out, "table")):
                w.add_class(f"bt-{prefix}-{name}")
            return sort, desc, page, size, out

        (self.gap_sort, self.gap_desc, self.gap_page, self.gap_page_size,
         self.gap_table) = table_controls("gap", GAP_SORTS)
        (self.finding_sort, self.finding_desc, self.finding_page, self.finding_page_size,
         self.finding_table) = table_controls("finding", FINDING_SORTS)
        self.gap_pages = widgets.HTML()
        self.finding_pages = widgets.HTML()

        self.usage_chart = widgets.HTML()
        self.usage_chart.add_class("bt-usage-chart")
        self.issuing_chart = widgets.HTML()
        self.issuing_chart.add_class("bt-issuing-chart")
        self.map_chart = widgets.HTML()  # what the map shows; the map itself is the grid
        self.map_chart.add_class("bt-map-chart")
        from .grid import BookletGrid

        self.map_grid = BookletGrid()
        self.map_grid.add_class("bt-map-grid")
        self.map_page = widgets.BoundedIntText(value=1, min=1, max=1, description="Map page",
                                               layout=widgets.Layout(width="170px"))
        self.map_page.add_class("bt-map-page")
        self.booklet = dd(description="Booklet", layout=widgets.Layout(width="520px"),
                          style={"description_width": "60px"})
        self.booklet.add_class("bt-booklet")
        self.numbers = widgets.HTML()
        self.numbers.add_class("bt-numbers")
        self.status = widgets.HTML()
        self.status.add_class("bt-status")

        self.out_dir_text = widgets.Text(value=str(self.out_dir), description="Out dir",
                                         layout=widgets.Layout(width="420px"))
        self.export_button = widgets.Button(description="Write exports", icon="download",
                                            button_style="primary")
        self.export_button.add_class("bt-export")
        self.progress = widgets.IntProgress(value=0, min=0, max=3, description="Exports",
                                            layout=widgets.Layout(width="300px"))
        self.export_status = widgets.HTML()
        self.export_button.on_click(lambda _b: self.write_exports())

        self._opening = selection
        self._booklets = pl.DataFrame()
        self._map_pages = 1
        self._dropped: list[str] = []  # filters a change made inapplicable (shown in the status)
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
        self.map_grid.observe(self._on_grid, names="selected")

        self.widget = widgets.VBox([
            widgets.HTML("<b>Selection</b>"),
            widgets.HBox([self.period, self.ban, self.invoice_type, self.track]),
            widgets.HBox([self.till, self.code, self.severity, self.gap_kind]),
            self.status,
            widgets.Tab(children=[
                widgets.VBox([widgets.HBox([self.gap_sort, self.gap_desc, self.gap_page, self.gap_pages,
                                self.gap_page_size]), self.gap_table]),
                widgets.VBox([widgets.HBox([self.finding_sort, self.finding_desc, self.finding_page,
                                self.finding_pages, self.finding_page_size]),
                        self.finding_table]),
            ], titles=("Gaps", "Findings")),
            widgets.HTML("<b>Utilisation per track</b>"), self.usage_chart,
            widgets.HTML("<b>Booklet map</b>"), widgets.HBox([self.map_page, self.booklet]),
            self.map_chart, self.map_grid, self.numbers,
            widgets.HTML("<b>Issuing per till</b>"), self.issuing_chart,
            widgets.HBox([self.out_dir_text, self.export_button, self.progress]), self.export_status,
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

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        """The live widgets and, in the same output, the opening selection as static tables and
        charts: a front end with widgets (JupyterLab) shows the widgets only; one without (an
        archived run's HTML, nbconvert, a viewer) shows the static copy. So the default
        selection is shown once, whichever it is."""
        bundle = dict(self.widget._repr_mimebundle_(**kwargs))
        bundle["text/html"] = self.explorer.static_html(self._opening)
        return bundle

    # -- option cascade ---------------------------------------------------------------------

    def _set_options(self, sel: Selection, first: bool = False) -> None:
        """Refresh the options of every filter for `sel`; values that vanish become (all)."""
        self._busy = True
        self._dropped = []
        try:
            opts = self.explorer.options(sel)
            self.period.options = [(p, p) for p in opts["period"]]
            self.period.value = sel.period
            for name in ("ban", "invoice_type", "track", "till", "code", "severity", "gap_kind"):
                w = getattr(self, name)
                choices = _choices(opts[name])
                value = getattr(sel, name)
                if value not in opts[name]:
                    if value is not None:  # said in the status, not dropped silently
                        self._dropped.append(f"{w.description} {value}")
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

    def _on_grid(self, change: dict[str, Any]) -> None:
        """A click on a booklet of the map: drill into its 50 numbers."""
        if not self._busy and change["new"] >= 0 and change["new"] != self.booklet.value:
            self.booklet.value = change["new"]

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
                self.explorer.gaps(sel), GAP_KEYS, GAP_COLUMNS, self.gap_table, self.gap_page,
                self.gap_pages)
        else:
            frame, keys, cols, out, page, pages_label = (
                self.explorer.findings(sel), FINDING_KEYS, FINDING_COLUMNS, self.finding_table,
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
        caption = page_caption("gaps" if which == "gap" else "findings", frame.height, current,
                                view.page_size)
        pages_label.value = f"of {pages}"
        self._show(out, which, html_table(rows.select(cols), caption=caption))

    def _draw_map(self, sel: Selection) -> None:
        page = self.map_page.value - 1
        booklets, track, pages = self.explorer.booklet_map(sel, page)
        self._booklets = booklets
        self._map_pages = pages
        self._busy = True
        try:
            self.map_page.max = pages
            names = booklet_labels(booklets)
            labels = list(zip(names, range(len(names)), strict=True))
            pick = default_booklet(booklets)
            if list(self.booklet.options) != labels:
                self.booklet.options = labels
            self.booklet.value = pick
            self.map_grid.show(booklets, names, pick)
        finally:
            self._busy = False
        title = map_title(booklets, track, min(page, pages - 1), pages)
        self._show(self.map_chart, "map",
                   f"<p>{html.escape(title)}. Click a booklet to see its 50 numbers.</p>")

    def _draw_booklet(self, sel: Selection) -> None:
        i = self.booklet.value
        self._busy = True
        try:
            self.map_grid.selected = -1 if i is None else i
        finally:
            self._busy = False
        if i is None or self._booklets.is_empty():
            self._show(self.numbers, "numbers", "<p><em>No booklet selected.</em></p>")
            return
        numbers = self.explorer.numbers(sel, *booklet_key(self._booklets, i))
        self._show(self.numbers, "numbers",
                   numbers_html(numbers, booklet_caption(self._booklets, i)))

    def _draw_status(self, sel: Selection) -> None:
        r = self.explorer.result(sel.period)
        summary = self.explorer.summary(sel)
        a, u, b, s = (int(summary[c].sum()) for c in ("allocated", "used", "blank", "skipped"))
        dropped = ""
        if self._dropped:
            dropped = (f" <b>{html.escape(', '.join(self._dropped))}: not in this selection, "
                       f"now {ALL}.</b>")
        self.status.value = (
            f"<p>{html.escape(r.period.label)}: {a} number(s) allocated, {u} used, {b} blank "
            f"({s} skipped) in the selection; {r.error_count} error finding(s) in the period."
            f"{dropped} <small>Issuing per till shows the BAN and till filters only (invoices "
            f"per day carry no track).</small></p>")

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
            self.export_status.value += _listing(written, Path(self.out_dir_text.value)
                                                 / sel.slug())
            return written
        except Exception as exc:
            self.progress.bar_style = "danger"
            self.export_status.value = (f'<p style="color:#b00020">Exports failed: '
                                        f"{html.escape(str(exc))}</p>")
            raise
        finally:
            self.export_button.disabled = False


def _listing(written: Sequence[Path], folder: Path) -> str:
    """The files an export wrote, with their size: what is where."""
    files = pl.DataFrame(
        {"file": [p.relative_to(folder).as_posix() for p in written],
         "bytes": [p.stat().st_size for p in written]},
        schema={"file": pl.String, "bytes": pl.Int64},
    )
    return html_table(files, caption=f"written to {folder}")
