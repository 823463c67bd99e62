"""`blanktrack diff`: what a correction changes between two archived runs of a period."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from archived_runs import make_run, with_one_more_invoice
from hypothesis import example, given
from hypothesis import strategies as st

from blanktrack.cli import main
from blanktrack.errors import InputError
from blanktrack.run_diff import _subtract, diff_runs


def test_two_runs_of_the_sample_with_one_invoice_added(tmp_path: Path, capsys) -> None:
    archive = tmp_path / "archive"
    a = make_run(archive, "run-a", started="2015-01-06T00:00:00+00:00")
    invoices = with_one_more_invoice(tmp_path, "MB02034270")
    b = make_run(archive, "run-b", started="2015-01-07T00:00:00+00:00", invoices=invoices)
    capsys.readouterr()
    assert main(["diff", str(a), str(b)]) == 0
    sha = hashlib.sha256(invoices[-1].read_bytes()).hexdigest()
    assert capsys.readouterr().out == (
        f"period 10312: {a} → {b}\n"
        "blank ranges: 1 track(s) changed, 4 unchanged\n"
        "  53567686 type 07 track MB: 1 number(s) no longer blank, 0 newly blank\n"
        "    - MB02034268–MB02034299\n"
        "    + MB02034268–MB02034269\n"
        "    + MB02034271–MB02034299\n"
        "a re-upload replaces these whole tracks on the platform: 53567686 MB (07)\n"
        "findings: 1 appeared, 0 went\n"
        "  + warning skipped-number 53567686 MB02034268–MB02034269: "
        "跳號（已使用最大號碼以下有未開立之號碼，列為空白申報） skipped numbers: MB02034268–MB02034269 "
        "(2 number(s)) were never issued although the allocation issued up to MB02034270 (跳號). "
        "They are reported blank; confirm they were not issued on paper or another system.\n"
        "inputs: 1 changed\n"
        f"  added {invoices[-1]} (sha256 {sha})\n"
    )
    # The other way round: the number is blank again, the finding goes, the input is removed.
    back = diff_runs(b, a)
    [track] = back.tracks
    assert (track.no_longer_blank, track.newly_blank) == (0, 1)
    assert (len(back.findings_went), len(back.findings_appeared)) == (1, 0)
    assert [how for how, _ in back.inputs] == ["removed"]


def test_the_same_run_twice_and_runs_of_two_periods(tmp_path: Path, capsys) -> None:
    archive = tmp_path / "archive"
    a = make_run(archive, "run-a", started="2015-01-06T00:00:00+00:00")
    b = make_run(archive, "run-b", started="2015-01-07T00:00:00+00:00")
    capsys.readouterr()
    assert main(["diff", str(a), str(b)]) == 0
    assert capsys.readouterr().out == (f"period 10312: {a} → {b}\n"
                                       "the same blank ranges, findings and inputs\n")
    other = make_run(archive, "run-c", started="2015-01-07T00:00:00+00:00", period="10310",
                     status="failed")
    with pytest.raises(InputError, match="is a run of period 10310"):
        diff_runs(a, other)
    assert main(["diff", str(a), str(tmp_path)]) == 1


def test_e0402_files_are_read_where_a_run_has_no_upload_file(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    a = make_run(archive, "run-a", started="2015-01-06T00:00:00+00:00")
    b = make_run(archive, "run-b", started="2015-01-07T00:00:00+00:00",
                 invoices=with_one_more_invoice(tmp_path, "XA00012349"))
    for run in (a, b):
        for upload in run.rglob("53567686_10312.csv"):
            upload.unlink()
    [track] = diff_runs(a, b).tracks
    assert track.track == ("53567686", "08", "XA")
    assert (track.removed, track.added) == ([(12320, 12349)], [(12320, 12348)])


spans = st.lists(st.integers(0, 40), max_size=12).map(
    lambda xs: sorted(set(xs)))


def _runs(numbers: list[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for n in numbers:
        if out and out[-1][1] + 1 == n:
            out[-1] = (out[-1][0], n)
        else:
            out.append((n, n))
    return out


@given(spans, spans)
@example([1, 2, 3], [2])        # a hole in the middle
@example([1, 2, 3], [0, 1, 2, 3, 4])  # all gone
@example([], [5])
def test_subtract_is_set_difference(a: list[int], b: list[int]) -> None:
    got = _subtract(_runs(a), _runs(b))
    assert [n for lo, hi in got for n in range(lo, hi + 1)] == sorted(set(a) - set(b))
