"""The archived record reads as a report: the verdict first, no code, the parameters the run used
once, a Traditional-Chinese font stack and A4 print rules; the verdict for a terminal."""

from __future__ import annotations

import base64
import datetime as dt
import html
import re
from pathlib import Path

import pytest

from blanktrack import report
from blanktrack.params import load_params
from blanktrack.reconcile import Reconciliation, reconcile
from blanktrack.runner import run_period
from blanktrack.verdict import verdict_lines_of

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "blanktrack" / "sample" / "10312"
INVOICES = sorted(SAMPLE.glob("invoices_*.csv"))


def sample(report_date: dt.date) -> Reconciliation:
    return reconcile("10312", [SAMPLE / "allocations.csv"], INVOICES, ban="53567686",
                     report_date=report_date)


@pytest.fixture(scope="module")
def late_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample period run with the forms a Taiwanese user types: period 103/11~103/12 and
    report date 104/01/15 (ROC), five days after the window closed."""
    folder = tmp_path_factory.mktemp("late")
    params = folder / "late.yaml"
    invoices = "".join(f"  - {p}\n" for p in INVOICES)
    params.write_text(
        "period: '103/11~103/12'\n"
        "ban: '53567686'\n"
        f"allocations:\n  - {SAMPLE / 'allocations.csv'}\n"
        f"invoices:\n{invoices}"
        "report_date: 104/01/15\n", encoding="utf-8")
    outcome = run_period(load_params(params, base_dir=ROOT), folder / "archive", progress=False)
    assert outcome.status == "completed", outcome.error
    return outcome.run_dir


def visible_text(page: str) -> str:
    """The words of the page body, as a person reads them (styles and tags removed)."""
    body = page.split("<body", 1)[1].split(">", 1)[1]
    body = re.sub(r"<style.*?</style>|<script.*?</script>", " ", body, flags=re.DOTALL)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body)))


def test_record_opens_with_the_verdict_and_shows_no_code(late_run: Path) -> None:
    page = (late_run / "reconcile.html").read_text(encoding="utf-8")
    text = visible_text(page)
    assert text.lstrip().startswith("空白未使用字軌號碼 blank unused number report")
    verdict = text[:text.index("彙總 summary per BAN / type / track")]
    for words in ("期別 period 10312 (103/11~103/12)", "申報統一編號 reporting BAN 53567686",
                  "空白號碼 blank numbers to report 253 in 10 range(s)", "錯誤 errors 3",
                  "警告 warnings 5",  # the five of the sample and the late report
                  "5 day(s) late 逾期 5 天", "report date 申報日 2015-01-15 (104/01/15)"):
        assert words in verdict, words
    # no code: neither the notebook's default parameters nor the calls
    for code in ("report.verdict(", "report.summary(", "from blanktrack", "period = ",
                 "reconcile_period", "allocations = ["):
        assert code not in text, code
    assert not re.search(r'class="[^"]*\bjp-(InputArea|InputPrompt|OutputPrompt)\b', page)
    # the parameters the run used, once
    assert text.count("期別 period 10312") == 2  # the verdict and the parameters
    assert text.count("申報日 report date 2015-01-15 (104/01/15)") == 1


def test_record_declares_cjk_fonts_and_prints_on_a4(late_run: Path) -> None:
    page = (late_run / "reconcile.html").read_text(encoding="utf-8")
    css = "".join(re.findall(r"<style[^>]*>(.*?)</style>", page, flags=re.DOTALL))
    stack = re.search(r"\.bt-verdict \{ font-family: ([^;]+);", css)
    assert stack is not None
    fonts = [f.strip().strip('"') for f in stack.group(1).split(",")]
    assert fonts[:2] == ["Noto Sans CJK TC", "Noto Sans TC"]
    assert {"Microsoft JhengHei", "PingFang TC"} <= set(fonts) and fonts[-1] == "sans-serif"
    assert "@media print" in css and "size: A4" in css
    # the charts' text too (the page embeds their SVG as images)
    charts = [base64.b64decode(c).decode() for c in re.findall(
        r'<img [^>]*\bsrc="data:image/svg\+xml;base64,([^"]+)"', page)]
    charts = [c for c in charts if "號碼數 numbers" in c or "每日發票張數" in c]
    assert len(charts) == 2
    assert all('font-family="DejaVu Sans, Arial, Noto Sans CJK TC, ' in c for c in charts)


def test_executed_notebook_keeps_the_code(late_run: Path) -> None:
    import nbformat

    nb = nbformat.read(late_run / "reconcile.ipynb", as_version=4)
    sources = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "report.verdict(result, " in sources and 'period = "10312"' in sources


def test_verdict_lines_inside_the_window() -> None:
    lines = verdict_lines_of(sample(dt.date(2015, 1, 8)))
    assert lines == [
        "verdict 10312 (103/11~103/12), reporting BAN 53567686: 253 blank number(s) in 10 "
        "range(s) to report; 2 error(s), 5 warning(s) to look at",
        "deadline: 2 day(s) left 尚餘 2 天 — window 2015-01-01 ~ 2015-01-10 "
        "(104/01/01~104/01/10)",
    ]


@pytest.mark.parametrize(("day", "deadline"), [
    (dt.date(2015, 1, 10), "deadline: last day today 今日截止 — window 2015-01-01 ~ 2015-01-10 "
                           "(104/01/01~104/01/10)"),
    (dt.date(2015, 1, 11), "deadline: LATE — 1 day(s) late 逾期 1 天 — window was 2015-01-01 ~ "
                           "2015-01-10 (104/01/01~104/01/10)"),
    (dt.date(2014, 12, 30), "deadline: period not over yet: window 2015-01-01 ~ 2015-01-10 "
                            "(104/01/01~104/01/10) opens in 2 day(s) (尚未截止, 2 天後開始申報)"),
])
def test_verdict_lines_name_the_deadline(day: dt.date, deadline: str) -> None:
    assert verdict_lines_of(sample(dt.date(2015, 1, 8)), day)[1] == deadline


def test_verdict_html_marks_errors_and_lateness() -> None:
    shown = report.verdict(sample(dt.date(2015, 1, 20))).data
    assert '<th>錯誤 errors</th><td class="bt-bad">3</td>' in shown
    assert '<td class="bt-bad">10 day(s) late 逾期 10 天' in shown
    calm = report.verdict(sample(dt.date(2015, 1, 2))).data
    assert '<td class="bt-good">8 day(s) left 尚餘 8 天' in calm


def test_tables_have_bilingual_headings_and_percentages() -> None:
    page = report.summary(sample(dt.date(2015, 1, 8))).data
    for heading in ("<th>字軌 track</th>", "<th>統一編號 ban</th>", "<th>跳號 skipped</th>",
                    "<th>使用率 utilisation</th>"):
        assert heading in page, heading
    assert '<td style="text-align:right">71.2%</td>' in page
