"""The two report charts (blanktrack.charts): SVG text written directly, checked by parsing it."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import polars as pl
import pytest

from blanktrack import charts

NS = "{http://www.w3.org/2000/svg}"


def summary_frame(rows: list[tuple[str, str, str, int, int, int, int, int]]) -> pl.DataFrame:
    """(ban, type, track, allocated, used, blank, skipped, reported_elsewhere) rows."""
    return pl.DataFrame(
        rows, orient="row",
        schema={"ban": pl.String, "invoice_type": pl.String, "track": pl.String,
                "allocated": pl.Int64, "used": pl.Int64, "blank": pl.Int64, "skipped": pl.Int64,
                "reported_elsewhere": pl.Int64},
    ).with_columns(period=pl.lit("11302"), head_ban=pl.col("ban"),
                   utilisation=pl.col("used") / pl.col("allocated"))


def issuing_frame(rows: list[tuple[str, str | None, dt.date, int]]) -> pl.DataFrame:
    """(seller_ban, machine, invoice_date, invoices) rows."""
    return pl.DataFrame(rows, orient="row", schema={
        "seller_ban": pl.String, "machine": pl.String, "invoice_date": pl.Date,
        "invoices": pl.UInt32})


SUMMARY = summary_frame([
    ("12345675", "07", "AB", 1000, 600, 400, 20, 150),
    ("12345675", "08", "CD", 500, 100, 400, 0, 0),
    ("87654321", "07", "EF", 250, 250, 0, 0, 0),
])


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)  # well-formed XML or this raises
    assert root.tag == f"{NS}svg"
    return root


def texts(root: ET.Element) -> list[str]:
    """The visible text of every <text> (without hover titles)."""
    return [t.text or "" for t in root.iter(f"{NS}text")]


def bar_segments(root: ET.Element) -> list[list[tuple[str, float]]]:
    """Per bar (top to bottom): (tooltip, width) of each segment, left to right."""
    return [[(r.findtext(f"{NS}title") or "", float(r.get("width", "nan")))
             for r in g.iter(f"{NS}rect")]
            for g in root.iter(f"{NS}g") if g.get("class") == "bar"]


def check_frame(svg: str) -> ET.Element:
    """What every chart must be: bare <svg> with namespace, size and viewBox, nothing external."""
    assert svg.startswith("<svg ")
    assert "<?xml" not in svg and "<!DOCTYPE" not in svg
    root = parse(svg)
    width, height = float(root.get("width", "0")), float(root.get("height", "0"))
    assert width > 0 and height > 0
    assert root.get("viewBox") == f"0 0 {root.get('width')} {root.get('height')}"
    for bad in ("<script", "href", "url(", "@import", "<style", "<foreignObject", " id="):
        assert bad not in svg, bad
    # coordinates carry at most 2 decimals (no float noise)
    assert not re.search(r"\d\.\d{3,}", svg)
    return root


# ---------------------------------------------------------------------------------------------
# module
# ---------------------------------------------------------------------------------------------


def test_charts_and_report_do_not_import_matplotlib() -> None:
    code = ("import sys, blanktrack.charts, blanktrack.report; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'matplotlib'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_ipython_displays_both_charts() -> None:
    from IPython.display import SVG

    issuing = issuing_frame([("12345675", "POS-1", dt.date(2024, 1, 1), 3)])
    for svg, title in ((charts.usage_svg(SUMMARY), "各字軌號碼 numbers per track"),
                       (charts.issuing_svg(issuing), "各機台每日開立 issuing over the period")):
        shown = SVG(svg)  # parses the text and keeps the <svg> element
        assert shown.data.startswith("<svg") and title in shown.data


# ---------------------------------------------------------------------------------------------
# usage_svg
# ---------------------------------------------------------------------------------------------


def test_usage_is_deterministic_and_well_formed() -> None:
    a = charts.usage_svg(SUMMARY)
    assert a == charts.usage_svg(SUMMARY.clone())
    assert a == charts.usage_svg(SUMMARY.reverse())  # row order of the input does not matter
    root = check_frame(a)
    words = texts(root)
    assert "各字軌號碼 numbers per track: used / skipped / blank" in words
    for legend in ("已使用 used", "跳號 skipped", "空白 blank (reported)",
                   "他系統申報 blank (other system)", "號碼數 numbers"):
        assert legend in words
    # bars top to bottom by BAN / type / track
    labels = [w for w in words if re.fullmatch(r"\d{8} \d\d [A-Z]{2}", w)]
    assert labels == ["12345675 07 AB", "12345675 08 CD", "87654321 07 EF"]


def test_usage_segments_are_proportional_to_the_numbers() -> None:
    root = parse(charts.usage_svg(SUMMARY))
    bars = bar_segments(root)
    assert len(bars) == 3
    first = dict(bars[0])
    # 600 used, 20 skipped, 400 - 20 - 150 = 230 blank reported, 150 blank in the other system
    used = first["12345675 07 AB: 600 已使用 used"]
    skipped = first["12345675 07 AB: 20 跳號 skipped"]
    blank = first["12345675 07 AB: 230 空白 blank (reported)"]
    elsewhere = first["12345675 07 AB: 150 他系統申報 blank (other system)"]
    assert used / skipped == pytest.approx(30, rel=1e-3)
    assert used / blank == pytest.approx(600 / 230, rel=1e-3)
    assert used / elsewhere == pytest.approx(4, rel=1e-3)
    # segments in legend order, stacked left to right with no gap, colours from COLOURS
    rects = [r for g in root.iter(f"{NS}g") if g.get("class") == "bar" for r in g.iter(f"{NS}rect")]
    x0, fills = float(rects[0].get("x", "nan")), [r.get("fill") for r in rects[:4]]
    assert fills == [charts.COLOURS[k] for k in ("used", "skipped", "blank", "elsewhere")]
    assert float(rects[3].get("x", "nan")) == pytest.approx(x0 + used + skipped + blank, abs=0.02)
    # the same scale across bars: 250 fully used is a quarter of 1000 allocated
    assert [t for t, _ in bars[2]] == ["87654321 07 EF: 250 已使用 used"]
    assert bars[2][0][1] / sum(w for _, w in bars[0]) == pytest.approx(0.25, rel=1e-3)
    # zero segments are left out
    assert [t.split(": ")[1] for t, _ in bars[1]] == ["100 已使用 used", "400 空白 blank (reported)"]


def test_usage_x_axis_has_round_ticks_covering_the_longest_bar() -> None:
    words = texts(parse(charts.usage_svg(SUMMARY)))
    assert [w for w in words if re.fullmatch(r"[\d,]+", w)] == ["0", "200", "400", "600", "800",
                                                                 "1,000"]
    big = summary_frame([("12345675", "07", "AB", 630_000, 600_000, 30_000, 0, 0)])
    ticks = [w for w in texts(parse(charts.usage_svg(big))) if re.fullmatch(r"[\d,]+", w)]
    assert ticks[0] == "0" and ticks[1] == "100,000" and ticks[-1] == "700,000"


def test_usage_keeps_the_largest_tracks_and_says_so() -> None:
    rows = [(f"{10000000 + k:08d}", "07", "AA", 1000 + k, k, 1000, 0, 0) for k in range(50)]
    summary = summary_frame(rows)
    svg = charts.usage_svg(summary, max_tracks=10)
    root = check_frame(svg)
    assert "各字軌號碼 numbers per track: used / skipped / blank (largest 10 of 50 tracks)" in texts(root)
    labels = [w for w in texts(root) if w.endswith(" 07 AA")]
    assert labels == [f"{10000000 + k:08d} 07 AA" for k in range(40, 50)]
    assert len(bar_segments(root)) == 10
    # the chart grows with the bars
    assert float(root.get("height", "0")) > float(parse(charts.usage_svg(summary.head(3))).get(
        "height", "0"))
    assert "largest" not in charts.usage_svg(summary.head(10), max_tracks=10)
    assert "(largest 40 of 50 tracks)" in charts.usage_svg(summary)


def test_usage_of_nothing() -> None:
    svg = charts.usage_svg(SUMMARY.head(0))
    root = check_frame(svg)
    assert "no allocation in this selection" in texts(root)
    assert float(root.get("height", "0")) < 150


def test_usage_escapes_text_from_the_data() -> None:
    summary = SUMMARY.with_columns(ban=pl.lit('<b>&"x"'))
    svg = charts.usage_svg(summary)
    root = check_frame(svg)
    assert '<b>&"x" 07 AB' in texts(root)
    assert "<b>" not in svg and "&amp;&quot;x&quot;" in svg


# ---------------------------------------------------------------------------------------------
# issuing_svg
# ---------------------------------------------------------------------------------------------


def many_tills(n_tills: int, days: int) -> pl.DataFrame:
    start = dt.date(2024, 1, 1)
    return issuing_frame([
        ("12345675", f"POS-{k:02d}", start + dt.timedelta(days=d), 10 * k + d % 3)
        for k in range(1, n_tills + 1) for d in range(days)
    ])


def polylines(root: ET.Element) -> list[tuple[str, list[tuple[float, float]]]]:
    """(till, points) per line."""
    out = []
    for g in root.iter(f"{NS}g"):
        if g.get("class") == "till":
            line = g.find(f"{NS}polyline")
            assert line is not None
            points = [tuple(map(float, p.split(","))) for p in line.get("points", "").split()]
            out.append((g.findtext(f"{NS}title") or "", points))
    return out


def test_issuing_top_tills_and_other_tills() -> None:
    issuing = many_tills(20, 60)
    svg = charts.issuing_svg(issuing, max_tills=12)
    assert svg == charts.issuing_svg(issuing.reverse(), max_tills=12)
    root = check_frame(svg)
    lines = polylines(root)
    assert len(lines) == 13 == len(root.findall(f".//{NS}polyline"))
    # the 12 busiest (POS-09..POS-20) by name, then the rest
    assert [t for t, _ in lines] == [f"12345675 POS-{k:02d}" for k in range(9, 21)] + ["其他機台 other tills"]
    assert all(len(p) == 60 for _, p in lines)
    words = texts(root)
    assert "各機台每日開立 issuing over the period, per till" in words
    assert "每日發票張數 invoices per day" in words
    for till, _ in lines:
        assert till in words  # legend
    # no dots on long series
    assert not list(root.iter(f"{NS}circle"))
    # x runs left to right over the period; the span is written under the axis
    assert "日期 date (2024-01-01 to 2024-02-29)" in words
    xs = [x for x, _ in lines[0][1]]
    assert xs == sorted(xs) and len(set(xs)) == 60
    assert {"01-01", "01-15", "02-01", "02-22"} <= set(words)
    # all lines share one x scale: the same day, the same x
    assert {p[0][0] for _, p in lines} == {xs[0]} and {p[-1][0] for _, p in lines} == {xs[-1]}
    # "other tills" (POS-01..08 summed) is the highest line: the smallest y
    assert min(y for _, y in lines[-1][1]) < min(y for _, p in lines[:-1] for _, y in p)
    assert len(charts.TILL_COLOURS) >= charts.MAX_TILLS


def test_issuing_y_values_follow_the_counts() -> None:
    issuing = issuing_frame([
        ("12345675", "A", dt.date(2024, 1, 1), 10),
        ("12345675", "A", dt.date(2024, 1, 2), 20),
        ("12345675", "A", dt.date(2024, 1, 4), 0),
    ])
    root = parse(charts.issuing_svg(issuing))
    [(till, points)] = polylines(root)
    assert till == "12345675 A"
    # 2024-01-03 had no invoice: the line goes down to zero that day instead of skipping it
    (x1, y10), (x2, y20), (x3, y_none), (x4, y0) = points
    assert y0 - y10 == pytest.approx(y10 - y20, abs=0.02)  # 0 → 10 → 20 evenly spaced
    assert y_none == pytest.approx(y0, abs=0.02)
    assert x4 - x3 == pytest.approx(x3 - x2, abs=0.02) == pytest.approx(x2 - x1, abs=0.02)
    assert len(list(root.iter(f"{NS}circle"))) == 4 + 1  # dots on a short series (+ legend)
    ticks = [w for w in texts(root) if re.fullmatch(r"[\d,]+", w)]
    assert ticks[0] == "0" and int(ticks[-1].replace(",", "")) >= 20


def test_issuing_of_nothing() -> None:
    root = check_frame(charts.issuing_svg(many_tills(1, 1).head(0)))
    assert "no invoice dated in the period" in texts(root)
    assert not list(root.iter(f"{NS}polyline"))


def test_issuing_of_one_day_and_a_till_without_a_name() -> None:
    issuing = issuing_frame([("12345675", None, dt.date(2024, 1, 5), 7)])
    root = check_frame(charts.issuing_svg(issuing))
    [(till, points)] = polylines(root)
    assert till == "12345675 (no till)" and len(points) == 1
    assert "日期 date (2024-01-05)" in texts(root)


def test_issuing_escapes_till_names() -> None:
    name = '<b>&"x"'
    issuing = issuing_frame([("12345675", name, dt.date(2024, 1, d), d) for d in (1, 2, 3)])
    svg = charts.issuing_svg(issuing)
    root = check_frame(svg)
    assert [t for t, _ in polylines(root)] == [f"12345675 {name}"]
    assert f"12345675 {name}" in texts(root)
    assert "<b>" not in svg and "12345675 &lt;b&gt;&amp;&quot;x&quot;" in svg


def test_long_till_names_are_cut_in_the_legend_with_the_full_name_on_hover() -> None:
    name = "TILL-" + "X" * 200
    issuing = issuing_frame([("12345675", name, dt.date(2024, 1, 1), 1)])
    root = parse(charts.issuing_svg(issuing))
    legend = [t for t in root.iter(f"{NS}text") if (t.text or "").startswith("12345675 TILL-")]
    assert len(legend) == 1
    assert legend[0].text.endswith("…") and len(legend[0].text) < 80  # type: ignore[union-attr]
    assert legend[0].findtext(f"{NS}title") == f"12345675 {name}"
