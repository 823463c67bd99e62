"""The explore workbook without a browser: the pure filters on the sample period, then every
control of the widget UI driven from Python, asserting what the tables and charts show."""

from __future__ import annotations

import datetime as dt
from html.parser import HTMLParser
from pathlib import Path

import polars as pl
import pytest

from blanktrack.demo import SAMPLE_DIR, SAMPLE_EXPECTED
from blanktrack.errors import InputError
from blanktrack.explore import (
    ALL,
    MAP_MAX_BOOKLETS,
    Explorer,
    ExplorerUI,
    Selection,
    TableView,
    booklet_map_svg,
    booklet_numbers,
    filter_findings,
    filter_gaps,
    filter_issuing,
    map_cells,
    page_of,
    selection_bans,
    selection_summary,
    sort_frame,
)
from blanktrack.reconcile import Reconciliation, reconcile

HEAD, BRANCH = "53567686", "04595257"
ALLOC_HEADER = "ban,invoice_type,period,track,begin_no,end_no,head_ban,machine,reported_by\n"
INVOICE_HEADER = "invoice_number,invoice_date,seller_ban,status,machine,upload_status\n"


@pytest.fixture(scope="module")
def sample() -> Reconciliation:
    return reconcile("10312", [SAMPLE_DIR / "allocations.csv"],
                     sorted(SAMPLE_DIR.glob("invoices_*.csv")), report_date=dt.date(2015, 1, 8))


@pytest.fixture
def explorer(sample: Reconciliation) -> Explorer:
    return Explorer.from_result(sample)


def _write_large(folder: Path, booklets: int = 2100) -> tuple[Path, Path]:
    """Period 11302: one allocation of `booklets` booklets on track AB (mostly unused), plus a
    misaligned allocation on track AC (begin …05), a few invoices with one skipped number."""
    folder.mkdir(parents=True, exist_ok=True)
    allocs = folder / "allocations.csv"
    allocs.write_text(
        ALLOC_HEADER
        + f"{HEAD},07,11302,AB,00000000,{booklets * 50 - 1:08d},,POS-9,\n"
        + f"{HEAD},07,11302,AC,00000105,00000149,,,\n", encoding="utf-8")
    invoices = folder / "invoices.csv"
    rows = [f"AB{n:08d},2024-01-{1 + n:02d},{HEAD},issued,POS-9,accepted\n"
            for n in (0, 1, 2, 4)]
    rows.append(f"AC{110:08d},2024-01-20,{HEAD},issued,,\n")
    invoices.write_text(INVOICE_HEADER + "".join(rows), encoding="utf-8")
    return allocs, invoices


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> Reconciliation:
    allocs, invoices = _write_large(tmp_path_factory.mktemp("large"))
    return reconcile("11302", [allocs], [invoices], report_date=dt.date(2024, 3, 5))


class _Table(HTMLParser):
    """Rows of the first <table> of a fragment, as lists of cell text."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.caption = ""
        self._cell: list[str] | None = None
        self._in_caption = False

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "caption":
            self._in_caption = True

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell))
            self._cell = None
        elif tag == "caption":
            self._in_caption = False

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        elif self._in_caption:
            self.caption += data


def table(fragment: str) -> list[dict[str, str]]:
    parser = _Table()
    parser.feed(fragment)
    if not parser.rows:
        return []
    head, *body = parser.rows
    # headings are bilingual, `字軌 track`: the last word is the column's name
    names = [h.rsplit(" ", 1)[-1] for h in head]
    return [dict(zip(names, row, strict=True)) for row in body]


def caption(fragment: str) -> str:
    parser = _Table()
    parser.feed(fragment)
    return parser.caption


# ---------------------------------------------------------------------------------------------
# pure functions
# ---------------------------------------------------------------------------------------------


def test_gap_frame_holds_blank_ranges_and_skipped_runs(explorer: Explorer) -> None:
    gaps = explorer.data().gaps
    blank = gaps.filter(pl.col("kind") == "blank")
    skipped = gaps.filter(pl.col("kind") == "skipped")
    assert blank.height == len(SAMPLE_EXPECTED["blank_ranges"])
    assert sorted(blank.select("ban", "track", "begin_no", "end_no").iter_rows()) == sorted(
        (b["ban"], b["track"], b["begin_no"], b["end_no"]) for b in SAMPLE_EXPECTED["blank_ranges"]
    )
    assert sorted(skipped.select("track", "begin_no", "end_no", "machine").iter_rows()) == [
        ("KT", "47281137", "47281137", "POS-1"),
        ("KT", "47281222", "47281223", "POS-2"),
        ("LQ", "00500017", "00500017", "ERP"),
    ]
    # a blank range names the till its allocation was handed to; none when it has no till
    tail = blank.filter(pl.col("begin_no") == "47281260").row(0, named=True)
    assert tail["machine"] == "POS-2" and tail["tills"] == ["POS-2"]
    assert blank.filter(pl.col("track") == "MB")["machine"].to_list() == [None]


def test_booklet_cells_add_up_to_the_summary(explorer: Explorer, sample: Reconciliation) -> None:
    cells = explorer.data().cells
    totals = SAMPLE_EXPECTED["totals"]
    assert int(cells["allocated"].sum()) == totals["allocated"]
    assert int(cells["used"].sum()) == totals["used"]
    assert int(cells["blank"].sum()) == totals["blank"]
    assert int(cells["skipped"].sum()) == 4
    mine = selection_summary(cells, "10312")
    assert mine.equals(sample.summary)


def test_ban_selects_a_head_office_with_its_branches(explorer: Explorer) -> None:
    d = explorer.data()
    assert selection_bans(d, explorer.selection()) is None
    assert selection_bans(d, explorer.selection(ban=HEAD)) == [BRANCH, HEAD]
    assert selection_bans(d, explorer.selection(ban=BRANCH)) == [BRANCH]
    assert set(explorer.gaps(explorer.selection(ban=BRANCH))["track"]) == {"LQ", "LR"}
    assert explorer.gaps(explorer.selection(ban=HEAD)).height == d.gaps.height


def test_filters(explorer: Explorer, sample: Reconciliation) -> None:
    gaps, findings = explorer.data().gaps, sample.findings
    sel = explorer.selection
    assert set(filter_gaps(gaps, sel(track="KT"), None)["track"]) == {"KT"}
    assert set(filter_gaps(gaps, sel(invoice_type="08"), None)["track"]) == {"XA"}
    by_till = filter_gaps(gaps, sel(till="POS-2"), None)
    assert by_till.select("kind", "begin_no").rows() == [
        ("blank", "47281222"), ("skipped", "47281222"), ("blank", "47281260")]
    assert filter_gaps(gaps, sel(gap_kind="skipped"), None).height == 3
    assert filter_findings(findings, sel(severity="error"), None)["code"].to_list() == [
        "outside-allocation", "upload-failed"]
    assert set(filter_findings(findings, sel(code="skipped-number"), None)["track"]) == {
        "KT", "LQ"}
    assert filter_findings(findings, sel(till="POS-3"), None)["code"].to_list() == [
        "dated-outside-period", "void-not-reissued"]


def test_issuing_follows_the_track(explorer: Explorer, sample: Reconciliation) -> None:
    sel = explorer.selection
    lq = filter_issuing(sample.issuing, sel(track="LQ"), None)
    assert set(lq.select("seller_ban", "machine", "track").rows()) == {("04595257", "ERP", "LQ")}
    assert int(lq["invoices"].sum()) == 31
    assert filter_issuing(sample.issuing, sel(track="LQ", till="POS-2"), None).is_empty()
    kt = filter_issuing(sample.issuing, sel(track="KT", till="POS-2"), None)
    assert set(kt["track"]) == {"KT"} and set(kt["machine"]) == {"POS-2"}
    chart = explorer.issuing_svg(sel(track="LQ"))
    assert "04595257 ERP" in chart and "53567686" not in chart
    assert "53567686 ERP" in explorer.issuing_svg(sel())  # the head office's MB invoices


def test_sort_and_page(explorer: Explorer) -> None:
    gaps = explorer.data().gaps
    by_count = sort_frame(gaps, "count", True, ["ban", "track", "begin_no"])
    assert by_count["count"].to_list()[:3] == [68, 50, 40]
    rows, pages = page_of(gaps, TableView(page=1, page_size=10), ["ban"])
    assert pages == 2 and rows.height == 3
    rows, pages = page_of(gaps, TableView(page=99, page_size=5), ["ban"])
    assert pages == 3 and rows.height == 3  # a page past the end shows the last one
    sev = sort_frame(explorer.data().result.findings, "severity", True, ["code"])
    assert sev["severity"].to_list()[-1] == "error"  # by rank: error < warning < info


def test_map_of_one_track_or_of_every_track(explorer: Explorer) -> None:
    cells = explorer.data().cells
    every = map_cells(cells, None)  # Track (all): the tracks one after the other
    assert every["track"].to_list() == ["KT"] * 5 + ["LQ"] * 2 + ["LR"] + ["MB"] * 2 + ["XA"]
    assert map_cells(cells.head(0), None).is_empty()
    kt = map_cells(cells, "KT")
    assert kt.height == 5
    assert kt.select("used", "skipped").rows() == [(49, 1), (30, 0), (48, 2), (10, 0), (41, 0)]


def test_map_merges_a_booklet_split_between_allocations(explorer: Explorer) -> None:
    cells = explorer.data().cells
    one = cells.filter(pl.col("track") == "LR")  # one booklet, one allocation, 50 blank
    low, high = (1 << 20) - 1, ((1 << 50) - 1) ^ ((1 << 20) - 1)  # numbers 0-19 and 20-49
    halves = pl.concat([
        one.with_columns(alloc_mask=pl.lit(low, pl.UInt64), blank_mask=pl.lit(low, pl.UInt64)),
        one.with_columns(alloc_mask=pl.lit(high, pl.UInt64), blank_mask=pl.lit(high, pl.UInt64),
                         used_in=pl.lit(0, pl.UInt64)),
    ])
    merged = map_cells(halves, None)
    assert merged.select("track", "allocated", "used", "blank").rows() == [("LR", 50, 0, 50)]
    assert merged.drop("first").rows() == map_cells(one, None).drop("first").rows()


def test_booklet_numbers_drill_down(explorer: Explorer, large: Reconciliation) -> None:
    n = booklet_numbers(explorer.data().cells, HEAD, "KT", 47281100 // 50)
    assert n.height == 50
    assert n.filter(pl.col("state") == "skipped")["invoice_number"].to_list() == ["KT47281137"]
    assert n.filter(pl.col("state") == "used").height == 49
    assert set(n["allocation_till"]) == {"POS-1"}
    # a misaligned allocation: numbers before its begin are not allocated
    m = booklet_numbers(Explorer.from_result(large).data().cells, HEAD, "AC", 2)
    states = m["state"].to_list()
    assert states[:5] == ["not allocated"] * 5
    # the allocation row has no till: skipped counts from its begin up to the highest used
    assert states[5:10] == ["skipped"] * 5
    assert states[10] == "used" and states.count("blank") == 39


def test_booklet_map_svg_is_deterministic_and_marks_the_selection(explorer: Explorer) -> None:
    kt = map_cells(explorer.data().cells, "KT")
    a = booklet_map_svg(kt, title="Track KT", selected=0)
    assert a == booklet_map_svg(kt, title="Track KT", selected=0)
    assert a.startswith("<svg") and "Track KT" in a
    assert booklet_map_svg(kt, title="Track KT", selected=3) != a
    assert "no booklet" in booklet_map_svg(kt.head(0), title="none")


def test_booklet_map_pages_above_2000_booklets(large: Reconciliation) -> None:
    ex = Explorer.from_result(large)
    sel = ex.selection(track="AB")
    first, track, pages = ex.booklet_map(sel, 0)
    second, _, _ = ex.booklet_map(sel, 1)
    assert track == "AB" and pages == 2
    assert first.height == MAP_MAX_BOOKLETS and second.height == 100
    assert second["booklet"][0] == MAP_MAX_BOOKLETS
    svg = ex.map_svg(sel, 0)
    # one image (and the colour bar's), not 2,000 paths
    assert "page 1 of 2" in svg and svg.count("<image") == 2
    assert len(svg) < 200_000


def test_static_html_for_headless_runs(explorer: Explorer) -> None:
    text = explorer.static_html()
    assert "gaps 1–13 of 13" in text and "findings 1–9 of 9" in text  # 2 allocation-unused
    assert text.count("<svg") == 3  # utilisation, booklet map, issuing
    assert "KT47281137" in text  # the drill-down opens on the first booklet with a skip
    assert "<script" not in text


def test_selection_export_cuts_ban_type_and_track(explorer: Explorer, tmp_path: Path) -> None:
    steps: list[tuple[int, int, str]] = []
    written = explorer.export(explorer.selection(track="KT", till="POS-1"), tmp_path,
                              lambda i, n, what: steps.append((i, n, what)))
    folder = tmp_path / "10312_track-KT" / "10312" / "53567686"
    # the upload file says it holds track KT only, not the reporting BAN's whole period
    assert {p.relative_to(folder).as_posix() for p in written} == {
        "53567686_10312_track-KT.csv", "53567686_10312_track-KT.xlsx", "e0402/53567686_10312_07_KT_001.xml",
        "findings.csv", "summary.csv"}
    # the till does not cut the track: the platform replaces a whole track per upload
    assert (folder / "53567686_10312_track-KT.csv").read_text().count("\n") == 5
    assert [s[0] for s in steps] == [0, 1, 2, 3] and steps[-1][1] == 3
    everything = explorer.export(explorer.selection(), tmp_path)
    assert len(everything) == 9
    assert (tmp_path / "10312_all" / "10312" / "53567686" / "53567686_10312.csv") in everything  # whole


def test_periods_load_when_first_opened(tmp_path: Path) -> None:
    allocs, invoices = _write_large(tmp_path / "p2", booklets=4)
    ex = Explorer.from_files(
        "10312", [SAMPLE_DIR / "allocations.csv"], sorted(SAMPLE_DIR.glob("invoices_*.csv")),
        report_date="2015-01-08",
        periods={"11302": {"allocations": [allocs], "invoices": [invoices],
                           "report_date": "2024-03-05"}},
    )
    assert ex.periods == ["10312", "11302"] and ex.default_period == "10312"
    assert not ex.loaded("11302")
    assert ex.result("11302").period.code == "11302" and ex.loaded("11302")


def test_from_params(tmp_path: Path) -> None:
    allocs, invoices = _write_large(tmp_path, booklets=2)
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "reconcile.ipynb").write_text("{}")  # a parameter file needs one
    params = tmp_path / "p.yaml"
    params.write_text(f"period: '11302'\nallocations: ['{allocs}']\ninvoices: ['{invoices}']\n"
                      "report_date: 2024-03-05\n")
    ex = Explorer.from_params([params], base_dir=tmp_path)
    assert ex.periods == ["11302"]
    assert ex.gaps(ex.selection()).height > 0


# ---------------------------------------------------------------------------------------------
# the widget layer: drive each control
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def ui(explorer: Explorer, tmp_path: Path) -> ExplorerUI:
    return explorer.ui(out_dir=tmp_path / "exports")


def labels(dropdown) -> list[str]:
    return [label for label, _ in dropdown.options]


def test_initial_state(ui: ExplorerUI) -> None:
    assert ui.selection == Selection("10312")
    assert labels(ui.period) == ["10312"]
    assert labels(ui.track) == ["(all)", "KT", "LQ", "LR", "MB", "XA"]
    assert labels(ui.till) == ["(all)", "ERP", "POS-1", "POS-2", "POS-3"]
    assert len(table(ui.gap_table.value)) == 13
    assert len(table(ui.finding_table.value)) == 9  # with the 2 allocation-unused (info)
    assert "字軌 tracks KT–XA: 11 booklet(s)" in ui.map_chart.value
    assert ui.map_grid.used[:5] == [98, 60, 96, 20, 82] and len(ui.map_grid.used) == 11
    assert ui.map_grid.skipped[:3] == [True, False, True] and ui.map_grid.selected == 0
    assert ui.map_grid.labels[0].startswith("#1 KT47281100–47281149 53567686: used 49/50")
    assert ui.usage_chart.value.startswith("<svg") and ui.issuing_chart.value.startswith("<svg")
    assert "KT47281137" in ui.numbers.value
    assert ui.timing.total > 0


def test_track_control(ui: ExplorerUI) -> None:
    usage, issuing = ui.usage_chart.value, ui.issuing_chart.value
    ui.track.value = "LQ"
    rows = table(ui.gap_table.value)
    assert {r["track"] for r in rows} == {"LQ"} and len(rows) == 3
    assert [r["code"] for r in table(ui.finding_table.value)] == ["skipped-number",
                                                                   "allocation-unused"]
    assert "字軌 track LQ: 2 booklet(s)" in ui.map_chart.value and ui.usage_chart.value != usage
    assert ui.issuing_chart.value != issuing  # the track's invoices per day only
    assert len(ui.booklet.options) == 2
    assert set(ui.timing.parts) >= {"gaps", "findings", "usage", "map", "booklet"}


def test_ban_control_cascades_to_type_and_track(ui: ExplorerUI) -> None:
    ui.track.value = "KT"
    issuing = ui.issuing_chart.value
    ui.ban.value = BRANCH
    assert ui.track.value == ALL  # KT is not the branch's: back to all
    assert labels(ui.track) == ["(all)", "LQ", "LR"]
    assert labels(ui.invoice_type) == ["(all)", "07"]
    assert labels(ui.till) == ["(all)", "ERP"]
    assert {r["ban"] for r in table(ui.gap_table.value)} == {BRANCH}
    assert ui.issuing_chart.value != issuing
    ui.ban.value = ALL
    assert len(table(ui.gap_table.value)) == 13


def test_invoice_type_control(ui: ExplorerUI) -> None:
    ui.invoice_type.value = "08"
    assert labels(ui.track) == ["(all)", "XA"]
    assert [(r["track"], r["begin_no"]) for r in table(ui.gap_table.value)] == [
        ("XA", "00012320")]
    assert table(ui.finding_table.value) == []
    assert "字軌 track XA: 1 booklet(s)" in ui.map_chart.value


def test_till_control(ui: ExplorerUI) -> None:
    issuing, usage = ui.issuing_chart.value, ui.usage_chart.value
    ui.till.value = "POS-2"
    assert {r["machine"] for r in table(ui.gap_table.value)} == {"POS-2"}
    assert [r["code"] for r in table(ui.finding_table.value)] == ["skipped-number"]
    assert ui.issuing_chart.value != issuing and ui.usage_chart.value != usage
    assert len(ui.booklet.options) == 2  # the till's two booklets of KT
    ui.till.value = "ERP"  # a till known from invoices only: every allocation it issued from
    assert [r["track"] for r in table(ui.gap_table.value)] == ["LQ"]
    assert "字軌 tracks LQ–XA" in ui.map_chart.value  # every track the till issued from
    cells = ui.explorer.cells(ui.selection)
    assert sorted(set(cells["track"])) == ["LQ", "MB", "XA"]  # not LR: the ERP never used it


def test_finding_code_and_severity_controls(ui: ExplorerUI) -> None:
    gaps, usage = ui.gap_table.value, ui.usage_chart.value
    ui.code.value = "skipped-number"
    assert {r["code"] for r in table(ui.finding_table.value)} == {"skipped-number"}
    assert ui.gap_table.value == gaps and ui.usage_chart.value == usage
    ui.code.value = ALL
    ui.severity.value = "error"
    assert [r["code"] for r in table(ui.finding_table.value)] == [
        "outside-allocation", "upload-failed"]
    assert set(ui.timing.parts) >= {"findings"}


def test_gap_kind_control(ui: ExplorerUI) -> None:
    ui.gap_kind.value = "skipped"
    assert {r["kind"] for r in table(ui.gap_table.value)} == {"skipped"}
    assert len(table(ui.gap_table.value)) == 3


def test_gap_table_sort_and_pages(ui: ExplorerUI) -> None:
    ui.gap_sort.value = "count"
    ui.gap_desc.value = True
    assert table(ui.gap_table.value)[0]["count"] == "68"
    assert set(ui.timing.parts) == {"gaps"}  # a table control redraws only its table
    ui.gap_desc.value = False
    assert table(ui.gap_table.value)[0]["count"] == "1"
    ui.gap_page_size.value = 10
    assert ui.gap_page.max == 2 and ui.gap_pages.value == "of 2"
    ui.gap_page.value = 2
    assert len(table(ui.gap_table.value)) == 3
    assert caption(ui.gap_table.value) == "gaps 11–13 of 13"
    ui.track.value = "KT"  # a filter goes back to page 1
    assert ui.gap_page.value == 1 and ui.gap_page.max == 1


def test_finding_table_sort_and_pages(ui: ExplorerUI) -> None:
    ui.finding_sort.value = "begin_no"
    assert [r["begin_no"] for r in table(ui.finding_table.value)][:3] == [
        "00500017", "00500050", "00777700"]  # a skip, then the two unused allocations
    ui.finding_page_size.value = 10
    assert ui.finding_page.max == 1
    ui.finding_desc.value = True
    assert table(ui.finding_table.value)[0]["begin_no"] == "47281340"


def test_booklet_selection_drills_down(ui: ExplorerUI) -> None:
    assert ui.booklet.value == 0  # the first booklet with a skipped number
    ui.booklet.value = 2
    assert "KT47281222" in ui.numbers.value and "Booklet #3" in ui.numbers.value
    assert ui.map_grid.selected == 2  # the selected cell is framed
    assert set(ui.timing.parts) == {"booklet"}


def test_a_click_on_the_map_drills_down(ui: ExplorerUI) -> None:
    ui.map_grid.selected = 5  # what the browser sends when booklet #6 is clicked
    assert ui.booklet.value == 5
    assert "Booklet #6: LQ00500000–00500049 04595257" in ui.numbers.value
    assert "LQ00500017" in ui.numbers.value
    assert set(ui.timing.parts) == {"booklet"}
    ui.map_grid.selected = -1  # nothing clicked: the drill-down stays
    assert ui.booklet.value == 5


def test_a_filter_that_no_longer_applies_is_said(ui: ExplorerUI) -> None:
    ui.track.value = "KT"
    ui.ban.value = HEAD  # KT is the head office's: the track stays
    assert ui.selection.track == "KT" and "not in this selection" not in ui.status.value
    ui.ban.value = BRANCH  # the branch has no KT
    assert ui.selection.track is None
    assert "Track KT: not in this selection, now (all)." in ui.status.value


def test_map_page_control(large: Reconciliation, tmp_path: Path) -> None:
    ui = Explorer.from_result(large).ui(out_dir=tmp_path)
    # Track (all): the map pages through AB's 2,100 booklets, then AC's one
    assert "字軌 track AB: 2000 booklet(s) (page 1 of 2)" in ui.map_chart.value
    ui.map_page.value = 2
    assert "字軌 tracks AB–AC: 101 booklet(s) (page 2 of 2)" in ui.map_chart.value
    assert ui.map_grid.labels[-1].startswith("#101 AC00000100")
    ui.track.value = "AB"
    assert "字軌 track AB" in ui.map_chart.value and "page 1 of 2" in ui.map_chart.value
    assert ui.map_page.max == 2 and len(ui.booklet.options) == MAP_MAX_BOOKLETS
    ui.map_page.value = 2
    assert "page 2 of 2" in ui.map_chart.value and len(ui.booklet.options) == 100
    assert ui.booklet.label.startswith(f"#{1} AB{MAP_MAX_BOOKLETS * 50:08d}")


def test_period_control(tmp_path: Path) -> None:
    allocs, invoices = _write_large(tmp_path / "p2", booklets=4)
    ex = Explorer.from_files(
        "10312", [SAMPLE_DIR / "allocations.csv"], sorted(SAMPLE_DIR.glob("invoices_*.csv")),
        report_date="2015-01-08",
        periods={"11302": {"allocations": [allocs], "invoices": [invoices]}})
    ui = ex.ui(out_dir=tmp_path / "out", track="KT")
    assert labels(ui.period) == ["10312", "11302"]
    ui.period.value = "11302"
    assert ui.track.value == ALL and labels(ui.track) == ["(all)", "AB", "AC"]
    assert {r["track"] for r in table(ui.gap_table.value)} == {"AB", "AC"}
    assert "字軌 tracks AB–AC: 5 booklet(s)" in ui.map_chart.value
    ui.period.value = "10312"
    assert len(table(ui.gap_table.value)) == 13


def test_export_button_writes_the_selection(ui: ExplorerUI, tmp_path: Path) -> None:
    ui.track.value = "MB"
    ui.export_button.click()
    target = tmp_path / "exports" / "10312_track-MB"
    assert (target / "10312" / "53567686" / "53567686_10312_track-MB.csv").read_text() == (
        "00001,53567686,10312,MB,02034268,02034299,07\n")
    assert ui.progress.value == ui.progress.max == 3 and ui.progress.bar_style == "success"
    assert "5 file(s) written" in ui.export_status.value
    # and says what it wrote, where
    listed = [r["file"] for r in table(ui.export_status.value.split("</p>", 1)[1])]
    assert listed == ["10312/53567686/53567686_10312_track-MB.csv",
                      "10312/53567686/53567686_10312_track-MB.xlsx",
                      "10312/53567686/e0402/53567686_10312_07_MB_001.xml",
                      "10312/53567686/findings.csv", "10312/53567686/summary.csv"]
    assert not ui.export_button.disabled


def test_export_failure_is_shown(ui: ExplorerUI, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    ui.out_dir_text.value = str(blocker)
    with pytest.raises(InputError, match="cannot write the output folder"):
        ui.write_exports()
    assert ui.progress.bar_style == "danger" and "Exports failed" in ui.export_status.value


def test_the_opening_selection_is_shown_once_live_or_static(ui: ExplorerUI) -> None:
    bundle = ui._repr_mimebundle_()
    # JupyterLab renders the widget view (and not the HTML); nbconvert, without widget state,
    # the HTML: one output either way
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == ui.widget.model_id
    static = bundle["text/html"]
    assert static.count("gaps 1–13 of 13") == 1 and static.count("<svg") == 3


def test_booklet_labels_match_the_label_of_each_booklet(large: Reconciliation) -> None:
    from blanktrack.explore.drawing import booklet_label, booklet_labels

    booklets, _, _ = Explorer.from_result(large).booklet_map(Selection("11302"), 1)
    got = booklet_labels(booklets)
    assert got == [f"#{i + 1} " + booklet_label(r)
                   for i, r in enumerate(booklets.iter_rows(named=True))]
    assert got[-1] == "#101 AC00000100–00000149 53567686: used 1/45, 5 skipped"
