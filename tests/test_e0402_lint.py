"""`blanktrack check` on E0402 XML: schema, the spec's rules, allocations, Turnkey folders.

Test documents are made from the MOF's official schemas (../shared/xsd/official, used in place)
and validated against them before use wherever the mistake is one the schema lets through.
"""

from __future__ import annotations

import functools
from pathlib import Path

import polars as pl
import pytest
from corpus.checks import SAMPLE, SHARED_XSD
from hypothesis import example, given
from hypothesis import strategies as st
from lxml import etree

from blanktrack.allocations import load_allocations
from blanktrack.cli import main
from blanktrack.e0402_lint import lint_e0402_files, read_e0402
from blanktrack.mof_csv import lint_mof_csv
from blanktrack.platform_codes import sentences

OFFICIAL = SHARED_XSD.parent / "official"
HEAD, BRANCH = "53567686", "04595257"
SAMPLE_ALLOCATIONS = SAMPLE / "allocations.csv"


@functools.cache
def official_schema(version: str) -> etree.XMLSchema:
    """The MOF's schema of an E0402 version. 4.0 as published; 4.1 the shared fixed copy (the
    published one names an element ' BranchBan'); 3.1/3.2 (same quirk) are 4.0 with their
    namespace, which is their only other difference."""
    if not OFFICIAL.is_dir():
        pytest.skip(f"official schemas {OFFICIAL} not found")
    if version == "4.1":
        return etree.XMLSchema(etree.parse(str(SHARED_XSD)))
    tree = etree.parse(str(OFFICIAL / "v40" / "E0402.xsd"))
    if version != "4.0":
        text = etree.tostring(tree).decode().replace("E0402:4.0", f"E0402:{version}")
        tree = etree.ElementTree(etree.fromstring(text.encode(), base_url=str(
            OFFICIAL / "v40" / "E0402.xsd")))
    return etree.XMLSchema(tree)


def e0402(items: list[tuple[str, str]] | None = None, *, head: str = HEAD, ban: str = HEAD,
          itype: str = "07", ym: str = "10312", track: str = "MB", version: str = "4.1",
          reverse_main: bool = False) -> bytes:
    """An E0402 document, one element per line (so that lines are easy to name)."""
    items = [("02034268", "02034299")] if items is None else items
    main = [f"<HeadBan>{head}</HeadBan>", f"<BranchBan>{ban}</BranchBan>",
            f"<InvoiceType>{itype}</InvoiceType>", f"<YearMonth>{ym}</YearMonth>",
            f"<InvoiceTrack>{track}</InvoiceTrack>"]
    if reverse_main:
        main.reverse()
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             f'<BranchTrackBlank xmlns="urn:GEINV:eInvoiceMessage:E0402:{version}">',
             "<Main>", *main, "</Main>", "<Details>"]
    for b, e in items:
        lines += ["<BranchTrackBlankItem>", f"<InvoiceBeginNo>{b}</InvoiceBeginNo>",
                  f"<InvoiceEndNo>{e}</InvoiceEndNo>", "</BranchTrackBlankItem>"]
    lines += ["</Details>", "</BranchTrackBlank>", ""]
    return "\n".join(lines).encode()


def officially_valid(data: bytes, version: str = "4.1") -> bool:
    return official_schema(version).validate(etree.fromstring(data).getroottree())


def line_of(data: bytes, text: str, nth: int = 1) -> int:
    lines = data.decode().splitlines()
    hits = [i for i, line in enumerate(lines, start=1) if text in line]
    return hits[nth - 1]


def lint_one(tmp_path: Path, data: bytes, allocations: pl.DataFrame | None = None,
             name: str = "x.xml"):
    path = tmp_path / name
    path.write_bytes(data)
    return lint_e0402_files([path], allocations).problems


# --------------------------------------------------------------------------- clean files


@pytest.mark.parametrize("version", ["3.1", "3.2", "4.0", "4.1"])
def test_a_clean_file_of_every_version_has_no_problem(tmp_path: Path, version: str) -> None:
    data = e0402(version=version)
    assert officially_valid(data, version)
    assert lint_one(tmp_path, data) == []


def test_main_in_any_order_is_accepted_as_the_official_schemas_do(tmp_path: Path) -> None:
    data = e0402(reverse_main=True)
    assert officially_valid(data)
    assert lint_one(tmp_path, data) == []


def test_every_e0402_of_the_sample_passes_check_with_allocations(tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    assert main(["reconcile", "--period", "10312", "--report-date", "2015-01-08",
                 "--allocations", str(SAMPLE_ALLOCATIONS),
                 "--invoices", *map(str, sorted(SAMPLE.glob("invoices_*.csv"))),
                 "--out-dir", str(out)]) == 0
    capsys.readouterr()
    e0402 = out / "10312" / "53567686" / "e0402"  # the head office's set holds its branch's too
    assert main(["check", str(e0402), "--allocations", str(SAMPLE_ALLOCATIONS)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 5 and all(line.endswith(": ok") for line in lines)


# --------------------------------------------------------------------------- the spec's rules


def test_end_below_begin_is_named_with_line_though_the_schema_allows_it(tmp_path: Path) -> None:
    data = e0402([("02034299", "02034268")])
    assert officially_valid(data)
    [p] = lint_one(tmp_path, data)
    assert p.line == line_of(data, "<BranchTrackBlankItem>")
    assert p.element == "Details/BranchTrackBlankItem[1]"
    assert "end 02034268 is below begin 02034299" in str(p)
    assert "發票迄號必須大於或等於起號" in str(p)


def test_overlap_and_repeat_in_one_file_get_e0612_and_e0604(tmp_path: Path) -> None:
    data = e0402([("02034268", "02034280"), ("02034275", "02034299"), ("02034268", "02034280")])
    assert officially_valid(data)
    problems = lint_one(tmp_path, data)
    assert [p.codes for p in problems] == [("E0612",), ("E0604", "E0609")]
    assert problems[0].line == line_of(data, "<BranchTrackBlankItem>", 2)
    assert problems[1].line == line_of(data, "<BranchTrackBlankItem>", 3)
    text = str(problems[0])
    assert "MB02034275–MB02034299 overlaps MB02034268–MB02034280" in text
    assert "likely E0612: 發票號碼區間已存在重疊區間 / " in text
    assert "The intervals of the invoice number are overlapped." in text
    assert "likely E0604/E0609: 明細資料重複,請於檢查後再行上傳" in str(problems[1])


def test_touching_ranges_do_not_overlap(tmp_path: Path) -> None:
    assert lint_one(tmp_path, e0402([("02034268", "02034270"), ("02034271", "02034299")])) == []


def test_overlap_across_two_files_of_one_track(tmp_path: Path) -> None:
    a, b = tmp_path / "a.xml", tmp_path / "b.xml"
    a.write_bytes(e0402([("02034268", "02034280")]))
    b.write_bytes(e0402([("02034280", "02034299")]))
    other_track = tmp_path / "c.xml"
    other_track.write_bytes(e0402([("02034268", "02034299")], track="MC"))
    problems = lint_e0402_files([a, b, other_track]).problems
    assert [(Path(p.file).name, p.codes) for p in problems] == [("b.xml", ("E0612",))]
    assert f"({a}:" in problems[0].message


def test_parts_of_one_track_must_share_their_main(tmp_path: Path) -> None:
    a, b = tmp_path / "a.xml", tmp_path / "b.xml"
    a.write_bytes(e0402([("02034268", "02034270")]))
    b.write_bytes(e0402([("02034280", "02034299")], itype="08"))
    [p] = lint_e0402_files([a, b]).problems
    assert p.file == str(b) and p.element == "Main"
    assert "type 08 differs" in p.message


@pytest.mark.parametrize(("kwargs", "officially", "element", "words", "codes"), [
    ({"ban": "53567687"}, True, "Main/BranchBan", "fails the check digit", ()),
    ({"head": "5356768"}, True, "Main/HeadBan", "'5356768' is not 8 digits", ()),
    ({"itype": "09"}, False, "Main/InvoiceType", "'09' is not 07 or 08", ("E0607",)),
    ({"ym": "10311"}, False, "Main/YearMonth", "not the even end month", ()),
    # The official pattern [2|4|6|8] lets a literal '|' through.
    ({"ym": "1030|"}, True, "Main/YearMonth", "5-digit code", ()),
    ({"track": "Mb"}, False, "Main/InvoiceTrack", "'Mb' is not 2 upper-case letters", ()),
    ({"items": [("0203426", "02034299")]}, False,
     "Details/BranchTrackBlankItem[1]/InvoiceBeginNo", "'0203426' is not 8 digits", ()),
    ({"items": [("02034268", "0203429９")]}, True,  # \d admits a full-width digit
     "Details/BranchTrackBlankItem[1]/InvoiceEndNo", "is not 8 digits", ()),
])
def test_each_field_mistake_is_named(tmp_path: Path, kwargs: dict, officially: bool,
                                     element: str, words: str, codes: tuple) -> None:
    data = e0402(**kwargs)
    assert officially_valid(data) is officially
    problems = lint_one(tmp_path, data)
    assert problems, "the mistake went unnoticed"
    first = problems[0]
    assert (first.element, first.codes, first.is_error) == (element, codes, True)
    assert words in first.message
    tag = element.rsplit("/", 1)[1]
    assert first.line == line_of(data, f"<{tag}>")


def test_no_item_is_refused(tmp_path: Path) -> None:
    data = e0402([])
    assert not officially_valid(data)
    problems = lint_one(tmp_path, data)
    assert problems[0].element == "Details"
    assert "0 BranchTrackBlankItem(s); an E0402 holds 1 to 10000" in problems[0].message


def test_a_missing_element_and_a_schema_only_problem(tmp_path: Path) -> None:
    data = e0402().replace(b"<InvoiceTrack>MB</InvoiceTrack>", b"<Track>MB</Track>")
    problems = lint_one(tmp_path, data)
    assert any(p.element == "Main/InvoiceTrack" and "InvoiceTrack is missing" in p.message
               for p in problems)
    assert any(p.message.startswith("schema: Element 'Track'") for p in problems)


# --------------------------------------------------------------------------- allocations


@pytest.fixture(scope="module")
def allocations() -> pl.DataFrame:
    return load_allocations([SAMPLE_ALLOCATIONS])


def test_ranges_outside_the_allocations_get_e0613(tmp_path: Path, allocations) -> None:
    # Sample: 53567686 MB 10312 is allocated 02034250–02034299 (type 07).
    data = e0402([("02034268", "02034349"), ("02035000", "02035049")])
    assert officially_valid(data)
    problems = lint_one(tmp_path, data, allocations)
    assert [p.codes for p in problems] == [("E0613", "E0603"), ("E0613",)]
    assert "MB02034268–MB02034349 is not wholly inside the allocations" in problems[0].message
    assert "MB02035000–MB02035049 is not inside" in problems[1].message


def test_a_track_never_allocated_and_a_wrong_type(tmp_path: Path, allocations) -> None:
    assert [p.codes for p in lint_one(tmp_path, e0402(track="ZZ"), allocations)] == [("E0613",)]
    [p] = lint_one(tmp_path, e0402(itype="08"), allocations)
    assert (p.element, p.codes) == ("Main/InvoiceType", ("E0607",))


def test_head_ban_must_match_the_allocations(tmp_path: Path, allocations) -> None:
    # 04595257 is a branch of 53567686 in the sample: track LQ, 00500000–00500099.
    ok = e0402([("00500032", "00500099")], head=HEAD, ban=BRANCH, track="LQ")
    assert lint_one(tmp_path, ok, allocations) == []
    own = e0402([("00500032", "00500099")], head=BRANCH, ban=BRANCH, track="LQ")
    assert officially_valid(own)
    [p] = lint_one(tmp_path, own, allocations)
    assert (p.element, p.codes) == ("Main/HeadBan", ("E0614", "E0611"))
    other = e0402([("00500032", "00500099")], head="10458575", ban=BRANCH, track="LQ")
    [p] = lint_one(tmp_path, other, allocations)
    assert p.codes == ("E0606", "E0611")
    assert "HeadBan 10458575 is not the head office of BAN 04595257" in p.message


# --------------------------------------------------------------------------- other messages


def void_message() -> bytes:
    return (b'<VoidInvoice xmlns="urn:GEINV:eInvoiceMessage:C0701:3.2">'
            b"<VoidInvoiceNumber>MB02034268</VoidInvoiceNumber><InvoiceDate>20141201</InvoiceDate>"
            b"<BuyerId>0000000000</BuyerId><SellerId>53567686</SellerId>"
            b"<VoidDate>20141202</VoidDate><VoidTime>10:00:00</VoidTime>"
            b"<VoidReason>blank</VoidReason></VoidInvoice>")


def test_a_c0701_void_message_given_as_the_blank_report(tmp_path: Path) -> None:
    data = void_message()
    schema = etree.XMLSchema(etree.parse(str(OFFICIAL / "v32" / "C0701.xsd")))
    assert schema.validate(etree.fromstring(data).getroottree())
    [p] = lint_one(tmp_path, data)
    assert p.is_error and p.element == "VoidInvoice"
    assert "C0701 void message (註銷發票, root VoidInvoice), not a blank report" in p.message


def test_a_doctype_is_refused_and_no_entity_is_expanded(tmp_path: Path) -> None:
    bomb = (b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
            b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>\n<BranchTrackBlank>&lol2;</BranchTrackBlank>')
    doc, problems = read_e0402(bomb, "bomb.xml")
    assert doc is None
    assert [str(p) for p in problems] == [
        "bomb.xml: 1: the document carries a DOCTYPE; refused (an E0402 or a platform result "
        "never has one)"]
    ext = (b'<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
           b"<x>&e;</x>")
    assert "DOCTYPE" in str(read_e0402(ext, "ext.xml")[1][0])


def test_not_xml_and_another_message(tmp_path: Path) -> None:
    assert "not well-formed XML" in str(lint_one(tmp_path, b"<Branch")[0])
    data = e0402().replace(b"E0402:4.1", b"E0401:4.1")
    assert "namespace 'urn:GEINV:eInvoiceMessage:E0401:4.1' is not an E0402 one" in str(
        lint_one(tmp_path, data)[0])


# --------------------------------------------------------------------------- Turnkey folders


def test_check_says_where_turnkey_will_not_send(tmp_path: Path, capsys) -> None:
    turnkey = tmp_path / "EINVTurnkey"
    good = turnkey / "UpCast" / "B2PMESSAGE" / "E0402" / "SRC" / "a.xml"
    wrong = turnkey / "UpCast" / "B2SSTORAGE" / "E0402" / "SRC" / "b.xml"
    for path, track in ((good, "MB"), (wrong, "MC")):
        path.parent.mkdir(parents=True)
        path.write_bytes(e0402(track=track))
    assert main(["check", str(turnkey)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"{wrong}: Turnkey will not send this E0402: it sits under B2SSTORAGE; blank reports "
        "go in UpCast/B2PMESSAGE/E0402/SRC of the Turnkey data folder",
        f"{good}: ok",
    ]


def test_check_takes_csv_and_xml_together(tmp_path: Path, capsys) -> None:
    (tmp_path / "53567686_10312.csv").write_bytes(b"00001,53567686,10312,MB,02034268,02034299,07\r\n")
    (tmp_path / "findings.csv").write_bytes(b"severity,code\r\n")  # in a folder: no upload file
    (tmp_path / "MB.xml").write_bytes(e0402())
    (tmp_path / "void.xml").write_bytes(void_message())
    assert main(["check", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert f"{tmp_path / '53567686_10312.csv'}: ok" in out
    assert f"{tmp_path / 'MB.xml'}: ok" in out
    assert f"{tmp_path / 'void.xml'}:1: VoidInvoice: this is a C0701 void message" in out
    assert "findings.csv" not in out


# --------------------------------------------------------------------------- CSV lint codes


def test_the_csv_lint_names_the_platform_codes(allocations) -> None:
    data = (b"00001,53567686,10312,MB,02034268,02034280,07\r\n"
            b"00002,53567686,10312,MB,02034275,02034299,07\r\n"
            b"00003,53567686,10312,MB,02034275,02034299,07\r\n"
            b"00004,53567686,10312,MB,02035000,02035049,07\r\n")
    problems = lint_mof_csv(data, "u.csv", allocations)
    assert [(p.line, p.platform_code) for p in problems] == [
        (2, "E0612"), (3, "E0604/E0609"), (4, "E0613")]
    [wrong_type] = lint_mof_csv(b"00001,53567686,10312,MB,02034268,02034280,09\r\n", "t.csv")
    assert (wrong_type.field, wrong_type.platform_code) == ("invoice_type", "E0607")
    assert str(problems[0]).endswith(
        "(平台訊息: 空白發票新增失敗，請確認是否有輸入相同區間) (likely E0612: 發票號碼區間已存在重疊區間 / "
        "The intervals of the invoice number are overlapped.)")


def test_the_sentences_ship_with_the_package() -> None:
    assert sentences("zh_TW")["E0613"] == "發票號碼區間非配號區間"
    assert sentences("en_US")["E0616"] == "Total failure"
    assert sentences("zh_TW")["E0615"] == "字軌訊息處理部份成功"
    with pytest.raises(ValueError, match="not one of"):
        sentences("fr_FR")


# --------------------------------------------------------------------------- property


ranges_st = st.lists(st.tuples(st.integers(0, 60), st.integers(0, 15)), min_size=1, max_size=8)


@given(ranges_st)
@example([(0, 4), (5, 4)])  # touching: no overlap
@example([(0, 5), (5, 0)])  # sharing one number
@example([(3, 2), (3, 2)])  # the same range twice
def test_overlaps_are_found_exactly(tmp_path_factory, spans: list[tuple[int, int]]) -> None:
    items = [(b, b + n) for b, n in spans]
    data = e0402([(f"{2034000 + b:08d}", f"{2034000 + e:08d}") for b, e in items])
    doc, problems = read_e0402(data, "p.xml")
    overlapping = {  # lines of the ranges that share a number with another range
        line_of(data, "<BranchTrackBlankItem>", i + 1)
        for i, (b, e) in enumerate(items)
        if any(j != i and b <= e2 and b2 <= e for j, (b2, e2) in enumerate(items))
    }
    flagged = {p.line for p in problems}
    # An overlap is always seen, only on a line of a range that overlaps, and no range is
    # flagged twice; with no overlap nothing is.
    assert doc is not None and bool(flagged) == bool(overlapping)
    assert flagged <= overlapping and len(flagged) == len(problems)
    assert all(p.codes in (("E0612",), ("E0604", "E0609")) for p in problems)
