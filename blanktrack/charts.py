"""Static charts as SVG text: they render in an archived notebook or HTML with no network.

Charts are drawn from aggregates only (the summary and the per-day issuing counts), never from
invoice rows, so they cost the same for a thousand invoices or a hundred million.

The SVG is written directly (no plotting library: importing and running one cost more than the
rest of the notebook's report). The output has no XML prologue (it sits inside HTML), no ids, no
scripts, links or web fonts, and the same data always gives the same bytes. Text that comes from
the data (BANs, till names) is XML-escaped.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from html import escape

import polars as pl

COLOURS = {"used": "#4c78a8", "skipped": "#e45756", "blank": "#bab0ac", "elsewhere": "#eeca3b"}
MAX_TRACKS = 40  # a taller chart stops being readable; the table has the rest
MAX_TILLS = 12

# one colour per till, in order: matplotlib's tab10 without its grey (kept for "other tills"),
# then the dark tones of tab20b
TILL_COLOURS = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22",
    "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173",
)
OTHER_COLOUR = "#7f7f7f"

WIDTH = 760  # px; the notebook's output area and the explorer's panes are about this wide
# Latin first (its digits are narrower), then fonts with Traditional Chinese for the labels
FONT = ("DejaVu Sans, Arial, Noto Sans CJK TC, Noto Sans TC, Microsoft JhengHei, PingFang TC, "
        "Heiti TC, sans-serif")
INK, MUTED, GRID, AXIS = "#222", "#555", "#e6e6e6", "#888"
MARKERS_BELOW = 20  # a series with fewer points gets a dot on each


# ---------------------------------------------------------------------------------------------
# SVG text helpers
# ---------------------------------------------------------------------------------------------


def _esc(text: object) -> str:
    """XML text / attribute value: & < > " (and ') escaped."""
    return escape(str(text), quote=True)


def _n(value: float) -> str:
    """A coordinate: at most 2 decimals, no float noise, no '-0'."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _text_width(text: str, size: float) -> float:
    """Rough width of `text` in px at `size` (DejaVu Sans / Arial metrics, a little generous):
    enough to lay out margins and legends without measuring fonts."""
    em = 0.0
    for ch in text:
        if ord(ch) >= 0x2E80:  # CJK and other wide scripts
            em += 1.0
        elif ch in "fijlrt.,:;|!' ()[]-":
            em += 0.38
        elif ch in "mwMW@%":
            em += 0.95
        elif ch.isupper():
            em += 0.72
        else:  # digits and most lower case
            em += 0.64
    return em * size


def _clip(text: str, size: float, width: float) -> str:
    """`text`, cut with an ellipsis to fit `width` px."""
    if _text_width(text, size) <= width:
        return text
    while text and _text_width(text + "…", size) > width:
        text = text[:-1]
    return text + "…"


def _text(x: float, y: float, text: str, *, size: float = 12, anchor: str = "start",
          colour: str = INK, extra: str = "", tip: str | None = None) -> str:
    """A <text> element; `tip` is shown on hover (the full text of a cut label)."""
    anchor_attr = "" if anchor == "start" else f' text-anchor="{anchor}"'
    size_attr = "" if size == 12 else f' font-size="{_n(size)}"'
    fill_attr = "" if colour == INK else f' fill="{colour}"'
    title = "" if tip is None else f"<title>{_esc(tip)}</title>"
    return (f'<text x="{_n(x)}" y="{_n(y)}"{anchor_attr}{size_attr}{fill_attr}{extra}>'
            f"{_esc(text)}{title}</text>")


def _segment(x1: float, y1: float, x2: float, y2: float, attrs: str = "") -> str:
    """A <line> element; `attrs` (with a leading space) as given."""
    return f'<line x1="{_n(x1)}" y1="{_n(y1)}" x2="{_n(x2)}" y2="{_n(y2)}"{attrs}/>'


def _svg(width: float, height: float, body: Iterable[str]) -> str:
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{_n(width)}" height="{_n(height)}" '
            f'viewBox="0 0 {_n(width)} {_n(height)}" font-family="{FONT}" font-size="12" '
            f'fill="{INK}">')
    background = f'<rect width="{_n(width)}" height="{_n(height)}" fill="#fff"/>'
    return "\n".join([head, background, *body, "</svg>"]) + "\n"


def _empty(message: str, title: str) -> str:
    height = 90
    return _svg(WIDTH, height, [
        _text(WIDTH / 2, 22, title, size=14, anchor="middle"),
        _text(WIDTH / 2, 58, message, size=12, anchor="middle", colour=MUTED),
    ])


def _ticks(top: float, most: int) -> list[int]:
    """Round tick values from 0 to at least `top` (whole numbers: the charts count numbers and
    invoices), at most `most` intervals."""
    if top <= 0:
        return [0, 1]
    raw = top / most
    mag = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    step: float = 10 * mag
    for m in (1, 2, 2.5, 5):
        candidate = m * mag
        if candidate >= raw and candidate == int(candidate):
            step = candidate
            break
    whole = max(1, int(step))
    return list(range(0, whole * math.ceil(top / whole) + 1, whole))


def _count(value: int) -> str:
    return f"{value:,}"


# ---------------------------------------------------------------------------------------------
# Utilisation per track
# ---------------------------------------------------------------------------------------------

USAGE_TITLE = "各字軌號碼 numbers per track: used / skipped / blank"
USAGE_SERIES = (  # (COLOURS key, legend label)
    ("used", "已使用 used"), ("skipped", "跳號 skipped"), ("blank", "空白 blank (reported)"),
    ("elsewhere", "他系統申報 blank (other system)"),
)


def usage_svg(summary: pl.DataFrame, max_tracks: int = MAX_TRACKS) -> str:
    """Utilisation per BAN / type / track: used, skipped, other blank and other-system blank
    numbers as stacked bars (the largest `max_tracks` tracks), from the summary aggregates."""
    if summary.is_empty():
        return _empty("no allocation in this selection", USAGE_TITLE)
    data = (
        summary.sort(["allocated", "ban", "invoice_type", "track"],
                     descending=[True, False, False, False]).head(max_tracks)
        .sort("ban", "invoice_type", "track")
        .select(
            label=pl.format("{} {} {}", pl.col("ban").cast(pl.String).fill_null("None"),
                            pl.col("invoice_type").cast(pl.String).fill_null("None"),
                            pl.col("track").cast(pl.String).fill_null("None")),
            used=pl.col("used"),
            skipped=pl.col("skipped"),
            blank=pl.max_horizontal(
                pl.col("blank") - pl.col("skipped") - pl.col("reported_elsewhere"), 0),
            elsewhere=pl.col("reported_elsewhere"),
        )
        .with_columns(pl.col("used", "skipped", "blank", "elsewhere").fill_null(0).clip(0))
    )
    title = USAGE_TITLE
    if summary.height > max_tracks:
        title += f" (largest {max_tracks} of {summary.height} tracks)"

    n = data.height
    small = n > 15
    band = 18 if small else 26  # px per bar
    bar = 13 if small else 18
    label_size = 11 if small else 12
    labels = data["label"].to_list()
    label_width = max(_text_width(s, label_size) for s in labels)
    left = min(max(90, label_width + 16), WIDTH * 0.4)
    right = 28  # room for the last tick label
    top, bottom = 62, 48
    plot_w = WIDTH - left - right
    plot_h = n * band
    height = top + plot_h + bottom

    widest = data.select(pl.sum_horizontal("used", "skipped", "blank", "elsewhere").max()).item()
    ticks = _ticks(int(widest or 0), most=7)
    scale = plot_w / ticks[-1]

    out = [_text(WIDTH / 2, 20, title, size=14, anchor="middle")]
    out += _usage_legend(WIDTH / 2, 40)
    # grid and x axis
    axis_y = top + plot_h
    out.append(f'<g stroke="{GRID}" stroke-width="1">')
    out += [_segment(left + t * scale, top, left + t * scale, axis_y) for t in ticks[1:]]
    out.append("</g>")
    # bars: one group per track, segments left to right in the legend's order
    for i, (label, *values) in enumerate(
            data.select("label", "used", "skipped", "blank", "elsewhere").iter_rows()):
        y = top + i * band + (band - bar) / 2
        x = left
        segments = []
        for (key, name), value in zip(USAGE_SERIES, values, strict=True):
            if value <= 0:
                continue
            w = value * scale
            segments.append(
                f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(w)}" height="{_n(bar)}" '
                f'fill="{COLOURS[key]}"><title>{_esc(label)}: {_count(value)} {name}</title></rect>')
            x += w
        out.append(f'<g class="bar">{"".join(segments)}</g>')
        out.append(_text(left - 8, y + bar / 2 + label_size * 0.35, label, size=label_size,
                         anchor="end"))
    out.append(_segment(left, top, left, axis_y, f' stroke="{AXIS}"'))
    out.append(_segment(left, axis_y, left + plot_w, axis_y, f' stroke="{AXIS}"'))
    out.append(f'<g stroke="{AXIS}">')
    out += [_segment(left + t * scale, axis_y, left + t * scale, axis_y + 4) for t in ticks]
    out.append("</g>")
    out += [_text(left + t * scale, axis_y + 17, _count(t), size=11, anchor="middle",
                  colour=MUTED) for t in ticks]
    out.append(_text(left + plot_w / 2, axis_y + 38, "號碼數 numbers", anchor="middle"))
    return _svg(WIDTH, height, out)


def _usage_legend(centre: float, y: float) -> list[str]:
    """The four segment kinds in one centred row under the title."""
    widths = [14 + 5 + _text_width(name, 11) + 16 for _, name in USAGE_SERIES]
    x = centre - sum(widths) / 2
    out = []
    for (key, name), w in zip(USAGE_SERIES, widths, strict=True):
        out.append(f'<rect x="{_n(x)}" y="{_n(y - 9)}" width="14" height="10" '
                   f'fill="{COLOURS[key]}"/>')
        out.append(_text(x + 19, y, name, size=11))
        x += w
    return out


# ---------------------------------------------------------------------------------------------
# Issuing per day and till
# ---------------------------------------------------------------------------------------------

ISSUING_TITLE = "各機台每日開立 issuing over the period, per till"
OTHER_TILLS = "其他機台 other tills"


def _date_ticks(first: dt.date, last: dt.date) -> tuple[list[dt.date], str]:
    """Tick dates between first and last (at most about 10) and their strftime format."""
    span = (last - first).days
    days = [first + dt.timedelta(days=k) for k in range(span + 1)]
    if span <= 10:
        return days, "%m-%d"
    if span <= 20:
        return days[::2], "%m-%d"
    if span <= 75:
        return [d for d in days if d.day in (1, 8, 15, 22)], "%m-%d"
    if span <= 150:
        return [d for d in days if d.day in (1, 15)], "%m-%d"
    months = [d for d in days if d.day == 1]
    every = max(1, math.ceil(len(months) / 12))
    return months[::every], "%Y-%m"


def issuing_svg(issuing: pl.DataFrame, max_tills: int = MAX_TILLS) -> str:
    """Invoices issued per day and till (the largest tills; the rest as 'other tills'), drawn
    from the per-day counts; a day a till issued nothing counts zero."""
    issuing = issuing.filter(pl.col("invoice_date").is_not_null())
    if issuing.is_empty():
        return _empty("no invoice dated in the period", ISSUING_TITLE)
    per_till = issuing.with_columns(
        till=pl.format("{} {}", pl.col("seller_ban"), pl.col("machine").fill_null("(no till)"))
    )
    top_tills = (
        per_till.group_by("till").agg(pl.col("invoices").sum())
        .sort(["invoices", "till"], descending=[True, False]).head(max_tills)["till"]
    )
    shown = pl.col("till").is_in(top_tills.implode())
    daily = (
        per_till.with_columns(other=~shown,
                              till=pl.when(shown).then("till").otherwise(pl.lit(OTHER_TILLS)))
        .group_by("other", "till", "invoice_date").agg(pl.col("invoices").sum().cast(pl.Int64))
        .sort("other", "till", "invoice_date")  # tills by name, "other tills" last
    )
    first, last = daily["invoice_date"].min(), daily["invoice_date"].max()
    assert isinstance(first, dt.date) and isinstance(last, dt.date)
    # A day without invoices is a zero on the line, not a day the line skips over.
    every_day = pl.DataFrame({"invoice_date": pl.date_range(first, last, "1d", eager=True)})
    daily = (
        daily.select("other", "till").unique().join(every_day, how="cross")
        .join(daily, on=["other", "till", "invoice_date"], how="left")
        .with_columns(pl.col("invoices").fill_null(0))
        .sort("other", "till", "invoice_date")
    )
    span = max((last - first).days, 1)
    series: list[tuple[str, bool, list[int], list[int]]] = [
        (till, other, ((rows["invoice_date"] - first).dt.total_days()).to_list(),
         rows["invoices"].to_list())
        for (other, till), rows in daily.group_by("other", "till", maintain_order=True)
    ]

    # layout
    busiest = daily.select(pl.col("invoices").max()).item()
    yticks = _ticks(int(busiest or 0) * 1.04, most=6)  # lines clear the top
    left = max(56, _text_width(_count(yticks[-1]), 11) + 34)
    right = 24
    top, plot_h = 56, 260
    plot_w = WIDTH - left - right
    axis_y = top + plot_h
    pad = 8 if (last - first).days else plot_w / 2  # one day: a dot in the middle
    xs = (plot_w - 2 * pad) / span if (last - first).days else 0.0
    ys = plot_h / yticks[-1]

    def px(day: int) -> float:
        return left + pad + day * xs

    def py(value: int) -> float:
        return axis_y - value * ys

    dticks, fmt = _date_ticks(first, last)
    dxs = [px((d - first).days) for d in dticks]
    # legend columns as wide as the longest name needs, at most half the plot
    col_w = min(plot_w / 2, max(_text_width(till, 11) for till, *_ in series) + 28 + 36)
    legend_top = axis_y + 62
    legend_rows = math.ceil(len(series) / 2)
    height = legend_top + legend_rows * 18 + 6

    out = [_text(WIDTH / 2, 22, ISSUING_TITLE, size=14, anchor="middle")]
    # grid
    out.append(f'<g stroke="{GRID}" stroke-width="1">')
    out += [_segment(left, py(t), left + plot_w, py(t)) for t in yticks[1:]]
    out += [_segment(x, top, x, axis_y) for x in dxs]
    out.append("</g>")
    # axes, ticks, labels
    out.append(f'<path d="M{_n(left)} {_n(top)}V{_n(axis_y)}H{_n(left + plot_w)}" fill="none" '
               f'stroke="{AXIS}"/>')
    out.append(f'<g stroke="{AXIS}">')
    out += [_segment(left - 4, py(t), left, py(t)) for t in yticks]
    out += [_segment(x, axis_y, x, axis_y + 4) for x in dxs]
    out.append("</g>")
    out += [_text(left - 7, py(t) + 4, _count(t), size=11, anchor="end", colour=MUTED)
            for t in yticks]
    out += [_text(x, axis_y + 17, d.strftime(fmt), size=11, anchor="middle", colour=MUTED)
            for x, d in zip(dxs, dticks, strict=True)]
    ylabel_x, ylabel_y = 16, top + plot_h / 2
    out.append(_text(ylabel_x, ylabel_y, "每日發票張數 invoices per day", anchor="middle",
                     extra=f' transform="rotate(-90 {_n(ylabel_x)} {_n(ylabel_y)})"'))
    dates = (f"{first.isoformat()} to {last.isoformat()}" if first != last
             else first.isoformat())
    out.append(_text(left + plot_w / 2, axis_y + 38, f"日期 date ({dates})", anchor="middle"))
    # one line per till
    colours = _till_colours([(till, other) for till, other, _, _ in series])
    for (till, _other, days, counts), (colour, dash) in zip(series, colours, strict=True):
        points = " ".join(f"{_n(px(d))},{_n(py(c))}" for d, c in zip(days, counts, strict=True))
        dash_attr = ' stroke-dasharray="5 3"' if dash else ""
        out.append(f'<g class="till"><title>{_esc(till)}</title>'
                   f'<polyline points="{points}" fill="none" stroke="{colour}" '
                   f'stroke-width="1.5" stroke-linejoin="round"{dash_attr}/>')
        if len(days) < MARKERS_BELOW:
            out.append(f'<g fill="{colour}">' + "".join(
                f'<circle cx="{_n(px(d))}" cy="{_n(py(c))}" r="2.5"/>'
                for d, c in zip(days, counts, strict=True)) + "</g>")
        out.append("</g>")
    # legend under the axis, two columns, filled down the first column then the second
    out += _issuing_legend(series, colours, left, legend_top, col_w)
    return _svg(WIDTH, height, out)


def _till_colours(tills: Sequence[tuple[str, bool]]) -> list[tuple[str, bool]]:
    """(colour, dashed) per line: the till colours in turn, grey dashed for the other tills."""
    result, k = [], 0
    for _, other in tills:
        if other:
            result.append((OTHER_COLOUR, True))
        else:
            result.append((TILL_COLOURS[k % len(TILL_COLOURS)], False))
            k += 1
    return result


def _issuing_legend(series: Sequence[tuple[str, bool, list[int], list[int]]],
                    colours: Sequence[tuple[str, bool]], left: float, top: float,
                    col_w: float) -> list[str]:
    rows = math.ceil(len(series) / 2)
    out = []
    for i, ((till, _, days, _), (colour, dash)) in enumerate(zip(series, colours, strict=True)):
        x = left + (i // rows) * col_w
        y = top + (i % rows) * 18
        dash_attr = ' stroke-dasharray="5 3"' if dash else ""
        out.append(_segment(x, y - 4, x + 22, y - 4,
                            f' stroke="{colour}" stroke-width="2"{dash_attr}'))
        if len(days) < MARKERS_BELOW:
            out.append(f'<circle cx="{_n(x + 11)}" cy="{_n(y - 4)}" r="2.5" fill="{colour}"/>')
        shown = _clip(till, 11, col_w - 40)
        out.append(_text(x + 28, y, shown, size=11, tip=till if shown != till else None))
    return out
