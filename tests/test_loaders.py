"""Tests of the input loaders: text decoding, allocations and invoices."""

from __future__ import annotations

import codecs
import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from blanktrack import invoices, textio
from blanktrack.allocations import load_allocations
from blanktrack.errors import InputError
from blanktrack.invoices import load_invoices
from blanktrack.schemas import ALLOCATION_SCHEMA, INVOICE_SCHEMA

VALID_BANS = ["53567686", "04595257", "10458575", "04595252", "12345670", "10000073"]
BAD_BAN = "53567687"

MOF_HEADER = "統一編號,發票類別代號,發票類別,期別,字軌,起號,迄號"
MOF_ROWS = [
    "53567686,07,一般稅額計算,113/03 ~ 113/04,MB,02034250,02034299",
    "53567686,7,一般稅額計算,113/03~113/04,MC,00000000,00000049",
    "04595257,08,特種稅額計算,113/03 ~113/04,ZZ,10000050,10000099",
]
CANONICAL_HEADER = "ban,invoice_type,period,track,begin_no,end_no,head_ban,machine,reported_by"
INVOICE_HEADER = "invoice_number,invoice_date,seller_ban,status,machine,upload_status"


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def csv_text(*lines: str) -> str:
    return "\n".join(lines) + "\n"


def error_of(excinfo: pytest.ExceptionInfo[InputError]) -> str:
    return str(excinfo.value)


def assert_problem(err: InputError, file: Path, line: int | None, field: str | None) -> None:
    """The first problem names the file, the line and the field."""
    problem = err.problems[0]
    assert problem.file == str(file)
    assert problem.line == line
    assert problem.field == field
    text = str(err)
    assert str(file) in text
    if line is not None:
        assert f":{line}" in text
    if field is not None:
        assert f"field '{field}'" in text


# --------------------------------------------------------------------------------------------
# textio


def test_decode_utf8_bom_and_cp950() -> None:
    text = "統一編號,期別\n"
    assert textio.decode_bytes(text.encode("utf-8"), "f").encoding == "utf-8"
    with_bom = textio.decode_bytes(codecs.BOM_UTF8 + text.encode("utf-8"), "f")
    assert with_bom.encoding == "utf-8-sig" and with_bom.text == text
    big5 = textio.decode_bytes(text.encode("cp950"), "f")
    assert big5.encoding == "cp950" and big5.text == text
    utf16 = textio.decode_bytes(text.encode("utf-16"), "f")  # Python writes the BOM
    assert utf16.encoding == "utf-16" and utf16.text == text


def test_undecodable_line_is_named() -> None:
    data = b"a,b\n1,2\n" + b"\xff\xfe\xff,3\n"
    with pytest.raises(InputError) as excinfo:
        textio.decode_bytes(data, "bad.csv")
    assert excinfo.value.problems[0].line == 3
    assert "bad.csv:3" in error_of(excinfo)


def test_utf16_without_bom_is_refused() -> None:
    with pytest.raises(InputError, match="NUL"):
        textio.decode_bytes("a,b\n".encode("utf-16-le"), "f")


def test_replacement_characters_are_refused() -> None:
    with pytest.raises(InputError, match="replacement"):
        textio.decode_bytes("a,b\n1,\ufffd\n".encode(), "f")


@pytest.mark.parametrize(("sep", "name"), [(";", "semicolon"), ("\t", "tab")])
def test_delimiter_must_be_comma(tmp_path: Path, sep: str, name: str) -> None:
    path = write(tmp_path / "x.csv", f"a{sep}b{sep}c\n1{sep}2{sep}3\n")
    with pytest.raises(InputError) as excinfo:
        textio.read_rows(path)
    assert name in error_of(excinfo)
    assert "comma-separated" in error_of(excinfo)


def test_rows_keep_physical_lines_and_strip(tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", 'a , b\n\n 1 ,"two\nlines"\n3,4\n')
    rows = textio.read_rows(path).rows
    assert rows == [(1, ["a", "b"]), (3, ["1", "two\nlines"]), (5, ["3", "4"])]


# --------------------------------------------------------------------------------------------
# Allocations: formats


def assert_allocation_frame(df: pl.DataFrame) -> None:
    assert df.schema == pl.Schema(ALLOCATION_SCHEMA)
    assert df.columns == list(ALLOCATION_SCHEMA)


def test_mof_download_with_header(tmp_path: Path) -> None:
    path = write(tmp_path / "invnoapply.csv", csv_text(MOF_HEADER, *MOF_ROWS))
    df = load_allocations([path])
    assert_allocation_frame(df)
    assert df["ban"].to_list() == ["53567686", "53567686", "04595257"]
    assert df["invoice_type"].to_list() == ["07", "07", "08"]
    assert df["period"].to_list() == ["11304"] * 3
    assert df["track"].to_list() == ["MB", "MC", "ZZ"]
    assert df["begin_no"].to_list() == ["02034250", "00000000", "10000050"]
    assert df["end_no"].to_list() == ["02034299", "00000049", "10000099"]
    assert df["head_ban"].to_list() == df["ban"].to_list()
    assert df["machine"].null_count() == 3 and df["reported_by"].null_count() == 3
    assert df["line"].to_list() == [2, 3, 4]
    assert df["source"].to_list() == [str(path)] * 3


def test_mof_download_with_english_header(tmp_path: Path) -> None:
    header = "BAN,Type,Type name,Period,Track,Begin,End"
    path = write(tmp_path / "invnoapply.csv", csv_text(header, *MOF_ROWS))
    assert load_allocations([path])["line"].to_list() == [2, 3, 4]


def test_mof_download_without_header(tmp_path: Path) -> None:
    path = write(tmp_path / "invnoapply.csv", csv_text(*MOF_ROWS))
    df = load_allocations([path])
    assert df.height == 3
    assert df["line"].to_list() == [1, 2, 3]


def test_mof_download_with_bom(tmp_path: Path) -> None:
    path = tmp_path / "invnoapply.csv"
    path.write_bytes(codecs.BOM_UTF8 + csv_text(MOF_HEADER, *MOF_ROWS).encode())
    assert load_allocations([path])["ban"].to_list()[0] == "53567686"


def test_mof_download_in_cp950(tmp_path: Path) -> None:
    path = write(tmp_path / "invnoapply.csv", csv_text(MOF_HEADER, *MOF_ROWS), "cp950")
    assert path.read_bytes().decode("cp950").count("一般稅額計算") == 2
    df = load_allocations([path])
    assert df["track"].to_list() == ["MB", "MC", "ZZ"]


def test_mof_download_keeps_other_bans(tmp_path: Path) -> None:
    path = write(tmp_path / "invnoapply.csv", csv_text(*MOF_ROWS))
    assert set(load_allocations([path])["ban"]) == {"53567686", "04595257"}


def test_mof_download_trailing_comma_and_crlf(tmp_path: Path) -> None:
    path = write(tmp_path / "invnoapply.csv", "\r\n".join(r + "," for r in MOF_ROWS) + "\r\n")
    assert load_allocations([path]).height == 3


def test_canonical_csv(tmp_path: Path) -> None:
    path = write(
        tmp_path / "alloc.csv",
        csv_text(
            CANONICAL_HEADER,
            "10458575,07,11304,AB,00000000,00000099,53567686,POS-1,",
            " 12345670 , 8 ,11304,AC,00000100,00000149,,,erp",
        ),
    )
    df = load_allocations([path])
    assert_allocation_frame(df)
    assert df.rows() == [
        ("10458575", "07", "11304", "AB", "00000000", "00000099", "53567686", "POS-1", None,
         str(path), 2),
        ("12345670", "08", "11304", "AC", "00000100", "00000149", "12345670", None, "erp",
         str(path), 3),
    ]


def test_canonical_csv_without_optional_columns(tmp_path: Path) -> None:
    path = write(
        tmp_path / "alloc.csv",
        csv_text(
            "BAN,Invoice_Type,period,track,begin_no,end_no",
            "10000073,07,11302,XY,00000050,00000099",
        ),
    )
    df = load_allocations([path])
    assert df["head_ban"].to_list() == ["10000073"]
    assert df["machine"].to_list() == [None]


def test_canonical_parquet(tmp_path: Path) -> None:
    path = tmp_path / "alloc.parquet"
    pl.DataFrame(
        {
            "ban": ["53567686", "04595252"],
            "invoice_type": ["07", "7"],
            "period": ["11304", "11304"],
            "track": ["MB", "MC"],
            "begin_no": [2034250, 0],  # integers: exact, so leading zeros are restored
            "end_no": ["02034299", "00000049"],
            "reported_by": [None, ""],
        }
    ).write_parquet(path)
    df = load_allocations([path])
    assert_allocation_frame(df)
    assert df["begin_no"].to_list() == ["02034250", "00000000"]
    assert df["invoice_type"].to_list() == ["07", "07"]
    assert df["reported_by"].to_list() == [None, None]
    assert df["line"].to_list() == [1, 2]


def test_parquet_float_numbers_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "alloc.parquet"
    pl.DataFrame(
        {"ban": ["53567686"], "invoice_type": ["07"], "period": ["11304"], "track": ["MB"],
         "begin_no": [2034250.0], "end_no": ["02034299"]}
    ).write_parquet(path)
    with pytest.raises(InputError) as excinfo:
        load_allocations([path])
    assert_problem(excinfo.value, path, None, "begin_no")
    assert "Float64" in error_of(excinfo)


def test_several_allocation_files(tmp_path: Path) -> None:
    a = write(tmp_path / "a.csv", csv_text(*MOF_ROWS[:1]))
    b = write(tmp_path / "b.csv", csv_text(MOF_HEADER, *MOF_ROWS[1:]))
    df = load_allocations([a, str(b)])
    assert df["source"].to_list() == [str(a), str(b), str(b)]


# --------------------------------------------------------------------------------------------
# Allocations: one test per validation rule


def mof_file(tmp_path: Path, row: str) -> Path:
    """A MOF download whose second data row (line 3) is `row`."""
    return write(tmp_path / "invnoapply.csv", csv_text(MOF_HEADER, MOF_ROWS[0], row))


def mof_row(**fields: str) -> str:
    values = {"ban": "53567686", "type": "07", "label": "一般稅額計算", "period": "113/03 ~ 113/04",
              "track": "MD", "begin": "02034300", "end": "02034349"}
    values.update(fields)
    return ",".join(values.values())


@pytest.mark.parametrize("ban", VALID_BANS)
def test_valid_bans_are_accepted(tmp_path: Path, ban: str) -> None:
    assert load_allocations([mof_file(tmp_path, mof_row(ban=ban))]).height == 2


ALLOCATION_RULES = [
    # (fields of the bad row, field named, words in the message)
    ({"ban": BAD_BAN}, "ban", "check digit"),
    ({"ban": "5356768"}, "ban", "leading zeros"),
    ({"type": "09"}, "invoice_type", "07"),
    ({"period": "113/04 ~ 113/05"}, "period", "even month"),
    ({"period": "113/12~114/01"}, "period", "113/12~114/01"),
    ({"period": "11303"}, "period", "even end month"),
    ({"period": "1134"}, "period", "leading zero"),
    ({"period": "1130304"}, "period", "5-digit"),
    ({"track": "mb"}, "track", "upper-case"),
    ({"track": "MBC"}, "track", "3 letters"),
    ({"track": "M1"}, "track", "A–Z"),
    ({"begin": "2034300"}, "begin_no", "leading zeros"),
    ({"begin": "2.03E+06"}, "begin_no", "scientific notation"),
    ({"end": "020343499"}, "end_no", "9 digits"),
    ({"end": "MD02034349"}, "end_no", "track letters"),
    ({"begin": "02034350", "end": "02034349"}, "end_no", "below begin"),
    ({"end": ""}, "end_no", "empty"),
]


@pytest.mark.parametrize(("fields", "field", "words"), ALLOCATION_RULES)
def test_allocation_rule(tmp_path: Path, fields: dict[str, str], field: str, words: str) -> None:
    path = mof_file(tmp_path, mof_row(**fields))
    with pytest.raises(InputError) as excinfo:
        load_allocations([path])
    assert_problem(excinfo.value, path, 3, field)
    assert len(excinfo.value.problems) == 1
    assert words in error_of(excinfo)


def test_head_ban_check_digit(tmp_path: Path) -> None:
    path = write(
        tmp_path / "alloc.csv",
        csv_text(CANONICAL_HEADER, f"10458575,07,11304,AB,00000000,00000099,{BAD_BAN},,"),
    )
    with pytest.raises(InputError) as excinfo:
        load_allocations([path])
    assert_problem(excinfo.value, path, 2, "head_ban")
    assert "head office BAN" in error_of(excinfo)


def test_canonical_period_span_is_accepted(tmp_path: Path) -> None:
    path = write(
        tmp_path / "alloc.csv",
        csv_text(CANONICAL_HEADER, "10458575,07,113/03~113/04,AB,00000000,00000099,,,"),
    )
    assert load_allocations([path])["period"].to_list() == ["11304"]


def test_wrong_field_count(tmp_path: Path) -> None:
    path = mof_file(tmp_path, "53567686,07,一般稅額計算,113/03 ~ 113/04,MD,02034300")
    with pytest.raises(InputError) as excinfo:
        load_allocations([path])
    assert_problem(excinfo.value, path, 3, None)
    assert "expected 7 fields, found 6" in error_of(excinfo)


def test_problems_are_listed_up_to_20_and_counted(tmp_path: Path) -> None:
    rows = [mof_row(ban=BAD_BAN, track="mb") for _ in range(15)]
    path = write(tmp_path / "invnoapply.csv", csv_text(*rows))
    with pytest.raises(InputError) as excinfo:
        load_allocations([path])
    err = excinfo.value
    assert len(err.problems) == 20 and err.more == 10
    assert [p.line for p in err.problems[:4]] == [1, 1, 2, 2]
    assert "10 more" in str(err)


def test_missing_columns(tmp_path: Path) -> None:
    path = write(tmp_path / "alloc.csv", csv_text("ban,invoice_type,period,track", "1,2,3,4"))
    with pytest.raises(InputError) as excinfo:
        load_allocations([path])
    text = error_of(excinfo)
    assert str(path) in text and "begin_no, end_no" in text
    assert "ban,invoice_type,period,track,begin_no,end_no" in text


@pytest.mark.parametrize("content", ["", "\n\n", MOF_HEADER + "\n", CANONICAL_HEADER + "\n"])
def test_no_allocation_rows(tmp_path: Path, content: str) -> None:
    path = write(tmp_path / "alloc.csv", content)
    with pytest.raises(InputError, match="no allocation rows") as excinfo:
        load_allocations([path])
    assert str(path) in error_of(excinfo)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read"):
        load_allocations([tmp_path / "nope.csv"])


# --------------------------------------------------------------------------------------------
# Invoices


def invoice_csv(path: Path, *rows: str, encoding: str = "utf-8") -> Path:
    return write(path, csv_text(INVOICE_HEADER, *rows), encoding)


GOOD_INVOICES = [
    "MB02034250,2024-03-05,53567686,issued,POS-1,accepted",
    "MB02034251,20240306,53567686,作廢,POS-1,",
    "MB02034252,2024-04-30,53567686,註銷,,failed",
    "MB02034252,2024-04-30,53567686,開立,,ACCEPTED",
]


def test_invoices_csv(tmp_path: Path) -> None:
    path = invoice_csv(tmp_path / "pos.csv", *GOOD_INVOICES)
    lf = load_invoices([path])
    assert isinstance(lf, pl.LazyFrame)
    df = lf.collect()
    assert df.schema == pl.Schema(INVOICE_SCHEMA)
    assert df["status"].to_list() == ["issued", "cancelled", "voided", "issued"]
    assert df["upload_status"].to_list() == ["accepted", None, "failed", "accepted"]
    assert df["track"].to_list() == ["MB"] * 4
    assert df["number"].to_list() == ["02034250", "02034251", "02034252", "02034252"]
    assert df["invoice_date"].to_list()[:2] == [dt.date(2024, 3, 5), dt.date(2024, 3, 6)]
    assert df["machine"].to_list() == ["POS-1", "POS-1", None, None]
    assert df["line"].to_list() == [2, 3, 4, 5]


def test_invoices_cp950_and_bom(tmp_path: Path) -> None:
    big5 = invoice_csv(tmp_path / "big5.csv", *GOOD_INVOICES, encoding="cp950")
    bom = tmp_path / "bom.csv"
    bom.write_bytes(codecs.BOM_UTF8 + csv_text(INVOICE_HEADER, *GOOD_INVOICES).encode())
    df = load_invoices([big5, bom]).collect()
    assert df.height == 8
    assert df["status"].to_list()[:4] == ["issued", "cancelled", "voided", "issued"]


def test_invoices_optional_columns_and_blank_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path / "erp.csv",
        "Invoice_Number , invoice_date,seller_ban,status\n"
        "\n"
        "AB00000001 ,2024-01-02, 04595252,Issued\n",
    )
    df = load_invoices([path]).collect()
    assert df.select("invoice_number", "seller_ban", "status", "machine", "line").rows() == [
        ("AB00000001", "04595252", "issued", None, 3)
    ]


def test_invoices_parquet_with_date_column(tmp_path: Path) -> None:
    path = tmp_path / "erp.parquet"
    pl.DataFrame(
        {
            "invoice_number": ["AB00000001", "AB00000002"],
            "invoice_date": [dt.date(2024, 1, 2), dt.date(2024, 2, 29)],
            "seller_ban": [4595257, 10000073],  # integers: leading zero restored
            "status": ["issued", "voided"],
        }
    ).write_parquet(path)
    df = load_invoices([path]).collect()
    assert df.schema == pl.Schema(INVOICE_SCHEMA)
    assert df["seller_ban"].to_list() == ["04595257", "10000073"]
    assert df["invoice_date"].to_list() == [dt.date(2024, 1, 2), dt.date(2024, 2, 29)]
    assert df["line"].to_list() == [1, 2]


def test_invoices_parquet_with_datetime_column(tmp_path: Path) -> None:
    path = tmp_path / "erp.parquet"
    pl.DataFrame(
        {
            "invoice_number": ["AB00000001"],
            "invoice_date": [dt.datetime(2024, 1, 2, 23, 59)],
            "seller_ban": ["04595257"],
            "status": ["issued"],
        }
    ).write_parquet(path)
    assert load_invoices([path]).collect()["invoice_date"].to_list() == [dt.date(2024, 1, 2)]


def test_several_invoice_files(tmp_path: Path) -> None:
    a = invoice_csv(tmp_path / "pos.csv", *GOOD_INVOICES[:2])
    b = tmp_path / "erp.parquet"
    pl.DataFrame(
        {"invoice_number": ["AB00000001"], "invoice_date": ["2024-01-02"],
         "seller_ban": ["12345670"], "status": ["作廢"], "machine": ["erp"]}
    ).write_parquet(b)
    c = invoice_csv(tmp_path / "web.csv", GOOD_INVOICES[2])
    df = load_invoices([a, b, c]).collect()
    assert df["source"].to_list() == [str(a), str(a), str(b), str(c)]
    assert df["line"].to_list() == [2, 3, 1, 2]
    assert df["status"].to_list() == ["issued", "cancelled", "cancelled", "voided"]


def test_large_invoice_file_is_scanned_as_utf8(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(invoices, "LARGE_FILE_BYTES", 10)
    path = tmp_path / "big.csv"
    path.write_bytes(codecs.BOM_UTF8 + csv_text(INVOICE_HEADER, *GOOD_INVOICES).encode())
    assert load_invoices([path]).collect()["status"].to_list()[1] == "cancelled"
    big5 = invoice_csv(tmp_path / "big5.csv", *GOOD_INVOICES, encoding="cp950")
    with pytest.raises(InputError, match="must be UTF-8") as excinfo:
        load_invoices([big5])
    assert excinfo.value.problems[0].line == 3


def test_invoice_delimiter(tmp_path: Path) -> None:
    path = write(tmp_path / "pos.csv", INVOICE_HEADER.replace(",", ";") + "\n")
    with pytest.raises(InputError, match="semicolon"):
        load_invoices([path])


def test_invoice_missing_columns(tmp_path: Path) -> None:
    path = write(tmp_path / "pos.csv", "invoice_number,invoice_date\nAB00000001,2024-01-02\n")
    with pytest.raises(InputError) as excinfo:
        load_invoices([path])
    text = error_of(excinfo)
    assert str(path) in text and "seller_ban, status" in text


def invoice_row(**fields: str) -> str:
    values = {"invoice_number": "MB02034253", "invoice_date": "2024-03-07",
              "seller_ban": "53567686", "status": "issued", "machine": "", "upload_status": ""}
    values.update(fields)
    return ",".join(values.values())


INVOICE_RULES = [
    ({"invoice_number": "MB0203425"}, "invoice_number", "9 characters"),
    ({"invoice_number": "mb02034253"}, "invoice_number", "upper-case"),
    ({"invoice_number": "MB0203425X"}, "invoice_number", "not digits"),
    ({"invoice_number": ""}, "invoice_number", "empty"),
    ({"invoice_date": "2024-02-30"}, "invoice_date", "not a real calendar date"),
    ({"invoice_date": "20241301"}, "invoice_date", "not a real calendar date"),
    ({"invoice_date": "2024/03/07"}, "invoice_date", "YYYY-MM-DD"),
    ({"invoice_date": "1130307"}, "invoice_date", "ROC"),
    ({"seller_ban": BAD_BAN}, "seller_ban", "check digit"),
    ({"seller_ban": "4595257"}, "seller_ban", "leading zeros"),
    ({"status": "deleted"}, "status", "issued, cancelled or voided"),
    ({"upload_status": "pending"}, "upload_status", "accepted"),
]


@pytest.mark.parametrize(("fields", "field", "words"), INVOICE_RULES)
def test_invoice_rule(tmp_path: Path, fields: dict[str, str], field: str, words: str) -> None:
    path = invoice_csv(tmp_path / "pos.csv", GOOD_INVOICES[0], invoice_row(**fields))
    with pytest.raises(InputError) as excinfo:
        load_invoices([path])
    assert_problem(excinfo.value, path, 3, field)
    assert len(excinfo.value.problems) == 1
    assert words in error_of(excinfo)


def test_invoice_rule_in_parquet(tmp_path: Path) -> None:
    path = tmp_path / "erp.parquet"
    pl.DataFrame(
        {
            "invoice_number": ["AB00000001", "AB00000002"],
            "invoice_date": ["2024-01-02", "2024-01-32"],
            "seller_ban": ["12345670", "12345670"],
            "status": ["issued", "issued"],
        }
    ).write_parquet(path)
    with pytest.raises(InputError) as excinfo:
        load_invoices([path])
    assert_problem(excinfo.value, path, 2, "invoice_date")


def test_invoice_problems_listed_and_counted(tmp_path: Path) -> None:
    rows = [invoice_row(seller_ban=BAD_BAN, status="x") for _ in range(30)]
    path = invoice_csv(tmp_path / "pos.csv", *rows)
    with pytest.raises(InputError) as excinfo:
        load_invoices([path])
    err = excinfo.value
    assert len(err.problems) == 20
    assert err.more == 40
    assert [(p.line, p.field) for p in err.problems[:3]] == [
        (2, "seller_ban"), (2, "status"), (3, "seller_ban")
    ]


def test_scan_invoices_is_lazy_and_unchecked(tmp_path: Path) -> None:
    path = invoice_csv(tmp_path / "pos.csv", invoice_row(status="x"))
    df = invoices.scan_invoices([path]).collect()
    assert df.columns == list(INVOICE_SCHEMA)
    assert df["status"].to_list() == [None]


def test_invoice_extra_field(tmp_path: Path) -> None:
    path = invoice_csv(tmp_path / "pos.csv", GOOD_INVOICES[0], GOOD_INVOICES[1] + ",extra")
    with pytest.raises(InputError) as excinfo:
        load_invoices([path])
    assert_problem(excinfo.value, path, 3, None)
    assert "expected 6 fields as in the header, found 7" in error_of(excinfo)
