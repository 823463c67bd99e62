"""`BookletGrid`: the live booklet map, one cell per booklet, that a person clicks to drill into
its 50 numbers. An anywidget: the browser draws the cells from three short lists (share used,
skipped, label) and sends back the index clicked, so a page of 2,000 booklets redraws without
drawing a picture in the kernel."""

from __future__ import annotations

import anywidget
import polars as pl
import traitlets

from .. import charts
from .filters import MAP_COLUMNS

_ESM = """
function colour(share) {  // #f2f2f2 (nothing used) to the charts' "used" blue
  const a = [0xf2, 0xf2, 0xf2], b = %(used)s;
  return `rgb(${a.map((v, i) => Math.round(v + (b[i] - v) * share / 100)).join(",")})`;
}
function render({ model, el }) {
  el.classList.add("bt-grid");
  const draw = () => {
    const used = model.get("used"), skipped = model.get("skipped"), labels = model.get("labels");
    const selected = model.get("selected"), columns = model.get("columns");
    const size = used.length > 500 ? 9 : (used.length > 100 ? 13 : (used.length > 20 ? 18 : 26));
    const grid = document.createElement("div");
    grid.style.cssText = `display:grid;grid-template-columns:repeat(${columns},${size}px);` +
      `gap:1px;background:#fff;padding:2px;width:max-content`;
    used.forEach((share, i) => {
      const cell = document.createElement("div");
      cell.className = "bt-grid-cell" + (i === selected ? " bt-grid-selected" : "");
      cell.dataset.index = i;
      cell.title = labels[i];
      cell.style.cssText = `width:${size}px;height:${size}px;box-sizing:border-box;` +
        `cursor:pointer;background:${colour(share)};` +
        (i === selected ? "outline:2px solid #000;outline-offset:-1px;" :
         (skipped[i] ? "border:2px solid %(skipped)s;" : ""));
      grid.appendChild(cell);
    });
    grid.addEventListener("click", (event) => {
      const index = event.target.dataset && event.target.dataset.index;
      if (index === undefined) return;
      model.set("selected", Number(index));
      model.save_changes();
    });
    el.replaceChildren(grid);
  };
  draw();
  for (const name of ["used", "skipped", "labels", "selected", "columns"]) {
    model.on(`change:${name}`, draw);
  }
}
export default { render };
"""


def _rgb(colour: str) -> str:
    return "[" + ", ".join(str(int(colour[i:i + 2], 16)) for i in (1, 3, 5)) + "]"


class BookletGrid(anywidget.AnyWidget):
    """One clickable cell per booklet of a map page; `selected` is the row clicked (or set)."""

    _esm = _ESM % {"used": _rgb(charts.COLOURS["used"]), "skipped": charts.COLOURS["skipped"]}
    # lists without an element trait: traitlets would check 2,000 elements one by one
    used: traitlets.List[int] = traitlets.List().tag(sync=True)  # percent of allocated numbers used
    skipped: traitlets.List[bool] = traitlets.List().tag(sync=True)
    labels: traitlets.List[str] = traitlets.List().tag(sync=True)
    columns = traitlets.Int(MAP_COLUMNS).tag(sync=True)
    selected = traitlets.Int(-1).tag(sync=True)  # -1: none

    def show(self, booklets: pl.DataFrame, labels: list[str], selected: int | None) -> None:
        """The booklets of a map page (map_cells rows) and their labels, one message to the
        browser."""
        share = (booklets["used"] * 100 // booklets["allocated"].clip(1)).to_list()
        with self.hold_sync():
            self.used = share
            self.skipped = (booklets["skipped"] > 0).to_list()
            self.labels = labels
            self.columns = max(1, min(MAP_COLUMNS, booklets.height))
            self.selected = -1 if selected is None else selected
