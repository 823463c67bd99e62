"""Lines named in messages about an ERP CSV are the file's physical lines (issue 15): blank and
whitespace-only lines, line ends inside quoted values of earlier records, CRLF, leading blank
lines — in memory and streamed. The expected line is counted in the text the test wrote."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sources_period import BRANCH, HEAD, blanks, run, write_allocations, write_canonical
from test_sources_streamed import _stream
from test_sources_tables import ERP_HEADER, INVOICES

from blanktrack.errors import InputError
from blanktrack.sources import erp

GOOD = [f"S{i},103/{d[5:7]}/{d[8:]},{b},{n[:2]},{n[2:]},{ {'issued': '開立', 'cancelled': '作廢'}[s]},"
        f"POS-{i % 2},{100 + i}" for i, (n, d, b, s) in enumerate(INVOICES)]
BAD = f"S9,103/11/31,{BRANCH},CD,00000101,開立,POS-0,109"  # 31 November: no such day

# What may stand between records: nothing, a blank line, a line of spaces, a row of empty
# fields; and an order number whose quoted value holds line ends.
_GAPS = st.lists(st.sampled_from(["", "   ", ",,,,,,,"]), max_size=3)
_NOTES = st.sampled_from(["", '"S\nnote"', '"S\n\nnote, with comma"', '"a ""quoted""\nnote"'])


def _text(gaps: list[list[str]], notes: list[str], newline: str, leading: int) -> str:
    """The header after `leading` blank lines, then each good row (order number replaced by
    its note where one is given) after its gap lines, then the gap and the bad row."""
    lines = [""] * leading + [ERP_HEADER.rstrip("\n")]
    for row, gap, note in zip(GOOD, gaps[:-1], notes, strict=True):
        lines += gap
        lines.append(note + row[row.index(","):] if note else row)
    lines += gaps[-1]
    lines.append(BAD)
    return ("\n".join(lines) + "\n").replace("\n", newline)


def _expected_line(text: str) -> int:
    return text[:text.index("S9,")].count("\n") + 1


def _bad_line(tmp_path, text: str) -> int:
    alloc = write_allocations(tmp_path)
    path = tmp_path / "erp.csv"
    path.write_bytes(text.encode("utf-8"))
    with pytest.raises(InputError) as err:
        run(alloc, [path])
    problem = err.value.problems[0]
    assert (problem.file, problem.field) == (str(path), "invoice_date")
    return problem.line


_CASES = dict(gaps=st.lists(_GAPS, min_size=5, max_size=5),
              notes=st.lists(_NOTES, min_size=4, max_size=4),
              newline=st.sampled_from(["\n", "\r\n"]), leading=st.integers(0, 2))
_EDGE = dict(gaps=[[], ["", ""], ["   ", ""], [",,,,,,,"], ["", "", ""]],
             notes=['"S\nnote"', "", '"S\n\nnote, with comma"', '"a ""quoted""\nnote"'],
             newline="\r\n", leading=1)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(**_CASES)
@example(**_EDGE)
@example(gaps=[[]] * 5, notes=[""] * 4, newline="\n", leading=0)
def test_a_bad_value_is_named_by_its_physical_line(tmp_path_factory, gaps, notes, newline,
                                                    leading):
    text = _text(gaps, notes, newline, leading)
    assert _bad_line(tmp_path_factory.mktemp("lines"), text) == _expected_line(text)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(**_CASES)
@example(**_EDGE)
def test_a_bad_value_is_named_by_its_physical_line_when_streamed(tmp_path_factory, gaps, notes,
                                                                 newline, leading):
    text = _text(gaps, notes, newline, leading)
    with pytest.MonkeyPatch.context() as mp:
        _stream(mp)
        assert _bad_line(tmp_path_factory.mktemp("lines"), text) == _expected_line(text)


def test_the_literal_case_blank_lines_and_a_two_line_note(tmp_path):
    # header 1; S0 on 2; blank 3; S1 on 4-5 (its note holds a line end); spaces 6; S2 7;
    # S3 8; blank 9; the bad row on line 10
    text = (ERP_HEADER + GOOD[0] + "\n\n" + '"S\nnote"' + GOOD[1][GOOD[1].index(","):] + "\n   \n"
            + GOOD[2] + "\n" + GOOD[3] + "\n\n" + BAD + "\n")
    assert _bad_line(tmp_path, text) == 10


@pytest.mark.parametrize("streamed", [False, True])
def test_records_spanning_lines_give_the_blanks_of_the_canonical_table(tmp_path, streamed):
    alloc = write_allocations(tmp_path)
    canonical = run(alloc, [write_canonical(tmp_path / "c.csv", INVOICES)])
    path = tmp_path / "erp.csv"
    path.write_text(_text([[], [""], ["   "], [], []], ['"S\nnote"', "", "", ""], "\r\n", 0)
                    .replace(BAD + "\r\n", ""), encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        if streamed:
            _stream(mp)
        result = run(alloc, [path])
    assert blanks(result) == blanks(canonical)
    assert result.input_kinds[-1].rows == 4


def test_a_quote_without_a_line_end_inside_is_no_span(tmp_path):
    path = tmp_path / "erp.csv"
    path.write_text(ERP_HEADER + '"S0",103/11/01,' + HEAD + ',AB,00000000,開立,"POS, 1",1\n',
                    encoding="utf-8")
    assert not erp._spans_lines(path, str(path))
    path.write_text(ERP_HEADER + '"S0\n",103/11/01,' + HEAD + ',AB,00000000,開立,POS-1,1\n',
                    encoding="utf-8")
    assert erp._spans_lines(path, str(path))
