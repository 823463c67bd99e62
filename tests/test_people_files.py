"""The files meant for people open right in Excel on a Traditional-Chinese Windows: findings.csv
and summary.csv in UTF-8 with BOM and bilingual headers; the period's .xlsx with IDs as text,
percentages, frozen headers and filters. Read back byte for byte and cell for cell."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
import polars as pl
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from blanktrack.cli import main
from blanktrack.exports import table_csv
from blanktrack.reconcile import Reconciliation, reconcile
from blanktrack.workbook import write_workbook

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "blanktrack" / "sample" / "10312"
INVOICES = sorted(SAMPLE.glob("invoices_*.csv"))
BOM = b"\xef\xbb\xbf"


@pytest.fixture(scope="module")
def result() -> Reconciliation:
    return reconcile("10312", [SAMPLE / "allocations.csv"], INVOICES, ban="53567686",
                     report_date=dt.date(2015, 1, 8))


def test_table_csv_exact_bytes() -> None:
    df = pl.DataFrame({"ban": ["04595257"], "track": ["LQ"], "machine": ["=cmd"],
                       "utilisation": [0.712], "blank": [69]})
    assert table_csv(df) == (
        BOM + "統一編號 ban,字軌 track,機台 machine,使用率 utilisation,空白 blank\n"
        "04595257,LQ,'=cmd,71.2%,69\n".encode()
    )


def test_people_csvs_from_the_cli(tmp_path: Path) -> None:
    rc = main(["reconcile", "--period", "10312", "--report-date", "2015-01-08",
               "--allocations", str(SAMPLE / "allocations.csv"),
               "--invoices", *map(str, INVOICES), "--out-dir", str(tmp_path)])
    assert rc == 0
    summary = (tmp_path / "10312" / "53567686" / "summary.csv").read_bytes()
    assert summary.startswith(BOM)
    lines = summary[len(BOM):].decode("utf-8").split("\n")
    assert lines[:3] == [
        "期別 period,總機構統一編號 head_ban,統一編號 ban,發票類別 invoice_type,字軌 track,"
        "配號 allocated,已使用 used,空白 blank,跳號 skipped,他系統申報 reported_elsewhere,"
        "使用率 utilisation",
        "10312,53567686,04595257,07,LQ,100,31,69,1,0,31.0%",
        "10312,53567686,04595257,07,LR,50,0,50,0,0,0.0%",
    ]
    findings = (tmp_path / "10312" / "53567686" / "findings.csv").read_bytes()
    assert findings.startswith(BOM + "嚴重度 severity,代碼 code,期別 period,統一編號 ban,".encode())
    # the MOF upload file stays exactly as specified: no BOM, no header
    assert (tmp_path / "10312" / "53567686" / "53567686_10312.csv").read_bytes().startswith(
        b"00001,04595257,10312,LQ,00500017,00500017,07\r\n")


def test_workbook_reads_back(result: Reconciliation, tmp_path: Path) -> None:
    path = write_workbook(result, tmp_path / "10312.xlsx")
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["彙總 summary", "空白區間 blank ranges", "待查事項 findings",
                               "輸入檔案 inputs"]
    summary = book["彙總 summary"]
    rows = [[c.value for c in row] for row in summary.iter_rows()]
    assert rows[0] == ["期別 period", "總機構統一編號 head_ban", "統一編號 ban",
                       "發票類別 invoice_type", "字軌 track", "配號 allocated", "已使用 used",
                       "空白 blank", "跳號 skipped", "他系統申報 reported_elsewhere",
                       "使用率 utilisation"]
    assert rows[1] == ["10312", "53567686", "04595257", "07", "LQ", 100, 31, 69, 1, 0, 0.31]
    assert rows[3] == ["10312", "53567686", "53567686", "07", "KT", 250, 178, 72, 3, 0, 0.712]
    assert len(rows) == 6
    # IDs are text (leading zeros kept) formatted as text, utilisation a percentage
    ban, utilisation = summary["C2"], summary["K2"]
    assert ban.data_type == "s" and ban.number_format == "@"
    assert utilisation.data_type == "n" and utilisation.number_format == "0.0%"
    assert summary["F2"].number_format == "#,##0"
    for sheet, table, ref in (("彙總 summary", "summary", "A1:K6"),
                              ("空白區間 blank ranges", "blank_ranges", "A1:I11"),
                              ("待查事項 findings", "findings", "A1:J10"),
                              ("輸入檔案 inputs", "inputs", "A1:I6")):
        ws = book[sheet]
        assert ws.freeze_panes == "A2", sheet  # the header row stays in view
        [(name, found)] = [(t.name, t) for t in ws.tables.values()]
        assert name == table and found.ref == ref and found.autoFilter.ref == ref, sheet
    ranges = [[c.value for c in row] for row in book["空白區間 blank ranges"].iter_rows()]
    assert ranges[1] == ["10312", "53567686", "04595257", "07", "LQ", "00500017", "00500017", 1,
                         None]
    assert ranges[-1] == ["10312", "53567686", "53567686", "08", "XA", "00012320", "00012349",
                          30, None]
    findings = [[c.value for c in row] for row in book["待查事項 findings"].iter_rows()]
    assert [r[:2] for r in findings[1:3]] == [["error", "outside-allocation"],
                                              ["error", "upload-failed"]]
    inputs = [[c.value for c in row] for row in book["輸入檔案 inputs"].iter_rows()]
    assert inputs[0] == ["用途 role", "檔案 file", "筆數 rows", "位元組 bytes", "SHA-256 sha256",
                         "內容 found", "已讀檔案 files_read", "略過 passed_over", "無法辨識 unknown"]
    assert inputs[1][0] == "allocations" and inputs[1][2] == 8 and len(inputs[1][4]) == 64
    assert book.properties.created == dt.datetime(2015, 1, 8)


def test_workbook_is_deterministic_and_never_runs_text(result: Reconciliation,
                                                       tmp_path: Path) -> None:
    a = write_workbook(result, tmp_path / "a.xlsx").read_bytes()
    b = write_workbook(result, tmp_path / "b.xlsx").read_bytes()
    assert a == b
    tricky = result.findings.head(1).with_columns(machine=pl.lit("=HYPERLINK(\"x\")"),
                                                  message=pl.lit("+1234"))
    from dataclasses import replace

    path = write_workbook(replace(result, findings=tricky), tmp_path / "c.xlsx")
    row = [c for c in openpyxl.load_workbook(path)["待查事項 findings"][2]]
    assert [c.value for c in row[8:]] == ['=HYPERLINK("x")', "+1234"]
    assert all(c.data_type == "s" for c in row[8:])  # text, not a formula or a number
    assert not list(tmp_path.glob(".*.tmp-*"))


def test_workbook_of_a_period_without_findings(result: Reconciliation, tmp_path: Path) -> None:
    from dataclasses import replace

    path = write_workbook(replace(result, findings=result.findings.head(0)), tmp_path / "d.xlsx")
    rows = list(openpyxl.load_workbook(path)["待查事項 findings"].iter_rows(values_only=True))
    assert rows[0][:2] == ("嚴重度 severity", "代碼 code")


def _terminal_width(text: str) -> int:
    """The model: East Asian Wide or Fullwidth counts 2, a combining mark 0, the rest 1."""
    import unicodedata

    return sum(0 if unicodedata.combining(ch) else
               2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


CELL = st.text(st.sampled_from(["a", "Z", "7", " ", "空", "白", "Ａ", "é", "\u0301", "\u0300"]),
               max_size=30)


@settings(max_examples=60, deadline=None)
@given(cells=st.lists(st.one_of(st.none(), CELL), max_size=80))
@example(cells=[])  # the header alone
@example(cells=["a" + "\u0301" * 20 + f"{i:02d}" for i in range(40)] + ["空白空白空白空白"])
@example(cells=["空" * 200])  # at most MAX_WIDTH pixels
def test_workbook_column_width_is_the_widest_cell(cells: list[str | None]) -> None:
    """Each column is as wide as its widest cell or header in a terminal's columns (7 pixels
    each, 20 more, at most 480), however many distinct cells, wherever the widest lies (the
    widest in characters is not the longest in bytes when marks combine)."""
    from blanktrack.workbook import _widths

    df = pl.DataFrame({"cell": cells, "n": list(range(len(cells)))},
                      schema={"cell": pl.String, "n": pl.Int64})  # names without a label
    widest = max([_terminal_width("cell")] + [_terminal_width(c or "") for c in cells])
    assert _widths(df) == {"cell": min(480, 7 * widest + 20),
                           "n": 7 * max([1] + [len(str(i)) for i in range(len(cells))]) + 20}
