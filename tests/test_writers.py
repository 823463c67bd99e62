"""Output writers (MOF upload CSV, MIG E0402) and the upload-file lint."""

from __future__ import annotations

import random
import re
from pathlib import Path

import polars as pl
import pytest
from corpus.checks import SHARED_ENV, shared_xsd_dir
from lxml import etree

from blanktrack.e0402 import render_e0402, write_e0402
from blanktrack.mof_csv import (
    MSG_BEGIN_LENGTH,
    MSG_END_BEFORE_BEGIN,
    MSG_END_LENGTH,
    MSG_PERIOD,
    MSG_SAME_RANGE,
    MSG_TRACK_EMPTY,
    MSG_TRACK_TOO_LONG,
    LintProblem,
    MofCsvLintError,
    check_file,
    lint_mof_csv,
    write_mof_csvs,
)
from blanktrack.schemas import ALLOCATION_SCHEMA, BLANK_RANGE_SCHEMA

XSD_DIR = shared_xsd_dir()
EXAMPLE_ROW = b"00001,53567686,10312,MB,02034268,02034299,07\r\n"

HEAD = "53567686"
BRANCH = "04595257"
OTHER_HEAD = "10458575"


def blank(
    begin: str,
    end: str,
    *,
    ban: str = HEAD,
    head_ban: str | None = None,
    track: str = "MB",
    invoice_type: str = "07",
    period: str = "10312",
    reported_by: str | None = None,
) -> dict[str, object]:
    return {
        "period": period,
        "head_ban": head_ban or ban,
        "ban": ban,
        "invoice_type": invoice_type,
        "track": track,
        "begin_no": begin,
        "end_no": end,
        "count": int(end) - int(begin) + 1,
        "reported_by": reported_by,
    }


def frame(rows: list[dict[str, object]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=BLANK_RANGE_SCHEMA)


def allocation(
    begin: str,
    end: str,
    *,
    ban: str = HEAD,
    track: str = "MB",
    invoice_type: str = "07",
    period: str = "10312",
    reported_by: str | None = None,
) -> dict[str, object]:
    return {
        "ban": ban,
        "invoice_type": invoice_type,
        "period": period,
        "track": track,
        "begin_no": begin,
        "end_no": end,
        "head_ban": ban,
        "machine": None,
        "reported_by": reported_by,
        "source": "alloc.csv",
        "line": 1,
    }


def allocations(*rows: dict[str, object]) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=ALLOCATION_SCHEMA)


def csv(*rows: str, newline: str = "\r\n") -> bytes:
    return "".join(r + newline for r in rows).encode()


def only(problems: list[LintProblem]) -> LintProblem:
    assert len(problems) == 1, [str(p) for p in problems]
    return problems[0]


# --------------------------------------------------------------------------- MOF CSV writer


def one_upload_file(ranges: pl.DataFrame, out_dir: Path) -> bytes:
    """The bytes of the single upload file written for `ranges` (one reporting BAN, one period)."""
    paths = write_mof_csvs(ranges, out_dir)
    assert [p.name for p in paths] == ["53567686_10312.csv"]
    return paths[0].read_bytes()


def test_mof_csv_example_row(tmp_path: Path) -> None:
    assert one_upload_file(frame([blank("02034268", "02034299")]), tmp_path) == EXAMPLE_ROW


def test_mof_csv_sorted_crlf_branch_ban_and_two_digit_type(tmp_path: Path) -> None:
    rows = [
        blank("02034300", "02034349", track="MC", head_ban=HEAD),
        blank("00000000", "00000049", ban=BRANCH, head_ban=HEAD, invoice_type="7"),
        blank("02034268", "02034299", head_ban=HEAD),
        blank("02034000", "02034000", head_ban=HEAD),
    ]
    assert one_upload_file(frame(rows), tmp_path) == (
        b"00001,04595257,10312,MB,00000000,00000049,07\r\n"
        b"00002,53567686,10312,MB,02034000,02034000,07\r\n"
        b"00003,53567686,10312,MB,02034268,02034299,07\r\n"
        b"00004,53567686,10312,MC,02034300,02034349,07\r\n"
    )


def test_mof_csv_leaves_out_reported_by_and_empty_writes_nothing(tmp_path: Path) -> None:
    rows = [blank("02034268", "02034299"), blank("02034300", "02034349", reported_by="POS")]
    assert one_upload_file(frame(rows), tmp_path / "one") == EXAMPLE_ROW
    assert write_mof_csvs(frame([]), tmp_path / "none") == []
    assert not (tmp_path / "none").exists() or not any((tmp_path / "none").iterdir())


def test_mof_csv_needs_every_column(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="reported_by"):
        write_mof_csvs(frame([blank("02034268", "02034299")]).drop("reported_by"), tmp_path)


def test_write_mof_csvs_one_file_per_reporting_ban_and_period(tmp_path: Path) -> None:
    rows = [
        blank("02034268", "02034299"),
        blank("00000100", "00000149", ban=BRANCH, head_ban=HEAD, track="MC"),
        blank("00000200", "00000249", ban=BRANCH, head_ban=HEAD, track="MC", reported_by="ERP"),
        blank("12345600", "12345649", ban=OTHER_HEAD, track="XY", invoice_type="08"),
        blank("11110000", "11110049", period="11302", track="AB"),
        # every row of this reporting BAN is reported elsewhere: no file
        blank("22220000", "22220049", ban="12345670", track="QQ", reported_by="POS"),
    ]
    paths = write_mof_csvs(frame(rows), tmp_path)
    assert [p.name for p in paths] == [
        "10458575_10312.csv",
        "53567686_10312.csv",
        "53567686_11302.csv",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == [p.name for p in paths]  # no temp files
    assert (tmp_path / "53567686_10312.csv").read_bytes() == (
        b"00001,04595257,10312,MC,00000100,00000149,07\r\n"
        b"00002,53567686,10312,MB,02034268,02034299,07\r\n"
    )
    assert (tmp_path / "10458575_10312.csv").read_bytes() == (
        b"00001,10458575,10312,XY,12345600,12345649,08\r\n"
    )
    assert (tmp_path / "53567686_11302.csv").read_bytes() == (
        b"00001,53567686,11302,AB,11110000,11110049,07\r\n"
    )
    for p in paths:
        assert check_file(p, None) == []


def test_write_mof_csvs_is_deterministic(tmp_path: Path) -> None:
    rows = [
        # Each BAN its own numbers: two rows sharing numbers are refused, whatever their BANs.
        blank(f"{n + 10 * k:08d}", f"{n + 10 * k + 9:08d}", ban=ban, head_ban=HEAD, track=track)
        for n in range(0, 500, 50)
        for k, ban in enumerate((HEAD, BRANCH, "04595252"))
        for track in ("AA", "ZZ", "MB")
    ]
    first = [p.read_bytes() for p in write_mof_csvs(frame(rows), tmp_path / "a")]
    random.Random(7).shuffle(rows)
    second = [p.read_bytes() for p in write_mof_csvs(frame(rows), tmp_path / "b")]
    assert first == second
    assert len(first) == 1 and first[0].count(b"\r\n") == len(rows)


def test_write_mof_csvs_refuses_a_file_that_fails_lint(tmp_path: Path) -> None:
    rows = [blank("02034268", "02034299"), blank("02034290", "02034349")]  # overlap: a bug
    with pytest.raises(MofCsvLintError, match=MSG_SAME_RANGE):
        write_mof_csvs(frame(rows), tmp_path)
    assert not tmp_path.exists() or list(tmp_path.iterdir()) == []


def test_write_mof_csvs_writes_nothing_when_any_file_is_bad(tmp_path: Path) -> None:
    rows = [
        blank("02034268", "02034299", ban=OTHER_HEAD),  # fine, sorts first
        blank("02034268", "02034299", ban="53567687", head_ban=HEAD),  # bad BAN
    ]
    with pytest.raises(MofCsvLintError, match="check digit"):
        write_mof_csvs(frame(rows), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_write_mof_csvs_refuses_bad_reporting_ban(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="reporting BAN"):
        write_mof_csvs(frame([blank("02034268", "02034299", head_ban="../../x")]), tmp_path)


# --------------------------------------------------------------------------- lint: clean files


def test_lint_accepts_the_example_and_new_rule_bans() -> None:
    assert lint_mof_csv(EXAMPLE_ROW, "a.csv") == []
    data = csv(
        "00001,04595252,10312,MB,00000000,00000049,07",
        "00002,12345670,10312,MB,00000050,00000099,08",
        "00003,10000073,10312,MC,00000000,00000000,07",
    )
    assert lint_mof_csv(data, "a.csv", expected_period="10312") == []


def test_lint_accepts_lf_and_adjacent_ranges() -> None:
    data = csv(
        "00001,53567686,10312,MB,02034200,02034249,07",
        "00002,53567686,10312,MB,02034250,02034299,07",  # could be merged: allowed
        "00003,04595257,10312,MB,02034300,02034349,07",  # other BAN, touching: fine
        newline="\n",
    )
    assert lint_mof_csv(data, "a.csv") == []


def test_lint_problem_str() -> None:
    problem = only(lint_mof_csv(csv("00001,53567686,10312,MB,02034299,02034268,07"), "f.csv"))
    assert str(problem) == (
        "f.csv:1: end_no: end 02034268 is below begin 02034299 "
        "(平台訊息: 發票迄號必須大於或等於起號)"
    )
    assert problem.is_error


# --------------------------------------------------------------------------- lint: one test a rule


def row(**change: str) -> bytes:
    fields = {
        "serial": "00001",
        "ban": HEAD,
        "period": "10312",
        "track": "MB",
        "begin": "02034268",
        "end": "02034299",
        "type": "07",
    }
    fields.update(change)
    return csv(",".join(fields.values()))


@pytest.mark.parametrize(
    ("data", "field", "platform", "text"),
    [
        (row(period="10311"), "period", MSG_PERIOD, "even end month"),
        (row(period="1031"), "period", MSG_PERIOD, "5-digit"),
        (row(period="103/12"), "period", MSG_PERIOD, "5-digit"),
        (row(track=""), "track", MSG_TRACK_EMPTY, "empty"),
        (row(track="MBC"), "track", MSG_TRACK_TOO_LONG, "longer than 2"),
        (row(track="mb"), "track", "", "upper-case"),
        (row(track="M"), "track", "", "upper-case"),
        (row(begin="2034268"), "begin_no", MSG_BEGIN_LENGTH, "not 8 digits"),
        (row(begin="020342680"), "begin_no", MSG_BEGIN_LENGTH, "not 8 digits"),
        (row(begin="0203426A"), "begin_no", "", "not all digits"),
        (row(end="2034299"), "end_no", MSG_END_LENGTH, "not 8 digits"),
        (row(end="02034267"), "end_no", MSG_END_BEFORE_BEGIN, "below begin"),
        (row(type="7"), "invoice_type", "", "07 or 08"),
        (row(type="09"), "invoice_type", "", "07 or 08"),
        (row(ban="53567687"), "ban", "", "check digit"),
        (row(ban="5356768"), "ban", "", "not 8 digits"),
        (row(serial="1"), "serial", "", "not 5 digits"),
        (row(serial="00002"), "serial", "", "expected 00001"),
        (row(type="07 "), "invoice_type", "", "whitespace"),  # trailing whitespace
        (row(track=" MB"), "track", "", "whitespace"),
        (row(extra="x"), "", "", "8 field(s), expected 7"),
        (csv("00001;53567686;10312;MB;02034268;02034299;07"), "", "", "1 field(s)"),
    ],
)
def test_lint_field_rules(data: bytes, field: str, platform: str, text: str) -> None:
    problem = only(lint_mof_csv(data, "f.csv"))
    assert (problem.line, problem.field, problem.platform_message) == (1, field, platform)
    assert text in problem.message
    assert problem.is_error


def test_lint_serials_run_without_gaps() -> None:
    data = csv(
        "00001,53567686,10312,MB,02034200,02034209,07",
        "00003,53567686,10312,MB,02034220,02034229,07",
        "00004,53567686,10312,MB,02034230,02034239,07",  # follows 00003: no second problem
    )
    problem = only(lint_mof_csv(data, "f.csv"))
    assert (problem.line, problem.field) == (2, "serial")
    assert "expected 00002" in problem.message


def test_lint_same_range_twice() -> None:
    data = csv(
        "00001,53567686,10312,MB,02034268,02034299,07",
        "00002,53567686,10312,MC,02034268,02034299,07",
        "00003,53567686,10312,MB,02034268,02034299,07",
    )
    problem = only(lint_mof_csv(data, "f.csv"))
    assert (problem.line, problem.platform_message) == (3, MSG_SAME_RANGE)
    assert "same range as line 1" in problem.message


def test_lint_overlapping_ranges() -> None:
    data = csv(
        "00001,53567686,10312,MB,02034200,02034299,07",
        "00002,53567686,10312,MB,02034300,02034349,07",
        "00003,53567686,10312,MB,02034250,02034260,07",  # inside line 1
    )
    problem = only(lint_mof_csv(data, "f.csv"))
    assert (problem.line, problem.platform_message) == (3, MSG_SAME_RANGE)
    assert "overlaps the range on line 1" in problem.message


def test_lint_one_period_per_file() -> None:
    data = csv(
        "00001,53567686,10312,MB,02034200,02034299,07",
        "00002,53567686,10310,MA,02034300,02034349,07",
    )
    problem = only(lint_mof_csv(data, "f.csv"))
    assert (problem.line, problem.field) == (2, "period")
    assert "differs from 10312 on line 1" in problem.message


def test_lint_expected_period() -> None:
    problem = only(lint_mof_csv(EXAMPLE_ROW, "f.csv", expected_period="11302"))
    assert (problem.line, problem.field) == (1, "period")
    assert "this file is for 11302" in problem.message


def test_lint_bom() -> None:
    problem = only(lint_mof_csv(b"\xef\xbb\xbf" + EXAMPLE_ROW, "f.csv"))
    assert problem.line is None and "BOM" in problem.message and problem.is_error


def test_lint_header_line() -> None:
    data = csv("序號,統一編號,所屬年月,字軌,空白發票起號,空白發票迄號,發票類別") + EXAMPLE_ROW
    problem = only(lint_mof_csv(data, "f.csv"))
    assert problem.line == 1 and "header" in problem.message


def test_lint_blank_line() -> None:
    data = EXAMPLE_ROW + b"\r\n" + csv("00002,53567686,10312,MB,02034300,02034349,07")
    problem = only(lint_mof_csv(data, "f.csv"))
    assert problem.line == 2 and "blank line" in problem.message


def test_lint_trailing_blank_line() -> None:
    problem = only(lint_mof_csv(EXAMPLE_ROW + b"\r\n", "f.csv"))
    assert problem.line == 2 and "blank line" in problem.message


def test_lint_non_ascii() -> None:
    data = "00001,53567686,10312,MB,０2034268,02034299,07\r\n".encode()  # full-width zero
    problems = lint_mof_csv(data, "f.csv")
    assert any("non-ASCII" in p.message and p.line == 1 for p in problems)
    assert all(p.is_error for p in problems)


def test_lint_not_utf8() -> None:
    data = "序號\r\n".encode("cp950") + EXAMPLE_ROW
    problems = lint_mof_csv(data, "f.csv")
    assert any("not UTF-8" in p.message and p.line == 1 for p in problems)


def test_lint_missing_final_newline_is_a_warning() -> None:
    problem = only(lint_mof_csv(EXAMPLE_ROW.rstrip(b"\r\n"), "f.csv"))
    assert problem.line is None and problem.severity == "warning"
    assert "no line end" in problem.message
    assert str(problem).startswith("f.csv: warning: ")


def test_lint_mixed_line_ends_is_a_warning() -> None:
    data = EXAMPLE_ROW + b"00002,53567686,10312,MB,02034300,02034349,07\n"
    problem = only(lint_mof_csv(data, "f.csv"))
    assert problem.line is None and problem.severity == "warning"


def test_lint_bare_cr() -> None:
    data = EXAMPLE_ROW.replace(b"\r\n", b"\r")
    problem = only(lint_mof_csv(data, "f.csv"))
    assert problem.line == 1 and "bare CR" in problem.message


def test_lint_empty_file() -> None:
    problem = only(lint_mof_csv(b"", "f.csv"))
    assert problem.line is None and "empty" in problem.message


# --------------------------------------------------------------------------- lint: allocations

ALLOCS = allocations(
    allocation("02034250", "02034299"),
    allocation("02034300", "02034349"),  # touches the first
    allocation("02034400", "02034449"),  # gap 02034350–02034399
    allocation("00000000", "00000049", track="XY", invoice_type="08"),
)


def test_lint_allocations_inside() -> None:
    assert lint_mof_csv(EXAMPLE_ROW, "f.csv", ALLOCS) == []


def test_lint_allocations_outside() -> None:
    data = csv("00001,53567686,10312,MB,02034200,02034260,07")  # begins before 02034250
    problem = only(lint_mof_csv(data, "f.csv", ALLOCS))
    assert problem.line == 1 and problem.is_error
    assert "MB02034200–MB02034260 is not inside the allocations" in problem.message


def test_lint_allocations_no_allocation_at_all() -> None:
    data = csv("00001,53567686,10312,ZZ,02034268,02034299,07")
    problem = only(lint_mof_csv(data, "f.csv", ALLOCS))
    assert "ZZ02034268–ZZ02034299 is in no allocation" in problem.message


def test_lint_allocations_across_two_touching_allocations_is_allowed() -> None:
    # Blank runs are merged across adjacent allocations (spec §3), so this is a valid range.
    data = csv("00001,53567686,10312,MB,02034290,02034310,07")
    assert lint_mof_csv(data, "f.csv", ALLOCS) == []


def test_lint_allocations_across_a_gap() -> None:
    data = csv("00001,53567686,10312,MB,02034340,02034410,07")
    problem = only(lint_mof_csv(data, "f.csv", ALLOCS))
    assert "MB02034340–MB02034410 is not inside the allocations" in problem.message


def test_lint_allocations_wrong_type() -> None:
    data = csv("00001,53567686,10312,XY,00000000,00000049,07")
    problem = only(lint_mof_csv(data, "f.csv", ALLOCS))
    assert problem.field == "invoice_type"
    assert "is type 07 but" in problem.message and "allocated as type 08" in problem.message


def test_lint_allocations_other_period_or_ban() -> None:
    data = csv("00001,04595257,10312,MB,02034268,02034299,07")
    assert "in no allocation" in only(lint_mof_csv(data, "f.csv", ALLOCS)).message
    data = csv("00001,53567686,11302,MB,02034268,02034299,07")
    assert "in no allocation" in only(lint_mof_csv(data, "f.csv", ALLOCS)).message


def test_lint_allocations_reported_elsewhere_is_a_warning() -> None:
    allocs = allocations(allocation("02034250", "02034299", reported_by="POS"))
    problem = only(lint_mof_csv(EXAMPLE_ROW, "f.csv", allocs))
    assert problem.severity == "warning" and "reported by POS" in problem.message


# --------------------------------------------------------------------------- check_file


def test_check_file_missing_is_a_problem(tmp_path: Path) -> None:
    problem = only(check_file(tmp_path / "nope.csv", None))
    assert problem.line is None and "cannot read" in problem.message


def test_check_file_directory_is_a_problem(tmp_path: Path) -> None:
    assert "cannot read" in only(check_file(tmp_path, None)).message


def test_check_file_non_utf8(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(b"\xff\xfe0\x000\x00\r\n")
    problems = check_file(path, None)
    assert problems and any("not UTF-8" in p.message for p in problems)


def test_check_file_period_from_name_and_allocations(tmp_path: Path) -> None:
    path = tmp_path / "53567686_11302.csv"
    path.write_bytes(EXAMPLE_ROW)
    problems = check_file(path, ALLOCS)
    assert [p.field for p in problems] == ["period"]
    assert str(problems[0]).startswith(f"{path}:1: period: ")
    good = tmp_path / "53567686_10312.csv"
    good.write_bytes(EXAMPLE_ROW)
    assert check_file(good, ALLOCS) == []


# --------------------------------------------------------------------------- E0402


def example_bytes() -> bytes:
    path = XSD_DIR / "E0402_4.1.example.xml"
    if not path.exists():
        pytest.skip(f"shared schema folder {XSD_DIR} is missing (set {SHARED_ENV})")
    return re.sub(rb"<!--.*?-->\n", b"", path.read_bytes(), flags=re.DOTALL)


@pytest.fixture(scope="module")
def e0402_schema() -> etree.XMLSchema:
    """The shared 4.1 schema, used in place (it includes GenericType_4.0.xsd beside it)."""
    xsd = XSD_DIR / "E0402_4.1.xsd"
    if not xsd.exists():
        pytest.skip(f"shared schema folder {XSD_DIR} is missing (set {SHARED_ENV})")
    return etree.XMLSchema(etree.parse(str(xsd)))


def assert_valid(schema: etree.XMLSchema, data: bytes) -> None:
    doc = etree.fromstring(data)
    assert schema.validate(doc), schema.error_log


def test_schema_really_validates(e0402_schema: etree.XMLSchema) -> None:
    good = render_e0402(HEAD, HEAD, "07", "10312", "MB", [("02034268", "02034299")])
    assert_valid(e0402_schema, good)
    assert not e0402_schema.validate(etree.fromstring(good.replace(b">10312<", b">10311<")))
    no_items = re.sub(rb"<BranchTrackBlankItem>.*</BranchTrackBlankItem>\n", b"", good, flags=re.S)
    assert not e0402_schema.validate(etree.fromstring(no_items))


def test_render_e0402_example_bytes(e0402_schema: etree.XMLSchema) -> None:
    data = render_e0402("53567686", "53567686", "07", "10312", "MB", [("02034268", "02034299")])
    assert data == example_bytes()
    assert_valid(e0402_schema, data)


def test_write_e0402_example(tmp_path: Path) -> None:
    paths = write_e0402(frame([blank("02034268", "02034299")]), tmp_path)
    assert [p.name for p in paths] == ["53567686_10312_07_MB_001.xml"]
    assert paths[0].read_bytes() == example_bytes()


def test_write_e0402_splits_at_max_items(tmp_path: Path, e0402_schema: etree.XMLSchema) -> None:
    rows = [blank(f"{n:08d}", f"{n + 9:08d}") for n in range(0, 250, 50)]
    random.Random(3).shuffle(rows)
    paths = write_e0402(frame(rows), tmp_path, max_items=2)
    assert [p.name for p in paths] == [
        "53567686_10312_07_MB_001.xml",
        "53567686_10312_07_MB_002.xml",
        "53567686_10312_07_MB_003.xml",
    ]
    begins = [re.findall(rb"<InvoiceBeginNo>(\d+)<", p.read_bytes()) for p in paths]
    assert begins == [
        [b"00000000", b"00000050"],
        [b"00000100", b"00000150"],
        [b"00000200"],
    ]
    mains = {p.read_bytes().split(b"<Details>")[0] for p in paths}
    assert len(mains) == 1
    for p in paths:
        assert_valid(e0402_schema, p.read_bytes())


def test_write_e0402_one_document_per_key(tmp_path: Path, e0402_schema: etree.XMLSchema) -> None:
    rows = [
        blank("02034268", "02034299"),
        blank("02034300", "02034310"),
        blank("00000100", "00000149", ban=BRANCH, head_ban=HEAD, track="MC"),
        blank("00000000", "00000049", track="XY", invoice_type="08"),
        blank("00000500", "00000549", track="ZZ", reported_by="POS"),  # left out: no file
        blank("00000600", "00000649", period="11302", track="AB", ban="10000073"),
    ]
    paths = write_e0402(frame(rows), tmp_path)
    assert [p.name for p in paths] == [
        "04595257_10312_07_MC_001.xml",
        "10000073_11302_07_AB_001.xml",
        "53567686_10312_07_MB_001.xml",
        "53567686_10312_08_XY_001.xml",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == [p.name for p in paths]
    branch = paths[0].read_bytes()
    assert b"<HeadBan>53567686</HeadBan>" in branch and b"<BranchBan>04595257</BranchBan>" in branch
    assert paths[2].read_bytes().count(b"<BranchTrackBlankItem>") == 2
    for p in paths:
        assert_valid(e0402_schema, p.read_bytes())


def test_write_e0402_is_deterministic(tmp_path: Path) -> None:
    rows = [
        blank(f"{n:08d}", f"{n + 9:08d}", track=t) for n in range(0, 500, 50) for t in ("AA", "BB")
    ]
    first = [p.read_bytes() for p in write_e0402(frame(rows), tmp_path / "a", max_items=3)]
    random.Random(1).shuffle(rows)
    second = [p.read_bytes() for p in write_e0402(frame(rows), tmp_path / "b", max_items=3)]
    assert first == second and len(first) == 8


def test_write_e0402_nothing_to_write(tmp_path: Path) -> None:
    assert write_e0402(frame([]), tmp_path) == []
    assert write_e0402(frame([blank("02034268", "02034299", reported_by="POS")]), tmp_path) == []


def test_write_e0402_refuses_overlaps_across_parts(tmp_path: Path) -> None:
    rows = [blank("00000000", "00000049"), blank("00000040", "00000099")]
    with pytest.raises(ValueError, match="overlap"):
        write_e0402(frame(rows), tmp_path, max_items=1)
    assert not tmp_path.exists() or list(tmp_path.iterdir()) == []


def test_write_e0402_max_items_bounds(tmp_path: Path) -> None:
    for bad in (0, 10_001):
        with pytest.raises(ValueError, match="max_items"):
            write_e0402(frame([blank("02034268", "02034299")]), tmp_path, max_items=bad)


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (("53567687", HEAD, "07", "10312", "MB", [("02034268", "02034299")]), "HeadBan"),
        ((HEAD, "1234", "07", "10312", "MB", [("02034268", "02034299")]), "BranchBan"),
        ((HEAD, HEAD, "09", "10312", "MB", [("02034268", "02034299")]), "07 or 08"),
        ((HEAD, HEAD, "07", "10311", "MB", [("02034268", "02034299")]), "even end month"),
        ((HEAD, HEAD, "07", "10312", "mb", [("02034268", "02034299")]), "track"),
        ((HEAD, HEAD, "07", "10312", "MB", []), "1 to 10000"),
        ((HEAD, HEAD, "07", "10312", "MB", [("0203426", "02034299")]), "8-digit"),
        ((HEAD, HEAD, "07", "10312", "MB", [("02034299", "02034268")]), "below begin"),
        (
            (HEAD, HEAD, "07", "10312", "MB", [("02034268", "02034299"), ("02034299", "02034300")]),
            "overlap",
        ),
    ],
)
def test_render_e0402_refuses_bad_values(args: tuple, text: str) -> None:
    with pytest.raises(ValueError, match=text):
        render_e0402(*args)


def test_render_e0402_accepts_one_digit_type(e0402_schema: etree.XMLSchema) -> None:
    data = render_e0402(HEAD, HEAD, "8", "10312", "MB", [("02034268", "02034299")])
    assert b"<InvoiceType>08</InvoiceType>" in data
    assert_valid(e0402_schema, data)
