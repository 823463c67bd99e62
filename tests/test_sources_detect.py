"""Each input is known by its content, never its name (issue 15)."""

from __future__ import annotations

import pytest
from mig_factory import e0501_xml, message_xml
from sources_period import ALLOCATIONS, CANONICAL_HEADER, HEAD

from blanktrack.sources.detect import sniff

PLATFORM_ROW = ("M,AB00000001,,07,開立已確認,2014/11/05,,客,戶,53567686,賣方,,100,100,0,0,5,105,1,,,"
                ",,,,F0401,53567686,賣方\n")


@pytest.mark.parametrize(("name", "data", "kind", "message"), [
    ("invoices.xml", CANONICAL_HEADER.encode() + b"AB00000001,2014-11-01,53567686,issued,,\n",
     "canonical", None),
    ("allocations.csv", message_xml("F0401", "4.1", "AB00000001", "20141105", HEAD), "xml",
     "F0401"),
    ("invoices.parquet", PLATFORM_ROW.encode("utf-8"), "platform", None),
    ("data.txt", "發票號碼,發票日期,賣方統編,發票狀態\n".encode("cp950"), "erp", None),
    ("e.csv", e0501_xml(HEAD, "07", "10312", "AB", "00000000", "00000049"), "xml", "E0501"),
    ("x.csv", ALLOCATIONS.encode(), "allocations", None),
    ("notes.csv", b"hello world\n", "unknown", None),
    ("blank.csv", b"\xef\xbb\xbf \r\n", "empty", None),
])
def test_sniff_by_content(tmp_path, name, data, kind, message):
    path = tmp_path / name
    path.write_bytes(data)
    found = sniff(path)
    assert found.kind == kind
    assert (found.message.message if found.message else None) == message


def test_a_column_mapping_makes_an_unknown_header_an_export(tmp_path):
    path = tmp_path / "odd.csv"
    path.write_text("單據號碼,日期,公司,狀況\nAB00000001,113/11/05,53567686,開立\n", encoding="utf-8")
    assert sniff(path).kind == "unknown"
    mapping = {"invoice_number": "單據號碼", "invoice_date": "日期", "seller_ban": "公司",
               "status": "狀況"}
    assert sniff(path, mapping).kind == "erp"


@pytest.mark.parametrize(("data", "head"), [
    (b"PAR1" + b"\0" * 100_000, b"PAR1"),  # a Parquet file: its magic alone
    (b"PAR2" + b"x" * 100_000, b"PAR2" + b"x" * 65_532),  # anything else: 64 KiB
    (b"PA", b"PA"),  # shorter than the magic
    (b"", b""),
])
def test_the_head_of_a_parquet_file_is_its_magic(tmp_path, data, head):
    from blanktrack.textio import read_head

    path = tmp_path / "f"
    path.write_bytes(data)
    assert read_head(path, 65_536, unless=b"PAR1") == head
    assert read_head(path, 65_536) == data[:65_536]
