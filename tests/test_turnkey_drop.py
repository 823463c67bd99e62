"""Handing E0402 files to Turnkey: whole files in UpCast/B2PMESSAGE/E0402/SRC, never replacing
one Turnkey has not picked up yet."""

from __future__ import annotations

from pathlib import Path

import pytest
from archived_runs import SAMPLE_ALLOCATIONS, SAMPLE_INVOICES

from blanktrack.cli import main
from blanktrack.errors import InputError
from blanktrack.turnkey_drop import drop_e0402

SRC = ("UpCast", "B2PMESSAGE", "E0402", "SRC")


def reconcile(out: Path, *extra: str) -> int:
    return main(["reconcile", "--period", "10312", "--report-date", "2015-01-08",
                 "--allocations", str(SAMPLE_ALLOCATIONS),
                 "--invoices", *map(str, SAMPLE_INVOICES), "--out-dir", str(out), *extra])


@pytest.fixture
def turnkey(tmp_path: Path) -> Path:
    root = tmp_path / "EINVTurnkey"
    (root / "UpCast").mkdir(parents=True)
    return root


def test_reconcile_hands_the_e0402_files_to_turnkey(tmp_path: Path, turnkey: Path,
                                                    capsys) -> None:
    assert reconcile(tmp_path / "out", "--turnkey", str(turnkey)) == 0
    src = turnkey.joinpath(*SRC)
    out = capsys.readouterr().out
    names = sorted(p.name for p in src.iterdir())
    assert names == ["04595257_10312_07_LQ_001.xml", "04595257_10312_07_LR_001.xml",
                     "53567686_10312_07_KT_001.xml", "53567686_10312_07_MB_001.xml",
                     "53567686_10312_08_XA_001.xml"]  # no hidden temporary is left
    for name in names:
        exported = tmp_path / "out" / "10312" / "53567686" / "e0402" / name  # the head's set
        assert (src / name).read_bytes() == exported.read_bytes()
        assert f"  handed to Turnkey: {src / name}\n" in out
    assert main(["check", str(turnkey)]) == 0


def test_a_file_still_waiting_in_src_is_never_replaced(tmp_path: Path, turnkey: Path) -> None:
    assert reconcile(tmp_path / "out") == 0
    files = sorted((tmp_path / "out").rglob("e0402/*.xml"))
    src = turnkey.joinpath(*SRC)
    src.mkdir(parents=True)
    waiting = src / files[2].name
    waiting.write_bytes(b"Turnkey's own copy")
    with pytest.raises(InputError) as err:
        drop_e0402(files, turnkey)
    assert str(err.value) == (
        f"{waiting}: is still in SRC: Turnkey has not picked it up yet; nothing was placed — "
        "wait until Turnkey has sent it (it leaves SRC), then hand the files on again")
    assert sorted(src.iterdir()) == [waiting] and waiting.read_bytes() == b"Turnkey's own copy"


def test_refuses_a_folder_that_is_not_turnkeys_and_a_file_failing_lint(tmp_path: Path,
                                                                       turnkey: Path) -> None:
    bad = tmp_path / "bad.xml"
    bad.write_bytes(b"<VoidInvoice/>")
    with pytest.raises(InputError, match="not a Turnkey data folder"):
        drop_e0402([bad], tmp_path / "elsewhere")
    with pytest.raises(InputError, match="void message"):
        drop_e0402([bad], turnkey)
    assert not turnkey.joinpath(*SRC).exists()
