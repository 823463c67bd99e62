"""The upload-file lint takes a shortcut for lines exactly as the writer writes them; it must
report exactly what the full checks report, line for line, on any file."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from blanktrack import mof_csv
from blanktrack.mof_csv import lint_mof_csv

BANS = ["53567686", "04595257", "10458575", "12345678", "53567687"]  # the last two fail the check
PERIODS = ["10312", "11302", "11301", "11313", "1130"]


@st.composite
def upload_line(draw: st.DrawFn, serial: int) -> str:
    begin = draw(st.integers(0, 99_999_999))
    end = draw(st.one_of(st.integers(begin, 99_999_999), st.integers(0, 99_999_999)))
    fields = [
        f"{draw(st.sampled_from([serial, serial, serial, serial + 1, serial - 1])):05d}",
        draw(st.sampled_from(BANS)),
        draw(st.sampled_from(PERIODS)),
        draw(st.sampled_from(["MB", "MB", "ZZ", "M", "Mb", "MBC", ""])),
        f"{begin:08d}",
        f"{end:08d}",
        draw(st.sampled_from(["07", "08", "07", "7", "09"])),
    ]
    line = ",".join(fields)
    if draw(st.integers(0, 5)) == 0:  # any other slip: a character replaced, added or dropped
        at = draw(st.integers(0, len(line)))
        ch = draw(st.sampled_from([" ", ",", "a", "Ｘ", "0", "\t", ""]))
        line = line[:at] + ch + line[at + draw(st.integers(0, 1)):]
    return line


@st.composite
def upload_file(draw: st.DrawFn) -> bytes:
    n = draw(st.integers(0, 8))
    lines = [draw(upload_line(k)) for k in range(1, n + 1)]
    ends = [draw(st.sampled_from(["\r\n", "\r\n", "\n", "\r"])) for _ in lines]
    text = "".join(line + end for line, end in zip(lines, ends, strict=True))
    if lines and draw(st.booleans()):
        text = text.rstrip("\r\n")
    return text.encode("utf-8")


GOOD = "00001,53567686,10312,MB,02034268,02034299,07\r\n"


# Each condition of the shortcut, pinned at its edge: every run meets each plausible slip of it,
# not by chance.
@settings(max_examples=400, deadline=None)
@given(data=upload_file(), expected=st.sampled_from([None, "10312", "11302"]))
@example(data=GOOD.encode(), expected="10312")
@example(data=(GOOD + "00002,04595257,10312,MB,02034300,02034300,08\r\n").encode(),
         expected=None)  # two lines the writer writes: the whole-text shortcut
@example(data=(GOOD + "00002,04595257,10312,MB,02034299,02034300,08\r\n").encode(),
         expected=None)  # the same, but overlapping: the shortcut reads, the overlap check speaks
@example(data=b"00001,53567686,10312,MB,02034299,02034268,07\r\n", expected=None)  # end < begin
@example(data=b"00001,53567686,10312,MB,02034299,02034299,07\r\n", expected=None)  # begin = end
@example(data=b"00002,53567686,10312,MB,02034268,02034299,07\r\n", expected=None)  # serial
@example(data=b"00000,53567686,10312,MB,02034268,02034299,07\r\n", expected=None)
@example(data=(GOOD + GOOD).encode(), expected=None)  # serial 00001 twice (and the same range)
@example(data=b"00001,53567687,10312,MB,02034268,02034299,07\r\n", expected=None)  # check digit
@example(data=b"00001,12345678,10312,MB,02034268,02034299,07\r\n", expected="10312")
@example(data=GOOD.encode(), expected="11302")  # not the expected period
@example(data=b"00001,53567686,10311,MB,02034268,02034299,07\r\n", expected=None)  # odd month
@example(data=b"00001,53567686,10313,MB,02034268,02034299,07\r\n", expected=None)
@example(data=b"00001,53567686,10311,MB,02034268,02034299,07\r\n", expected="10311")
@example(data=(GOOD + "00002,53567686,11302,MB,02034300,02034349,07\r\n").encode(),
         expected=None)  # a second period in the file
@example(data=b"00001,53567686,10312,MB,02034268,02034299,08\r\n", expected=None)
@example(data=b"00001,53567686,10312,MB,02034268,02034299,09\r\n", expected=None)
@example(data=b"00001,53567686,10312,Mb,02034268,02034299,07\r\n", expected=None)
def test_the_shortcut_reports_what_the_full_checks_report(data: bytes, expected: str | None
                                                         ) -> None:
    fast = lint_mof_csv(data, "f.csv", expected_period=expected)
    with pytest.MonkeyPatch.context() as m:  # (a fixture would not be reset between examples)
        m.setattr(mof_csv, "_fine_text", lambda *args: None)
        line_by_line = lint_mof_csv(data, "f.csv", expected_period=expected)
        m.setattr(mof_csv, "_fine_line", lambda *args: False)
        full = lint_mof_csv(data, "f.csv", expected_period=expected)
    assert fast == line_by_line == full
    text = data.decode("utf-8", errors="replace")
    whole = mof_csv._fine_text(text, expected)
    if whole is not None:  # the whole-text shortcut: the ranges the full checks find
        lint = mof_csv._Linter("f.csv")
        with pytest.MonkeyPatch.context() as m:
            m.setattr(mof_csv, "_fine_line", lambda *args: False)
            assert mof_csv._lint_each_line(lint, text, expected) == whole
        assert lint.problems == []


def test_the_shortcut_is_taken_for_the_writers_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    taken = []
    fine = mof_csv._fine_line
    monkeypatch.setattr(mof_csv, "_fine_line", lambda *a: taken.append(fine(*a)) or taken[-1])
    data = b"00001,53567686,10312,MB,02034268,02034299,07\r\n00002,04595257,10312,MB,02034300,02034300,08\r\n"
    assert lint_mof_csv(data, "f.csv", expected_period="10312") == []
    assert taken == []  # the whole text at once
    assert [(r.line, r.ban, r.begin, r.end) for r in mof_csv._fine_text(data.decode(), "10312")
            or []] == [(1, "53567686", 2034268, 2034299), (2, "04595257", 2034300, 2034300)]
    assert lint_mof_csv(data.replace(b"\r\n", b"\n"), "f.csv", expected_period="10312") == []
    assert taken == [True, True]  # LF ends: line by line
