"""`verify` and `runs` over any manifest: a clear line and an exit code, never a traceback."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from archived_runs import new_run_dir
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from blanktrack import archive
from blanktrack.cli import main

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
KEYS = ("status", "outputs", "parameters", "started", "finished", "pid", "host", "run_by",
        "error")
MANIFESTS = JSON | st.dictionaries(st.sampled_from(KEYS), JSON, max_size=len(KEYS))


def _archive_with(tmp: Path, manifest_text: str) -> Path:
    run_dir = tmp / "10312" / "r1"
    run_dir.mkdir(parents=True)
    (run_dir / "manifest.json").write_text(manifest_text, encoding="utf-8")
    return run_dir


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(manifest=MANIFESTS)
@example(manifest=[])
@example(manifest=None)
@example(manifest={"outputs": []})
@example(manifest={"outputs": "x"})
@example(manifest={"outputs": None})
@example(manifest={"outputs": {"a": 5}})
@example(manifest={"parameters": "x"})
@example(manifest={"pid": "abc", "status": "running"})
@example(manifest={"pid": -1, "status": "running", "host": os.uname().nodename})
@example(manifest={"started": 5})
def test_verify_and_runs_never_raise(tmp_path_factory: pytest.TempPathFactory,
                                     capsys: pytest.CaptureFixture[str], manifest: object) -> None:
    tmp = tmp_path_factory.mktemp("a")
    run_dir = _archive_with(tmp, json.dumps(manifest))
    rc = main(["verify", str(run_dir)])
    out = capsys.readouterr().out
    assert rc == 1 and out.startswith(f"{run_dir}: ")  # not on the register, at least
    assert main(["runs", "--archive", str(tmp)]) == 0
    out = capsys.readouterr().out
    assert "r1" in out
    (record,) = archive.list_runs(tmp)
    if not isinstance(manifest, dict):
        assert record.status == "unreadable"
    assert record.status != "running"  # no live process of this host wrote it


@pytest.mark.parametrize(("text", "says"), [
    ("[]", "manifest.json: unreadable (a JSON list, not an object)"),
    ("null", "manifest.json: unreadable (a JSON NoneType, not an object)"),
    ('{"outputs": [], "status": "completed"}', "'outputs' is not a mapping of file to sha256"),
    ('{"outputs": "x", "status": "completed"}', "'outputs' is not a mapping of file to sha256"),
    ('{"outputs": null, "status": "completed"}', "'outputs' is not a mapping of file to sha256"),
    ("{", "manifest.json: unreadable"),
    ("\xff", "manifest.json: unreadable"),
])
def test_verify_names_a_damaged_manifest(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         text: str, says: str) -> None:
    run_dir = _archive_with(tmp_path, text)
    assert main(["verify", str(run_dir)]) == 1
    assert says in capsys.readouterr().out


def test_verify_of_a_file_a_missing_folder_and_a_manifest_folder(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("x")
    assert main(["verify", str(a_file)]) == 1
    assert f"{a_file}: {a_file}: is not a folder — give the folder of an archived run" in \
        capsys.readouterr().out
    assert main(["verify", str(tmp_path / "nothing")]) == 1
    assert "does not exist" in capsys.readouterr().out
    run_dir = tmp_path / "10312" / "r1"
    (run_dir / "manifest.json").mkdir(parents=True)
    assert main(["verify", str(run_dir)]) == 1
    assert "manifest.json: unreadable (Is a directory)" in capsys.readouterr().out


def test_runs_lists_an_unreadable_manifest_as_unreadable(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    for name, text in (("a", "[]"), ("b", '{"parameters": "x"}'), ("c", '{"started": 5}'),
                       ("d", '{"pid": "abc", "status": "running", "started": "2026-01-01"}')):
        run_dir = tmp_path / "10312" / name
        run_dir.mkdir(parents=True)
        (run_dir / "manifest.json").write_text(text)
    (tmp_path / "10312" / "e").mkdir()
    (tmp_path / "10312" / "e" / "manifest.json").mkdir()
    assert main(["runs", "--archive", str(tmp_path)]) == 0
    records = {r.run_dir.name: r for r in archive.list_runs(tmp_path)}
    assert records["a"].status == "unreadable" and records["e"].status == "unreadable"
    assert records["b"].period == "10312" and records["c"].started == ""
    assert records["d"].status == "incomplete"


def test_runs_escapes_control_characters(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    manifest = {"status": "completed", "started": "2026-01-01T00:00:00", "run_by": "x\ry",
                "parameters": {"period": "10312", "note": "\x1b[2J\x1b[Hgone\u202e"}}
    run_dir = new_run_dir(tmp_path, "10312", archive.now_utc(), "r1", manifest)
    archive.close_run(tmp_path, run_dir, {**archive.read_manifest(run_dir)})
    assert main(["runs", "--archive", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\r" not in out and "\u202e" not in out
    assert "\\x1b[2J\\x1b[Hgone\\u202e" in out and "x\\ry" in out


def test_runs_refuses_a_negative_limit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["runs", "--archive", str(tmp_path), "--limit", "-1"])
    assert info.value.code == 2
    assert "-1 is negative: give 0 or more" in capsys.readouterr().err


@pytest.mark.parametrize("pid", [-1, 0, "abc", True, 2**80, None])
def test_an_invalid_pid_is_not_running(tmp_path: Path, pid: object) -> None:
    run_dir = tmp_path / "10312" / "r1"
    run_dir.mkdir(parents=True)
    archive.write_manifest(run_dir, {"status": "running", "pid": pid,
                                     "host": os.uname().nodename})
    (record,) = archive.list_runs(tmp_path)
    assert record.status == "incomplete"


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=300) | st.lists(JSON.map(json.dumps), max_size=4).map(
    lambda lines: "\n".join(lines).encode()))
@example(data=b"[" * 100_000 + b"\n")
@example(data=b'{"run": "../..", "kind": "start", "seq": 1, "prev": "' + b"0" * 64 + b'"}\n')
@example(data=b"\xff\xfe\n")
def test_verify_and_runs_over_any_register(tmp_path_factory: pytest.TempPathFactory,
                                           capsys: pytest.CaptureFixture[str],
                                           data: bytes) -> None:
    tmp = tmp_path_factory.mktemp("a")
    run_dir = new_run_dir(tmp, "10312", archive.now_utc(), "r1")
    (tmp / "register.jsonl").write_bytes(data)
    assert main(["verify", str(run_dir)]) == 1  # never finished, at least
    assert main(["runs", "--archive", str(tmp)]) == 0
    assert main(["register", "verify", "--archive", str(tmp)]) in (0, 1)
    capsys.readouterr()


def test_a_deeply_nested_manifest_is_unreadable(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = _archive_with(tmp_path, "[" * 100_000)
    assert main(["verify", str(run_dir)]) == 1
    assert "manifest.json: unreadable (nested too deeply to be a manifest)" in \
        capsys.readouterr().out
    (record,) = archive.list_runs(tmp_path)
    assert record.status == "unreadable"
