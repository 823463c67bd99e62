"""The writers' files: write_e0402 renders the items of fit rows on whole columns
(e0402._documents) and words an unfit row item by item (_documents_item_by_item, through
render_e0402): both must give the same files, and an unfit row the same ValueError whichever
path found it. Both writers tell on_written of each file with its bytes."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from blanktrack import e0402
from blanktrack.schemas import BLANK_RANGE_SCHEMA

HEAD, BRANCH, OTHER_HEAD = "53567686", "04595257", "10458575"

EXAMPLE_DOCUMENT = b"""\
<?xml version="1.0" encoding="UTF-8"?>
<BranchTrackBlank xmlns="urn:GEINV:eInvoiceMessage:E0402:4.1">
  <Main>
    <HeadBan>53567686</HeadBan>
    <BranchBan>04595257</BranchBan>
    <InvoiceType>07</InvoiceType>
    <YearMonth>10312</YearMonth>
    <InvoiceTrack>MB</InvoiceTrack>
  </Main>
  <Details>
    <BranchTrackBlankItem>
      <InvoiceBeginNo>02034268</InvoiceBeginNo>
      <InvoiceEndNo>02034299</InvoiceEndNo>
    </BranchTrackBlankItem>
    <BranchTrackBlankItem>
      <InvoiceBeginNo>02034350</InvoiceBeginNo>
      <InvoiceEndNo>02034350</InvoiceEndNo>
    </BranchTrackBlankItem>
  </Details>
</BranchTrackBlank>
"""


def row(begin: int, end: int, *, ban: str = HEAD, head_ban: str = HEAD, track: str = "MB",
        invoice_type: str = "07", period: str = "10312") -> dict[str, object]:
    return {"period": period, "head_ban": head_ban, "ban": ban, "invoice_type": invoice_type,
            "track": track, "begin_no": f"{begin:08d}", "end_no": f"{end:08d}",
            "count": end - begin + 1, "reported_by": None}


def frame(rows: list[dict[str, object]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=BLANK_RANGE_SCHEMA)


def sorted_rows(rows: list[dict[str, object]]) -> pl.DataFrame:
    return e0402.exportable_ranges(frame(rows)).sort(
        "period", "ban", "invoice_type", "track", "begin_no", "end_no", maintain_order=True)


def test_one_document_of_two_items_exact_bytes(tmp_path: Path) -> None:
    seen: list[tuple[Path, bytes]] = []
    paths = e0402.write_e0402(
        frame([row(2034350, 2034350, ban=BRANCH), row(2034268, 2034299, ban=BRANCH)]), tmp_path,
        on_written=lambda path, data: seen.append((path, data)))
    assert [p.name for p in paths] == ["04595257_10312_07_MB_001.xml"]
    assert paths[0].read_bytes() == EXAMPLE_DOCUMENT
    assert seen == [(paths[0], EXAMPLE_DOCUMENT)]


keys = st.tuples(st.sampled_from([HEAD, BRANCH]), st.sampled_from(["MB", "XY"]),
                 st.sampled_from(["07", "08"]), st.sampled_from(["10312", "11302"]))


@st.composite
def fit_rows(draw: st.DrawFn) -> list[dict[str, object]]:
    """Ranges of a few keys, none overlapping within a key, in any order."""
    rows = []
    for ban, track, itype, period in draw(st.lists(keys, min_size=0, max_size=4, unique=True)):
        head = HEAD if ban == HEAD else draw(st.sampled_from([HEAD, OTHER_HEAD]))
        starts = sorted(draw(st.sets(st.integers(0, 400), min_size=1, max_size=12)))
        for start in starts:
            end = start + draw(st.integers(0, 1))  # ends before the next start (gap of >= 1)
            if start + 1 in starts:
                end = start
            rows.append(row(start, end, ban=ban, head_ban=head, track=track,
                            invoice_type=itype, period=period))
    return draw(st.permutations(rows))


@settings(max_examples=80, deadline=None)
@given(fit_rows(), st.integers(1, 5))
@example([], 1)
@example([row(0, 0), row(1, 1), row(2, 2)], 2)  # a second part of one item
@example([row(0, 0), row(1, 1)], 1)  # one item a part
def test_whole_columns_and_item_by_item_give_the_same_documents(
        rows: list[dict[str, object]], max_items: int) -> None:
    df = sorted_rows(rows)
    assert e0402._documents(df, max_items) == e0402._documents_item_by_item(df, max_items)


@pytest.mark.parametrize(("rows", "message"), [
    ([row(0, 49), row(40, 99)], "overlap"),
    ([row(0, 49), row(49, 99)], "overlap"),
    ([row(0, 49), row(60, 99), row(50, 55, head_ban=OTHER_HEAD)], "several head offices"),
    ([{**row(0, 49), "begin_no": "0000000A"}], "not two 8-digit numbers"),
    ([{**row(0, 49), "end_no": "123"}], "not two 8-digit numbers"),
    ([{**row(0, 49), "begin_no": "00000060"}], "end is below begin"),
    ([row(0, 49, track="M1")], "track"),
    ([row(0, 49, ban="12345678", head_ban="12345678")], "not a valid 8-digit BAN"),
    ([row(0, 49, period="10313")], "period"),
    ([row(0, 49, invoice_type="09")], "invoice type"),
])
def test_unfit_rows_are_refused_with_the_item_by_item_words(
        tmp_path: Path, rows: list[dict[str, object]], message: str) -> None:
    df = sorted_rows(rows)
    with pytest.raises(ValueError, match=message) as by_item:
        e0402._documents_item_by_item(df, 2)
    with pytest.raises(ValueError) as written:
        e0402.write_e0402(frame(rows), tmp_path, max_items=2)
    assert str(written.value) == str(by_item.value)
    assert list(tmp_path.iterdir()) == []


def test_several_head_offices_across_parts_are_refused(tmp_path: Path) -> None:
    rows = [row(0, 0), row(2, 2), row(4, 4, head_ban=OTHER_HEAD)]  # parts (0, 2) and (4)
    with pytest.raises(ValueError, match="several head offices"):
        e0402.write_e0402(frame(rows), tmp_path, max_items=2)


def test_the_upload_file_is_told_as_written(tmp_path: Path) -> None:
    from blanktrack.mof_csv import write_mof_csvs

    seen: list[tuple[Path, bytes]] = []
    paths = write_mof_csvs(frame([row(2034268, 2034299)]), tmp_path,
                           on_written=lambda path, data: seen.append((path, data)))
    assert [p.name for p in paths] == ["53567686_10312.csv"]
    assert seen == [(paths[0], b"00001,53567686,10312,MB,02034268,02034299,07\r\n")]
    assert paths[0].read_bytes() == seen[0][1]
