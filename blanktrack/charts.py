"""Static charts as SVG text: they render in an archived notebook or HTML with no network.

Charts are drawn from aggregates only (the summary and the per-day issuing counts), never from
invoice rows, so they cost the same for a thousand invoices or a hundred million.
"""

from __future__ import annotations

import io

import matplotlib
import polars as pl
from matplotlib.figure import Figure

COLOURS = {"used": "#4c78a8", "skipped": "#e45756", "blank": "#bab0ac", "elsewhere": "#eeca3b"}
MAX_TRACKS = 40  # a taller chart stops being readable; the table has the rest
MAX_TILLS = 12


def svg_text(fig: Figure) -> str:
    """SVG text with fixed ids and no date (the same data gives the same bytes), without the XML
    prologue so it can sit inside HTML."""
    # text as <text>, not glyph paths: half the bytes and faster to draw (no CJK in chart text)
    with matplotlib.rc_context({"svg.hashsalt": "blanktrack", "svg.fonttype": "none"}):
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None})
    text = buf.getvalue()
    return text[text.index("<svg"):]


def usage_svg(summary: pl.DataFrame, max_tracks: int = MAX_TRACKS) -> str:
    """Utilisation per BAN / type / track: used, skipped, other blank and other-system blank
    numbers as stacked bars (the largest `max_tracks` tracks), from the summary aggregates."""
    data = summary.sort(["allocated", "ban", "invoice_type", "track"],
                        descending=[True, False, False, False]).head(max_tracks).sort(
        "ban", "invoice_type", "track", descending=True)
    n = max(data.height, 1)
    height = 1.1 + 0.26 * n
    fig = Figure(figsize=(8, height))
    fig.subplots_adjust(left=0.2, right=0.97, top=1 - 0.45 / height, bottom=0.5 / height)
    ax = fig.add_subplot()
    if data.is_empty():
        ax.text(0.5, 0.5, "no allocation in this selection", ha="center", va="center")
        ax.set_axis_off()
        return svg_text(fig)
    labels = [f"{b} {t} {k}" for b, t, k in data.select("ban", "invoice_type", "track").iter_rows()]
    other = data["blank"] - data["skipped"] - data["reported_elsewhere"]
    left = [0] * data.height
    for name, values, label in (
        ("used", data["used"], "used"), ("skipped", data["skipped"], "skipped"),
        ("blank", other, "blank (reported)"),
        ("elsewhere", data["reported_elsewhere"], "blank (other system)"),
    ):
        vals = values.to_list()
        ax.barh(labels, vals, left=left, color=COLOURS[name], label=label)
        left = [a + b for a, b in zip(left, vals, strict=True)]
    ax.tick_params(axis="y", labelsize=7 if n > 15 else 9)
    ax.set_xlabel("numbers")
    title = "Numbers per track: used / skipped / blank"
    if summary.height > max_tracks:
        title += f" (largest {max_tracks} of {summary.height} tracks)"
    ax.set_title(title, fontsize=10)
    ax.legend(loc="lower right", fontsize="x-small")
    return svg_text(fig)


def issuing_svg(issuing: pl.DataFrame, max_tills: int = MAX_TILLS) -> str:
    """Invoices issued per day and till (the largest tills; the rest as 'other tills'), drawn
    from the per-day counts."""
    fig = Figure(figsize=(8, 3.5))
    fig.subplots_adjust(left=0.09, right=0.98, top=0.9, bottom=0.2)
    ax = fig.add_subplot()
    if issuing.is_empty():
        ax.text(0.5, 0.5, "no invoice dated in the period", ha="center", va="center")
        ax.set_axis_off()
        return svg_text(fig)
    per_till = issuing.with_columns(
        till=pl.format("{} {}", pl.col("seller_ban"), pl.col("machine").fill_null("(no till)"))
    )
    top = (
        per_till.group_by("till").agg(pl.col("invoices").sum())
        .sort(["invoices", "till"], descending=[True, False]).head(max_tills)["till"]
    )
    daily = (
        per_till.with_columns(
            till=pl.when(pl.col("till").is_in(top.implode())).then("till")
            .otherwise(pl.lit("other tills")))
        .group_by("till", "invoice_date").agg(pl.col("invoices").sum())
        .sort("till", "invoice_date")
    )
    for (till,), rows in daily.group_by("till", maintain_order=True):
        ax.plot(rows["invoice_date"].to_list(), rows["invoices"].to_list(), label=str(till),
                linewidth=1.2, marker="." if rows.height < 20 else None)
    ax.set_ylabel("invoices per day")
    ax.set_title("Issuing over the period, per till")
    ax.legend(fontsize="x-small", ncol=2)
    fig.autofmt_xdate()
    return svg_text(fig)
