"""The project's own E0402 schema (blanktrack/schema/E0402.xsd), checked with lxml.

It must accept everything the writer produces and only documents the MOF's 4.1 schema
(../shared/xsd/E0402_4.1.xsd, used in place) accepts too, and it must refuse what the 4.1 schema
lets through by mistake: the '|' of its month pattern, BANs that are not 8 digits, non-ASCII
digits, elements out of the MIG 3.1 order.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from corpus.checks import ROOT, SAMPLE, SHARED_XSD, e0402_files, schemas, xsd_errors
from lxml import etree

from blanktrack.cli import main
from blanktrack.e0402 import MAX_ITEMS, NAMESPACE, SCHEMA, render_e0402

EXAMPLE = SHARED_XSD.parent / "E0402_4.1.example.xml"


def valid(data: bytes) -> dict[str, bool]:
    doc = etree.fromstring(data).getroottree()
    return {name: schema.validate(doc) for name, schema in schemas().items()}


def doc(main_xml: str | None = None, items: str | None = None) -> bytes:
    main_xml = main_xml or (
        "<HeadBan>53567686</HeadBan><BranchBan>53567686</BranchBan>"
        "<InvoiceType>07</InvoiceType><YearMonth>10312</YearMonth>"
        "<InvoiceTrack>MB</InvoiceTrack>"
    )
    if items is None:
        items = ("<BranchTrackBlankItem><InvoiceBeginNo>02034268</InvoiceBeginNo>"
                 "<InvoiceEndNo>02034299</InvoiceEndNo></BranchTrackBlankItem>")
    return (f'<BranchTrackBlank xmlns="{NAMESPACE}"><Main>{main_xml}</Main>'
            f"<Details>{items}</Details></BranchTrackBlank>").encode()


def test_schema_is_package_data() -> None:
    assert SCHEMA.is_file() and SCHEMA.parent.name == "schema"
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "schema/*.xsd" in pyproject["tool"]["setuptools"]["package-data"]["blanktrack"]
    root = etree.parse(str(SCHEMA)).getroot()
    assert root.get("targetNamespace") == "urn:GEINV:eInvoiceMessage:E0402:4.1"
    assert not root.findall("{http://www.w3.org/2001/XMLSchema}include")  # self-contained


def test_shared_example_and_minimal_document_validate() -> None:
    if EXAMPLE.exists():
        assert xsd_errors(EXAMPLE.read_bytes()) == []
    assert xsd_errors(doc()) == []


def test_every_e0402_of_the_sample_validates(tmp_path: Path) -> None:
    out = tmp_path / "out"
    rc = main(["reconcile", "--period", "10312", "--report-date", "2015-01-08",
               "--allocations", str(SAMPLE / "allocations.csv"),
               "--invoices", *map(str, sorted(SAMPLE.glob("invoices_*.csv"))),
               "--out-dir", str(out)])
    assert rc == 0
    files = e0402_files(out)
    assert len(files) >= 4
    for path in files:
        assert xsd_errors(path.read_bytes()) == [], path


def test_largest_document_validates_and_one_more_item_does_not() -> None:
    items = [(f"{2 * i:08d}", f"{2 * i:08d}") for i in range(MAX_ITEMS)]
    data = render_e0402("53567686", "04595257", "08", "11302", "ZZ", items)
    assert xsd_errors(data) == []
    extra = ("<BranchTrackBlankItem><InvoiceBeginNo>99999999</InvoiceBeginNo>"
             "<InvoiceEndNo>99999999</InvoiceEndNo></BranchTrackBlankItem>")
    too_many = data.replace(b"  </Details>", extra.encode() + b"</Details>")
    assert valid(too_many) == {"own": False, "MOF 4.1": False}


MAIN = ("<HeadBan>53567686</HeadBan><BranchBan>53567686</BranchBan>"
        "<InvoiceType>07</InvoiceType><YearMonth>10312</YearMonth><InvoiceTrack>MB</InvoiceTrack>")
ITEM = ("<BranchTrackBlankItem><InvoiceBeginNo>{b}</InvoiceBeginNo>"
        "<InvoiceEndNo>{e}</InvoiceEndNo></BranchTrackBlankItem>")


@pytest.mark.parametrize(("main_xml", "items", "mof_accepts"), [
    # what the 4.1 schema accepts by mistake, and this project's schema refuses
    (MAIN.replace("10312", "1030|"), None, True),  # the '|' inside [2|4|6|8]
    (MAIN.replace("<HeadBan>53567686", "<HeadBan>5356768"), None, True),  # 7-digit BAN
    (MAIN.replace("<BranchBan>53567686", "<BranchBan>AB53567686"), None, True),
    (MAIN.replace("<HeadBan>53567686</HeadBan>", "<HeadBan></HeadBan>"), None, True),
    (None, ITEM.format(b="٠٢٠٣٤٢٦٨", e="02034299"), True),  # Arabic-Indic digits match \d
    (MAIN.replace("<InvoiceType>07</InvoiceType>", "") + "<InvoiceType>07</InvoiceType>",
     None, True),  # out of the MIG 3.1 order
    (None, ITEM.format(b="02034268", e="02034299").replace(
        "<InvoiceBeginNo>02034268</InvoiceBeginNo><InvoiceEndNo>02034299</InvoiceEndNo>",
        "<InvoiceEndNo>02034299</InvoiceEndNo><InvoiceBeginNo>02034268</InvoiceBeginNo>"),
     True),
    # what both refuse
    (MAIN.replace("10312", "10311"), None, False),  # odd month
    (MAIN.replace("<InvoiceType>07", "<InvoiceType>09"), None, False),
    (MAIN.replace("<InvoiceType>07", "<InvoiceType>7"), None, False),
    (MAIN.replace("<InvoiceTrack>MB", "<InvoiceTrack>mb"), None, False),
    (MAIN.replace("<InvoiceTrack>MB", "<InvoiceTrack>MBX"), None, False),
    (None, ITEM.format(b="2034268", e="02034299"), False),
    (None, ITEM.format(b=" 2034268", e="02034299"), False),
    (None, "", False),  # no item
])
def test_refusals(main_xml: str | None, items: str | None, mof_accepts: bool) -> None:
    assert valid(doc(main_xml, items)) == {"own": False, "MOF 4.1": mof_accepts}
