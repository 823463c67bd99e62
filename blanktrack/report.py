"""What the reconcile notebook shows: static HTML tables and SVG charts built from a
Reconciliation. Kept here so the notebook stays a list of calls."""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
from IPython.display import HTML, SVG

from . import charts, labels
from .archive import sha256_file
from .blanks import Split
from .exports import Exports
from .period import deadline_status, parse_date, roc_date
from .reconcile import Reconciliation, reconcile
from .schemas import SEVERITY_RANK
from .set_workbooks import Workbooks, skipped_workbooks_line
from .strict import StrictModeError as StrictModeError  # the notebook's strict cell
from .strict import enforce_strict as enforce_strict
from .verdict import deadline_words, reporting_bans, severity_counts
from .workbook import inputs_table

if TYPE_CHECKING:
    from .due import DueRow

MAX_ROWS = 1000  # a table longer than this is cut in the page; the CSV export has every row
LONG_CELL = 40  # characters: a longer cell wraps (IDs and numbers never do)




def reconcile_period(period: str, allocations: Sequence[str], invoices: Sequence[str], *,
                     ban: str | None = None, split: Split = "none",
                     report_date: str | dt.date | None = None,
                     out_dir: str | Path | None = None,
                     columns: dict[str, str] | None = None) -> Reconciliation:
    """reconcile() with the notebook's literal parameters. With out_dir, the upload files are
    written (hidden, as exports.Exports stages them) as soon as the blank ranges are known, and
    exports(result, out_dir) puts them in place: 0.2 s of a 10M-invoice period's run."""
    if isinstance(report_date, str):
        report_date = parse_date(report_date)
    _discard_pending()
    if out_dir is None:
        return reconcile(period, allocations, invoices, ban=ban, split=split,
                         report_date=report_date, columns=columns)
    pending = Exports(Path(out_dir))
    try:
        result = reconcile(period, allocations, invoices, ban=ban, split=split,
                           report_date=report_date, on_blank_ranges=pending.start,
                           columns=columns)
    except BaseException:
        pending.close()
        raise
    _pending.append((result, Path(out_dir).resolve(), pending))
    return result


# The exports reconcile_period began, until exports() puts them in place: (result, folder, …).
_pending: list[tuple[Reconciliation, Path, Exports]] = []


def _discard_pending() -> None:
    """Drop staged exports nobody asked to put in place (a cell run again)."""
    while _pending:
        _pending.pop()[2].close()


def html_table(df: pl.DataFrame, caption: str = "", max_rows: int = MAX_ROWS) -> str:
    """A plain HTML table of every row (up to max_rows), escaped, numbers right-aligned."""
    numeric = {c for c, t in df.schema.items() if t.is_numeric()}
    df = labels.percent_text(df)
    head = "".join(f"<th>{html.escape(labels.column(c))}</th>" for c in df.columns)
    body = []
    for row in df.head(max_rows).iter_rows():
        cells = []
        for col, value in zip(df.columns, row, strict=True):
            text = "" if value is None else html.escape(str(value))
            style = ' style="text-align:right"' if col in numeric else ""
            if len(text) > LONG_CELL:  # paths, hashes, sentences: wrap instead of widening
                style += ' class="bt-long"'
            cells.append(f"<td{style}>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    more = ""
    if df.height > max_rows:
        more = f"<p>… {df.height - max_rows} more row(s) not shown; the CSV export has them all.</p>"
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    if not body:
        return f"<p><em>{html.escape(caption or 'table')}: none.</em></p>"
    return (f'<table class="blanktrack" border="1" style="border-collapse:collapse">{cap}'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{more}")


def inputs(result: Reconciliation) -> HTML:
    """What was loaded: every file, its role, rows, size and SHA-256."""
    rows = inputs_table(result, hash_now=True)
    # The parameters the run used, once (the notebook's code cells are hidden in the record).
    head = (f"<h3>{labels.word('parameters')}</h3><p>期別 period <b>{result.period.code}</b> "
            f"({result.period.label}); 申報統一編號 reporting BAN: "
            f"{html.escape(result.ban or 'all 全部')}; split: {result.split}; 申報日 report date "
            f"{result.report_date.isoformat()} ({roc_date(result.report_date)}).</p>"
            f"<h3>{labels.word('inputs')}</h3>")
    return HTML(head + html_table(rows))


def validation(result: Reconciliation) -> HTML:
    n_alloc = result.allocations.height
    return HTML(
        f"<h3>{labels.word('validation')}</h3>"
        f"<p>All {n_alloc} allocation row(s) of the period and {result.invoice_rows} invoice "
        "row(s) passed validation: BAN check digits, period codes, tracks, 8-digit numbers, "
        "begin ≤ end, 10-character invoice numbers, calendar dates and statuses. (Input that "
        "fails stops the run before anything is written.)</p>"
    )


def summary(result: Reconciliation) -> HTML:
    totals = result.summary.select(pl.col("allocated", "used", "blank", "skipped").sum())
    a, u, b, s = totals.row(0)
    return HTML(
        f"<h3>{labels.word('summary')}</h3>"
        f"<p>{a} number(s) allocated, {u} used, {b} blank (of which {s} skipped).</p>"
        + html_table(result.summary)
    )


def blank_ranges(result: Reconciliation) -> HTML:
    ours = result.exported_ranges
    text = (f"<h3>{labels.word('blank_ranges')}</h3><p>{ours.height} range(s), "
            f"{int(ours['count'].sum())} number(s) go to the MOF.</p>")
    elsewhere = result.blank_ranges.filter(pl.col("reported_by").is_not_null())
    if not elsewhere.is_empty():
        text += (f"<p>{elsewhere.height} range(s) are reported by another system and left "
                 "out of the exports (see the findings).</p>")
    return HTML(text + html_table(result.blank_ranges))


def findings(result: Reconciliation) -> HTML:
    f = result.findings
    if f.is_empty():
        return HTML(f"<h3>{labels.word('findings')}</h3><p>No findings 無待查事項.</p>")
    counts = (f.group_by("severity", "code").agg(n=pl.len())
              .with_columns(rank=pl.col("severity").replace_strict(SEVERITY_RANK,
                                                                   return_dtype=pl.Int8))
              .sort("rank", "code").drop("rank"))
    parts = [f"<h3>{labels.word('findings')}</h3>",
             html_table(counts, "findings by severity and code")]
    for severity in sorted(SEVERITY_RANK, key=SEVERITY_RANK.get):  # type: ignore[arg-type]
        rows = f.filter(pl.col("severity") == severity)
        if rows.is_empty():
            continue
        parts.append(f"<h4>{labels.severity(severity)}: {rows.height}</h4>")
        parts.append("<ul>" + "".join(
            f"<li><code>{html.escape(code)}</code> {html.escape(msg)}</li>"
            for code, msg in rows.select("code", "message").head(MAX_ROWS).iter_rows()
        ) + "</ul>")
        if rows.height > MAX_ROWS:
            parts.append(f"<p>… {rows.height - MAX_ROWS} more in findings.csv.</p>")
    return HTML("".join(parts))


def deadline(result: Reconciliation) -> HTML:
    status = deadline_status(result.period, result.report_date)
    colour = {"late": "#b00020", "open": "#1b5e20", "early": "#555"}[status.state]
    return HTML(f'<h3>{labels.word("deadline")}</h3>'
                f'<p style="color:{colour}"><b>{status.state}</b>: '
                f"{html.escape(status.sentence)}</p>")


def track_chart(result: Reconciliation) -> SVG:
    return SVG(charts.usage_svg(result.summary))


def issuing_chart(result: Reconciliation) -> SVG:
    return SVG(charts.issuing_svg(result.issuing))


def exports(result: Reconciliation, out_dir: str | Path, workbooks: Workbooks = "auto") -> HTML:
    """Write the exports through the engine's writers (or put in place those reconcile_period
    began for this result and folder) and list them with their hashes; `workbooks` as
    exports.Exports.finish takes it (the parameter file's `workbooks:`)."""
    out = Path(out_dir)
    begun = [p for p in _pending if p[0] is result and p[1] == out.resolve()]
    if begun:
        _pending.remove(begun[0])
    with (begun[0][2] if begun else Exports(out)) as staged:
        written = staged.finish(result, workbooks=workbooks)
    skipped = ""
    if staged.skipped_workbooks:
        skipped = "<p>" + html.escape(skipped_workbooks_line(
            staged.skipped_workbooks, "set workbooks: always in the parameter file")) + "</p>"
    table = pl.DataFrame(
        {"file": [p.relative_to(out).as_posix() for p in written],
         "bytes": [p.stat().st_size for p in written],
         "sha256": [sha256_file(p) for p in written]},
        schema={"file": pl.String, "bytes": pl.Int64, "sha256": pl.String},
    )
    return HTML(f"<h3>{labels.word('exports')}</h3><p>Written to {html.escape(str(out))}:</p>"
                + skipped + html_table(table))


# ---------------------------------------------------------------------------------------------
# The verdict: what a person must know before anything else
# ---------------------------------------------------------------------------------------------

# Fonts that have Traditional Chinese, on Linux, Windows and macOS; the page names them so that
# 空白, 跳號 and 註銷 never fall back to boxes where a CJK font exists under its own name.
CJK_FONTS = ('"Noto Sans CJK TC", "Noto Sans TC", "Source Han Sans TC", "Microsoft JhengHei", '
             '"微軟正黑體", "PingFang TC", "Heiti TC", "Noto Sans CJK JP", sans-serif')

PAGE_CSS = f"""
body, .jp-Notebook, .jp-RenderedHTMLCommon, .bt-verdict {{ font-family: {CJK_FONTS}; }}
table.blanktrack td {{ white-space: nowrap; }}
table.blanktrack td.bt-long {{ white-space: normal; overflow-wrap: anywhere; min-width: 14em; }}
.bt-verdict {{ border: 2px solid #444; border-radius: 6px; padding: 10px 16px; margin: 4px 0 12px;
  max-width: 46em; }}
.bt-verdict h2 {{ margin: 0 0 8px; font-size: 1.3em; }}
.bt-verdict table {{ border-collapse: collapse; }}
.bt-verdict th {{ text-align: left !important; font-weight: normal; padding: 2px 16px 2px 0;
  color: #444; white-space: nowrap; }}
.bt-verdict td {{ text-align: left !important; padding: 2px 0; font-weight: bold; }}
.bt-verdict .bt-bad {{ color: #b00020; }}
.bt-verdict .bt-good {{ color: #1b5e20; }}
@media print {{
  @page {{ size: A4; margin: 14mm 12mm; }}
  body {{ font-size: 10pt; }}
  .jp-InputArea, .jp-InputPrompt, .jp-OutputPrompt {{ display: none !important; }}
  .jp-Cell, .jp-OutputArea-output, .jp-Notebook {{ padding: 0 !important; overflow: visible !important; }}
  table.blanktrack {{ width: 100%; font-size: 8.5pt; }}
  table.blanktrack thead {{ display: table-header-group; }}
  table.blanktrack tr, svg, .bt-verdict {{ break-inside: avoid; }}
  svg {{ max-width: 100%; height: auto; }}
  h2, h3, h4 {{ break-after: avoid; }}
}}
"""


def due_words(status: DueRow) -> tuple[str, bool | None]:
    """What `blanktrack due` says of the period (due.status_here), as the verdict shows it, and
    whether it is bad news (None: neither good nor bad, e.g. no earlier run)."""
    from .due import CLEAN

    start, end = status.window
    window = f"window {start.isoformat()}..{end.isoformat()}, {status.timing}"
    if status.run_dir is None:
        said = status.note or "no earlier run of this period 本期尚無先前執行"
        return f"{said}; {window}", None
    run = f"{status.run_dir.parent.name}/{status.run_dir.name}"
    return f"earlier run {run}: {status.status}; {window}", status.status not in CLEAN


def verdict(result: Reconciliation, status: DueRow | None = None) -> HTML:
    """The top of the record: period, reporting BAN(s), blank numbers to report, errors and
    warnings to look at, the deadline with days left or late, and with `status`
    (due.status_here) what `blanktrack due` says of the period. Carries the page's CSS (a CJK
    font stack and A4 print rules), so it must be the first output of the page."""
    exported = result.exported_ranges
    blanks = int(exported["count"].sum())
    counts = severity_counts(result)
    deadline_text, late = deadline_words(deadline_status(result.period, result.report_date))
    bans = reporting_bans(result)

    def row(key: str, value: str, bad: bool | None = None) -> str:
        cls = "" if bad is None else f' class="{"bt-bad" if bad else "bt-good"}"'
        return f"<tr><th>{html.escape(labels.word(key))}</th><td{cls}>{value}</td></tr>"

    rows = [
        row("period", html.escape(f"{result.period.code} ({result.period.label})")),
        row("reporting_ban", html.escape(", ".join(bans) or "—")),
        row("blank_numbers", f"{blanks:,} "
            + html.escape(f"in {exported.height:,} range(s) 個區間")),
        row("errors", f"{counts['error']:,}", bad=counts["error"] > 0),
        row("warnings", f"{counts['warning']:,}", bad=counts["warning"] > 0),
        row("deadline", html.escape(deadline_text), bad=late),
    ]
    if status is not None:
        said, bad = due_words(status)
        rows.append(row("due_status", html.escape(said), bad=bad))
    report_day = (f"report date 申報日 {result.report_date.isoformat()} "
                  f"({roc_date(result.report_date)})")
    return HTML(
        f"<style>{PAGE_CSS}</style>"
        '<div class="bt-verdict">'
        f"<h2>{html.escape(labels.word('report_title'))}</h2>"
        f"<table>{''.join(rows)}</table>"
        f"<p>{html.escape(report_day)}</p></div>"
    )
