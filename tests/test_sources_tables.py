"""The platform's invoice download and ERP exports (CSV and .xlsx, Chinese headers, ROC dates,
split 字軌/號碼, a column mapping), each read through `reconcile` to the same blanks as the
canonical table of the same invoices."""

from __future__ import annotations

import polars as pl
import pytest
from sources_period import BRANCH, HEAD, blanks, run, write_allocations, write_canonical

from blanktrack.cli import main
from blanktrack.errors import InputError

INVOICES = [  # (number, ISO date, seller, status)
    ("AB00000000", "2014-11-01", HEAD, "issued"),
    ("AB00000001", "2014-11-05", HEAD, "cancelled"),
    ("AB00000002", "2014-12-31", HEAD, "issued"),
    ("CD00000100", "2014-11-20", BRANCH, "issued"),
]


def _m_row(number: str, date: str, seller: str, status: str, buyer: str = "買方公司") -> str:
    fields = ["M", number, "", "07", status, date, "04595257", buyer, seller, "賣方", "",
              "100", "100", "0", "0", "5", "105", "1", "", "", "", "", "", "", "", "F0401",
              seller, "賣方"]
    return ",".join(fields)


def _platform_text() -> str:
    word = {"issued": "開立已確認", "cancelled": "作廢已確認"}
    rows = []
    for i, (n, d, b, s) in enumerate(INVOICES):
        # An unquoted comma in the first buyer's name; dates with slashes and compact.
        buyer = "台灣,大公司" if i == 0 else "買方"
        date = d.replace("-", "/") if i % 2 else d.replace("-", "")
        rows.append(_m_row(n, date, b, word[s], buyer))
        rows.append(f"D,{n},品名,1,100,100,")
    return "\ufeff" + "\r\n".join(rows) + "\r\n"


def test_platform_download_with_an_unquoted_comma_in_a_buyer_name(tmp_path):
    alloc = write_allocations(tmp_path)
    download = tmp_path / "download.csv"
    download.write_text(_platform_text(), encoding="utf-8")
    canonical = write_canonical(tmp_path / "c.csv", INVOICES)
    result = run(alloc, [download])
    assert blanks(result) == blanks(run(alloc, [canonical]))
    assert (HEAD, "AB", "00000003", "00000099") in blanks(result)
    found = result.input_kinds[-1]
    assert (dict(found.kinds), found.rows) == ({"platform download": 1}, 4)


def test_platform_download_refuses_an_unknown_status_by_name(tmp_path):
    alloc = write_allocations(tmp_path)
    download = tmp_path / "download.csv"
    download.write_text(_platform_text().replace("作廢已確認", "註銷已確認"), encoding="utf-8")
    with pytest.raises(InputError) as err:
        run(alloc, [download])
    problem = err.value.problems[0]
    assert (problem.file, problem.line, problem.field) == (str(download), 3, "發票狀態")
    assert "status '註銷已確認' is not one blanktrack knows" in problem.message


ERP_HEADER = "單號,發票日期,賣方統一編號,字軌,號碼,發票狀態,機台,金額\n"


def _erp_rows(date_style: str) -> str:
    word = {"issued": "開立", "cancelled": "作廢"}
    lines = []
    for i, (n, d, b, s) in enumerate(INVOICES):
        y, m, day = d.split("-")
        roc = f"{int(y) - 1911:03d}"
        date = {"roc-slash": f"{roc}/{m}/{day}", "roc-compact": f"{roc}{m}{day}",
                "western": f"{y}/{int(m)}/{int(day)}"}[date_style]
        lines.append(f"S{i},{date},{b},{n[:2]},{n[2:]},{word[s]},POS-{i % 2},{100 + i}\n")
    return "".join(lines)


@pytest.mark.parametrize("date_style", ["roc-slash", "roc-compact", "western"])
def test_erp_csv_with_chinese_headers_split_track_and_dates(tmp_path, date_style):
    alloc = write_allocations(tmp_path)
    erp = tmp_path / "erp.csv"
    erp.write_text(ERP_HEADER + _erp_rows(date_style), encoding="cp950")  # Big5, as ERPs write
    result = run(alloc, [erp])
    assert blanks(result) == blanks(run(alloc, [write_canonical(tmp_path / "c.csv", INVOICES)]))
    assert result.input_kinds[-1].kinds == {"ERP csv": 1}
    assert set(result.issuing["machine"].to_list()) == {"POS-0", "POS-1"}


def test_erp_xlsx(tmp_path):
    alloc = write_allocations(tmp_path)
    frame = pl.DataFrame({
        "發票號碼": [n for n, *_ in INVOICES],
        "發票日期": [f"{int(d[:4]) - 1911}/{d[5:7]}/{d[8:]}" for _, d, *_ in INVOICES],
        "賣方統編": [b for _, _, b, _ in INVOICES],
        "發票狀態": [{"issued": "開立", "cancelled": "作廢"}[s] for *_, s in INVOICES],
    })
    path = tmp_path / "export.xlsx"
    frame.write_excel(path)
    result = run(alloc, [path])
    assert blanks(result) == blanks(run(alloc, [write_canonical(tmp_path / "c.csv", INVOICES)]))
    assert result.input_kinds[-1].kinds == {"ERP xlsx": 1}
    assert result.input_kinds[-1].rows == 4


def test_erp_bad_value_names_the_original_file_line_and_field(tmp_path):
    alloc = write_allocations(tmp_path)
    erp = tmp_path / "erp.csv"
    erp.write_text(ERP_HEADER + _erp_rows("roc-slash").replace("103/11/20", "103/11/31"),
                   encoding="utf-8")
    with pytest.raises(InputError) as err:
        run(alloc, [erp])
    problem = err.value.problems[0]
    assert (problem.file, problem.line, problem.field) == (str(erp), 5, "invoice_date")
    assert "'2014-11-31' is not a real calendar date" in problem.message


def test_any_other_header_through_a_column_mapping_on_the_command_line(tmp_path, capsys):
    alloc = write_allocations(tmp_path)
    erp = tmp_path / "odd.csv"
    lines = ["單據號碼,日期,公司,狀況\n"] + [
        f"{n},{d},{b},{ {'issued': '開立', 'cancelled': '作廢'}[s]}\n" for n, d, b, s in INVOICES]
    erp.write_text("".join(lines), encoding="utf-8")
    args = ["reconcile", "--period", "10312", "--allocations", str(alloc), "--invoices", str(erp),
            "--out-dir", str(tmp_path / "out"), "--report-date", "2015-01-08"]
    assert main(args) == 1  # no header it knows
    err = capsys.readouterr().err
    assert f"{erp}:1: missing column(s)" in err and "name its columns with --columns" in err
    assert main([*args, "--columns",
                 "invoice_number=單據號碼,invoice_date=日期,seller_ban=公司,status=狀況"]) == 0
    mof = (tmp_path / "out" / "10312" / HEAD / f"{HEAD}_10312.csv").read_text(encoding="utf-8")
    assert f"{HEAD},10312,AB,00000003,00000099,07" in mof


def test_column_mapping_naming_a_missing_header_is_refused(tmp_path):
    alloc = write_allocations(tmp_path)
    erp = tmp_path / "erp.csv"
    erp.write_text(ERP_HEADER + _erp_rows("western"), encoding="utf-8")
    with pytest.raises(InputError, match="the column mapping names header"):
        run(alloc, [erp], columns={"machine": "收銀台"})


def test_platform_excel_download(tmp_path):
    """The platform's Excel download (the 2019 page's columns) reads as an export with known
    headers, its statuses mapped."""
    alloc = write_allocations(tmp_path)
    word = {"issued": "開立已確認", "cancelled": "作廢已確認"}
    frame = pl.DataFrame({
        "發票號碼": [n for n, *_ in INVOICES], "註記欄": [""] * 4, "格式代號": ["35"] * 4,
        "發票狀態": [word[s] for *_, s in INVOICES],
        "發票日期": [d.replace("-", "/") for _, d, *_ in INVOICES],
        "買方統一編號": [""] * 4, "買方名稱": ["客,戶"] * 4,
        "賣方統一編號": [b for _, _, b, _ in INVOICES], "賣方名稱": ["賣方"] * 4,
    })
    path = tmp_path / "download.xlsx"
    frame.write_excel(path)
    result = run(alloc, [path])
    assert blanks(result) == blanks(run(alloc, [write_canonical(tmp_path / "c.csv", INVOICES)]))
    assert result.input_kinds[-1].rows == 4


def test_erp_xlsx_with_date_cells(tmp_path):
    import datetime as dt

    alloc = write_allocations(tmp_path)
    frame = pl.DataFrame({
        "發票號碼": [n for n, *_ in INVOICES],
        "發票日期": [dt.date.fromisoformat(d) for _, d, *_ in INVOICES],  # real date cells
        "賣方統一編號": [b for _, _, b, _ in INVOICES],
        "發票狀態": [{"issued": "開立", "cancelled": "作廢"}[s] for *_, s in INVOICES],
    })
    frame.write_excel(tmp_path / "export.xlsx")
    result = run(alloc, [tmp_path / "export.xlsx"])
    assert blanks(result) == blanks(run(alloc, [write_canonical(tmp_path / "c.csv", INVOICES)]))
