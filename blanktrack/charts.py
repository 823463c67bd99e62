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


def _svg(fig: Figure) -> str:
    # fixed ids and no date, so the same data gives the same bytes
    with matplotlib.rc_context({"svg.hashsalt": "blanktrack", "svg.fonttype": "path"}):
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None}, bbox_inches="tight")
    return buf.getvalue()


def track_usage_svg(summary: pl.DataFrame) -> str:
    """Per BAN/type/track: used, skipped and other blank numbers, as stacked bars."""
    data = summary.sort("allocated", descending=True).head(MAX_TRACKS).sort(
        "ban", "invoice_type", "track", descending=True)
    labels = [f"{b} {t} {k}" for b, t, k in data.select("ban", "invoice_type", "track").iter_rows()]
    used = data["used"].to_list()
    skipped = data["skipped"].to_list()
    elsewhere = data["reported_elsewhere"].to_list()
    other = [b - s - e for b, s, e in zip(data["blank"], skipped, elsewhere, strict=True)]
    fig = Figure(figsize=(8, 0.8 + 0.35 * max(len(labels), 1)))
    ax = fig.add_subplot()
    left = [0] * len(labels)
    for name, values in (("used", used), ("skipped", skipped), ("blank", other),
                         ("elsewhere", elsewhere)):
        ax.barh(labels, values, left=left, color=COLOURS[name],
                label={"blank": "blank (reported)", "elsewhere": "blank (other system)"}.get(
                    name, name))
        left = [a + b for a, b in zip(left, values, strict=True)]
    ax.set_xlabel("numbers")
    title = "Numbers per track: used / skipped / blank"
    if summary.height > MAX_TRACKS:
        title += f" (largest {MAX_TRACKS} of {summary.height} tracks)"
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize="small")
    return _svg(fig)


def issuing_svg(issuing: pl.DataFrame) -> str:
    """Invoices issued per day and till over the period."""
    fig = Figure(figsize=(8, 3.5))
    ax = fig.add_subplot()
    if issuing.is_empty():
        ax.text(0.5, 0.5, "no invoice dated in the period", ha="center", va="center")
        ax.set_axis_off()
        return _svg(fig)
    per_till = issuing.with_columns(
        till=pl.format("{} {}", pl.col("seller_ban"), pl.col("machine").fill_null("(no till)"))
    )
    top = (
        per_till.group_by("till").agg(pl.col("invoices").sum())
        .sort(["invoices", "till"], descending=[True, False]).head(MAX_TILLS)["till"]
    )
    per_till = per_till.with_columns(
        till=pl.when(pl.col("till").is_in(top)).then("till").otherwise(pl.lit("other tills"))
    )
    daily = per_till.group_by("till", "invoice_date").agg(pl.col("invoices").sum()).sort(
        "till", "invoice_date")
    for till, rows in daily.group_by("till", maintain_order=True):
        ax.plot(rows["invoice_date"].to_list(), rows["invoices"].to_list(), label=till[0],
                linewidth=1.2, marker="." if rows.height < 20 else None)
    ax.set_ylabel("invoices per day")
    ax.set_title("Issuing over the period, per till")
    ax.legend(fontsize="x-small", ncol=2)
    fig.autofmt_xdate()
    return _svg(fig)
