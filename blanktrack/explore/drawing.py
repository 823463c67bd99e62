"""Drawing for the explore workbook: the booklet map (SVG), a booklet's 50 numbers (HTML) and
captions."""

from __future__ import annotations

import html
import io
import math
import warnings
from collections.abc import Mapping
from typing import Any

import matplotlib
import polars as pl
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from .. import charts
from ..schemas import BOOKLET_SIZE
from .filters import MAP_COLUMNS, NUMBER_STATES, STATE_COLOURS

# ---------------------------------------------------------------------------------------------
# Rendering: frames → HTML / SVG text
# ---------------------------------------------------------------------------------------------


_USED_CMAP = LinearSegmentedColormap.from_list("used", ["#f2f2f2", charts.COLOURS["used"]])


def svg_text(fig: Figure) -> str:
    """SVG text with fixed ids and no date (the same data gives the same bytes), without the XML
    prologue so it can sit inside HTML."""
    # text as <text>, not glyph paths: half the bytes and faster to draw. The browser draws it
    # with its own fonts (a title may hold 字軌); matplotlib only measures it, with DejaVu, and
    # would warn that DejaVu has no CJK glyph.
    with matplotlib.rc_context({"svg.hashsalt": "blanktrack", "svg.fonttype": "none"}), \
            warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .* missing from font",
                                category=UserWarning)
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None})
    text = buf.getvalue()
    return text[text.index("<svg"):]


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
        return svg_text(fig)
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
    tracks = booklets["track"].to_list()
    step = max(1, math.ceil(nrows / 20))
    rows = list(range(0, nrows, step))
    ax.set_yticks([r + 0.5 for r in rows],
                  [f"#{offset + r * ncols + 1} {tracks[r * ncols]}{firsts[r * ncols]:08d}" for r in rows],
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
    return svg_text(fig)


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




def page_caption(what: str, total: int, page: int, size: int) -> str:
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


def booklet_key(booklets: pl.DataFrame, i: int) -> tuple[str, str, int]:
    ban, track, booklet = booklets.select("ban", "track", "booklet").row(i)
    return ban, track, booklet


def booklet_label(row: Mapping[str, Any]) -> str:
    first = row["first"]
    return (f"{row['track']}{first:08d}–{first + BOOKLET_SIZE - 1:08d} {row['ban']}: used "
            f"{row['used']}/{row['allocated']}" + (f", {row['skipped']} skipped"
                                                   if row["skipped"] else ""))


def booklet_labels(booklets: pl.DataFrame) -> list[str]:
    """`#1 ` + booklet_label of every row, numbered from 1, computed as one polars expression
    (a map page holds up to 2,000 booklets)."""
    def number(expr: pl.Expr) -> pl.Expr:
        return expr.cast(pl.String).str.zfill(8)

    return booklets.with_row_index("i", offset=1).select(pl.format(
        "#{} {}{}–{} {}: used {}/{}{}", "i", "track", number(pl.col("first")),
        number(pl.col("first") + BOOKLET_SIZE - 1), "ban", "used", "allocated",
        pl.when(pl.col("skipped") > 0).then(pl.format(", {} skipped", "skipped"))
        .otherwise(pl.lit("")),
    )).to_series().to_list()


def booklet_caption(booklets: pl.DataFrame, i: int) -> str:
    return f"Booklet #{i + 1}: " + booklet_label(booklets.row(i, named=True))


def map_title(booklets: pl.DataFrame, track: str | None, page: int, pages: int) -> str:
    """What the map shows: `booklets` is the page shown."""
    if booklets.is_empty():
        return "Booklet map: no booklet"
    more = f" (page {page + 1} of {pages})" if pages > 1 else ""
    shown = booklets["track"].unique(maintain_order=True).to_list()
    if track is None and len(shown) > 1:  # every track, one after the other
        what = f"字軌 tracks {shown[0]}–{shown[-1]}"
    else:
        what = f"字軌 track {track or shown[0]}"
    return (f"{what}: {booklets.height} booklet(s){more}; colour = share used, "
            "red frame = skipped numbers")
