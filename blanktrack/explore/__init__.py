"""The explore workbook: look at one period live in JupyterLab (notebooks/explore.ipynb).

Two layers:

- Pure functions on polars frames: a `Selection` (period, BAN, invoice type, track, till, finding
  code, severity, gap kind) and a `TableView` (sort, page) go in, filtered frames and SVG text come
  out. They work on the Reconciliation's aggregates only (blank ranges, skipped runs, findings, one
  row per allocation booklet, invoices per till and day), never on invoice rows, so a control
  change costs the same for a thousand invoices or ten million.
- `ExplorerUI`: ipywidgets controls and HTML outputs, a thin layer that calls the functions above
  when a control changes and redraws only the parts whose inputs changed; the booklet map is a
  clickable grid (`BookletGrid`, an anywidget).

Displayed, an ExplorerUI carries the widgets and `Explorer.static_html()` of its opening selection
in one output: JupyterLab shows the widgets; headless runs (papermill, nbconvert, nbval) and
viewers without widgets show the plain HTML tables and SVG charts, which stand alone in an
archived notebook.
"""

from .drawing import booklet_label, booklet_map_svg, default_booklet, map_title, numbers_html
from .explorer import Explorer, View
from .filters import (
    ALL,
    FINDING_COLUMNS,
    GAP_COLUMNS,
    MAP_MAX_BOOKLETS,
    NUMBER_STATES,
    PeriodData,
    Selection,
    TableView,
    booklet_cells,
    booklet_numbers,
    filter_findings,
    filter_gaps,
    filter_issuing,
    gap_frame,
    map_cells,
    page_of,
    selection_bans,
    selection_summary,
    sort_frame,
)
from .ui import ExplorerUI

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
    "numbers_html",
    "page_of",
    "selection_bans",
    "selection_summary",
    "sort_frame",
]

