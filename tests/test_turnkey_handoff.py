"""A period run hands its E0402 files to Turnkey (params `turnkey:`) and the hand-off is a new
entry on the register, never an edit of the run folder (issue 17 item 5); `runs` and `due` show
it until the platform answers."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pytest
from archived_runs import make_run
from platform_answers import process_result
from test_due import CLIENT, clean_client, write_params

from blanktrack import archive, register
from blanktrack.cli import main
from blanktrack.due import due
from blanktrack.errors import InputError
from blanktrack.params import load_params
from blanktrack.platform_results import platform_status
from blanktrack.turnkey_drop import hand_off_run

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "params" / "sample.yaml"
SRC = ("UpCast", "B2PMESSAGE", "E0402", "SRC")
NAMES = ["04595257_10312_07_LQ_001.xml", "04595257_10312_07_LR_001.xml",
         "53567686_10312_07_KT_001.xml", "53567686_10312_07_MB_001.xml",
         "53567686_10312_08_XA_001.xml"]


@pytest.fixture
def turnkey(tmp_path: Path) -> Path:
    root = tmp_path / "EINVTurnkey"
    (root / "UpCast").mkdir(parents=True)
    return root


def params_with(tmp_path: Path, line: str) -> Path:
    path = tmp_path / "p.yaml"
    path.write_text(SAMPLE.read_text(encoding="utf-8") + line + "\n", encoding="utf-8")
    return path


def test_the_turnkey_key_names_a_turnkey_data_folder(tmp_path: Path, turnkey: Path) -> None:
    assert load_params(params_with(tmp_path, f"turnkey: {turnkey}"), ROOT).turnkey == turnkey
    assert load_params(SAMPLE, ROOT).turnkey is None
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(InputError) as err:
        load_params(params_with(tmp_path, f"turnkey: {plain}"), ROOT)
    assert str(err.value) == (
        f"{tmp_path / 'p.yaml'}:17: field 'turnkey': '{plain}' is not a Turnkey data folder (has "
        "no UpCast folder) — give the folder Turnkey keeps its messages in (it holds UpCast), or "
        "leave turnkey out")


def test_a_hand_off_is_a_register_entry_and_the_run_stays_verified(tmp_path: Path,
                                                                   turnkey: Path) -> None:
    root = tmp_path / "archive"
    run = make_run(root, "run-a", started="2015-01-08T00:00:00+00:00")
    manifest = (run / "manifest.json").read_bytes()
    handed = hand_off_run(root, run, run / "exports", turnkey,
                          now=dt.datetime(2015, 1, 8, 3, tzinfo=dt.UTC))
    src = turnkey.joinpath(*SRC)
    assert sorted(p.name for p in src.iterdir()) == NAMES
    assert [p.name for p in handed.placed] == NAMES
    # the record: a new entry on the register; the run folder is as it was
    assert (run / "manifest.json").read_bytes() == manifest
    assert archive.verify_run(run) == []
    assert register.check_chain(root) == []
    entries, _ = register.read(root)
    last = entries[-1]
    assert (last.kind, last.run, last.line) == ("turnkey-handoff", "10312/run-a", 3)
    payload = last.fields["payload"]
    assert payload["target"] == str(src.resolve())
    assert payload["recorded"] == "2015-01-08T03:00:00+00:00"
    files = payload["files"]
    assert [f["file"] for f in files] == [f"exports/10312/53567686/e0402/{n}" for n in NAMES]
    for f in files:
        data = (run / f["file"]).read_bytes()
        assert f["sha256"] == hashlib.sha256(data).hexdigest() and f["bytes"] == len(data)
        assert (src / Path(f["file"]).name).read_bytes() == data
        assert f["placed"] == str(src / Path(f["file"]).name)


def test_runs_and_due_show_the_hand_off_until_the_platform_answers(tmp_path: Path,
                                                                   turnkey: Path,
                                                                   capsys) -> None:
    root = tmp_path / "archive"
    run = make_run(root, "run-a", started="2015-01-08T00:00:00+00:00")
    other = make_run(root, "run-b", started="2015-01-07T00:00:00+00:00")
    hand_off_run(root, run, run / "exports", turnkey)
    assert platform_status(root) == {root / "10312" / "run-a": "handed to Turnkey"}
    capsys.readouterr()
    assert main(["runs", "--archive", str(root)]) == 0
    lines = capsys.readouterr().out.splitlines()
    [line_a] = [x for x in lines if x.endswith(str(run))]
    [line_b] = [x for x in lines if x.endswith(str(other))]
    assert " handed to Turnkey " in line_a and "handed" not in line_b
    # a clean period handed on: due says so, and asks for nothing on the last day
    allocations, invoices = clean_client(tmp_path)
    client = make_run(root, "run-c", started="2015-01-08T01:00:00+00:00", ban=CLIENT,
                      allocations=allocations, invoices=invoices)
    for p in turnkey.joinpath(*SRC).iterdir():
        p.unlink()  # Turnkey took the first run's files
    hand_off_run(root, client, client / "exports", turnkey)
    params = write_params(tmp_path, "c.yaml", "10312", CLIENT, allocations, invoices)
    [row] = due([params], root, today=dt.date(2015, 1, 10))
    assert (row.run_dir, row.status, row.needs_attention) == (client, "handed to Turnkey", False)
    # the platform's answer replaces the hand-off in the platform column
    answer = tmp_path / "answer.xml"
    answer.write_bytes(process_result([("0",)], message_id="53567686_10312_07_MB_001"))
    assert main(["results", str(answer), "--archive", str(root)]) == 0
    assert platform_status(root) == {root / "10312" / "run-a": "uploaded",
                                     client: "handed to Turnkey"}
    # handed on again after that answer (a re-send): handed, until the next answer
    for p in turnkey.joinpath(*SRC).iterdir():
        p.unlink()  # Turnkey took them
    hand_off_run(root, run, run / "exports", turnkey)
    assert platform_status(root) == {root / "10312" / "run-a": "handed to Turnkey",
                                     client: "handed to Turnkey"}


def test_a_refused_hand_off_names_the_run_and_records_nothing(tmp_path: Path,
                                                              turnkey: Path) -> None:
    root = tmp_path / "archive"
    run = make_run(root, "run-a", started="2015-01-08T00:00:00+00:00")
    src = turnkey.joinpath(*SRC)
    src.mkdir(parents=True)
    (src / NAMES[0]).write_bytes(b"waiting")
    with pytest.raises(InputError) as err:
        hand_off_run(root, run, run / "exports", turnkey)
    assert str(err.value).splitlines()[-1] == (
        f"{run}: the run completed and is archived, but its E0402 files were not handed to "
        f"Turnkey — once Turnkey's SRC folder is clear, copy them from {run / 'exports'} into "
        f"{src} (or run `blanktrack reconcile --turnkey`)")
    assert [e.kind for e in register.read(root)[0]] == ["start", "end"]
    assert sorted(p.name for p in src.iterdir()) == [NAMES[0]]


def test_blanktrack_run_hands_the_files_on(tmp_path: Path, turnkey: Path, capsys) -> None:
    root = tmp_path / "archive"
    params = params_with(tmp_path, f"turnkey: {turnkey}")
    assert main(["run", "--params", str(params), "--archive", str(root)]) == 0
    [run] = list((root / "10312").iterdir())
    src = turnkey.joinpath(*SRC)
    assert sorted(p.name for p in src.iterdir()) == NAMES
    entries, _ = register.read(root)
    assert [e.kind for e in entries] == ["start", "end", "turnkey-handoff"]
    assert archive.verify_run(run) == []
    assert archive.read_manifest(run)["parameters"]["turnkey"] == str(turnkey)
    assert platform_status(root) == {run: "handed to Turnkey"}
    # a second run while Turnkey has not taken the first run's files: refused, exit 1, the run
    # archived and named, nothing placed or recorded
    capsys.readouterr()
    assert main(["run", "--params", str(params), "--archive", str(root)]) == 1
    [second] = [p for p in (root / "10312").iterdir() if p != run]
    err = capsys.readouterr().err
    assert f"{src / NAMES[0]}: is still in SRC: Turnkey has not picked it up yet" in err
    assert (f"{second}: the run completed and is archived, but its E0402 files were not handed "
            "to Turnkey") in err
    assert archive.read_manifest(second)["status"] == "completed"
    assert [e.kind for e in register.read(root)[0]] == [
        "start", "end", "turnkey-handoff", "start", "end"]
