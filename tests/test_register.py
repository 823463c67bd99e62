"""The archive's register: hash-chained, append-only, locked, torn lines refused, signatures."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import shutil
import subprocess
from pathlib import Path

import pytest
from archived_runs import new_run_dir

from blanktrack import archive, register
from blanktrack.cli import main

GENESIS = "0" * 64  # literal: the first entry's prev


def _run(archive_root: Path, name: str, status: str = "completed") -> Path:
    run_dir = new_run_dir(archive_root, "10312", archive.now_utc(), name=name)
    (run_dir / "exports").mkdir()
    (run_dir / "exports" / "a.csv").write_text("a\n")
    manifest = archive.read_manifest(run_dir)
    manifest.update(status=status, outputs=archive.output_hashes(run_dir))
    archive.close_run(archive_root, run_dir, manifest)
    return run_dir


def _lines(archive_root: Path) -> list[bytes]:
    return (archive_root / "register.jsonl").read_bytes().split(b"\n")[:-1]


def test_a_run_gets_a_start_and_an_end_entry_chained(tmp_path: Path) -> None:
    run_dir = _run(tmp_path, "r1")
    lines = _lines(tmp_path)
    first, second = (json.loads(x) for x in lines)
    assert first["kind"] == "start" and second["kind"] == "end"
    assert first["run"] == second["run"] == "10312/r1"
    assert first["prev"] == GENESIS and first["seq"] == 1
    assert second["prev"] == hashlib.sha256(lines[0]).hexdigest() and second["seq"] == 2
    assert second["manifest_sha256"] == archive.sha256_file(run_dir / "manifest.json")
    assert first["manifest_sha256"] != second["manifest_sha256"]  # the running manifest
    assert register.head(tmp_path) == hashlib.sha256(lines[1]).hexdigest()
    assert archive.verify_run(run_dir) == []


def test_append_of_another_kind_is_chained_and_carries_its_payload(tmp_path: Path) -> None:
    run_dir = _run(tmp_path, "r1")
    entry = register.append(tmp_path, "platform-receipt", run_dir, {"receipt": "A123", "n": 2})
    assert entry.kind == "platform-receipt" and entry.line == 3
    last = json.loads(_lines(tmp_path)[-1])
    assert last["payload"] == {"receipt": "A123", "n": 2}
    assert register.check_chain(tmp_path) == []
    assert archive.verify_run(run_dir) == []  # other kinds do not vouch for the manifest


def test_an_export_edited_with_its_manifest_hash_is_caught(tmp_path: Path) -> None:
    run_dir = _run(tmp_path, "r1")
    (run_dir / "exports" / "a.csv").write_text("forged\n")
    manifest = archive.read_manifest(run_dir)
    manifest["outputs"]["exports/a.csv"] = archive.sha256_file(run_dir / "exports" / "a.csv")
    archive.write_manifest(run_dir, manifest)
    problems = archive.verify_run(run_dir)
    assert len(problems) == 1 and problems[0].startswith("manifest.json: changed since the "
                                                         "register's line 2 (end)"), problems


def test_an_edited_register_entry_breaks_the_chain_and_the_recorded_head(tmp_path: Path) -> None:
    run_dir = _run(tmp_path, "r1")
    _run(tmp_path, "r2")
    head = register.head(tmp_path)
    manifest = archive.read_manifest(run_dir)
    manifest["parameters"]["note"] = "forged"
    archive.write_manifest(run_dir, manifest)
    lines = _lines(tmp_path)
    entry = json.loads(lines[1])
    entry["manifest_sha256"] = archive.sha256_file(run_dir / "manifest.json")
    lines[1] = register.canonical(entry)
    (tmp_path / "register.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    problems = archive.verify_run(run_dir)
    assert any("line 3: does not follow the entry before it" in p for p in problems), problems
    # Rehashing the whole chain from there on hides that, but not from the recorded head.
    prev = hashlib.sha256(lines[1]).hexdigest()
    for i in range(2, len(lines)):
        later = json.loads(lines[i])
        later["prev"] = prev
        lines[i] = register.canonical(later)
        prev = hashlib.sha256(lines[i]).hexdigest()
    (tmp_path / "register.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    assert archive.verify_run(run_dir) == []  # the chain alone cannot tell
    problems = archive.verify_run(run_dir, expected_head=head)
    assert any("does not lead to the head" in p for p in problems), problems
    assert main(["register", "verify", "--archive", str(tmp_path), "--head", head]) == 1


def test_a_second_end_entry_after_the_recorded_head_is_reported(tmp_path: Path) -> None:
    run_dir = _run(tmp_path, "r1")
    head = register.head(tmp_path)
    manifest = archive.read_manifest(run_dir)
    manifest["status"] = "completed"
    manifest["error"] = "forged"
    archive.write_manifest(run_dir, manifest)
    register.append(tmp_path, "end", run_dir)  # the forger appends a fresh end entry
    problems = archive.verify_run(run_dir, expected_head=head)
    assert any("2 'end' entries" in p for p in problems), problems
    assert any("after the recorded head" in p for p in problems), problems


@pytest.mark.parametrize(("edit", "says"), [
    (lambda lines: lines[:1] + lines[2:], "line 2: does not follow"),  # removed
    (lambda lines: [lines[1], lines[0], *lines[2:]], "line 1: does not follow"),  # reordered
    (lambda lines: [lines[0].replace(b":", b": ", 1), *lines[1:]], "line 1: rewritten"),
    (lambda lines: [b"not json", *lines[1:]], "line 1: not a register entry"),
])
def test_a_damaged_chain_is_reported(tmp_path: Path, edit: object, says: str) -> None:
    _run(tmp_path, "r1")
    _run(tmp_path, "r2")
    lines = edit(_lines(tmp_path))  # type: ignore[operator]
    (tmp_path / "register.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    problems = register.check_chain(tmp_path)
    assert any(says in p for p in problems), problems


def test_a_torn_last_line_is_reported_and_blocks_appending(tmp_path: Path) -> None:
    run_dir = _run(tmp_path, "r1")
    with open(tmp_path / "register.jsonl", "ab") as fh:
        fh.write(b'{"kind":"end","manifest_sha')  # a kill in the middle of an append
    problems = register.check_chain(tmp_path)
    assert problems == [f"{tmp_path / 'register.jsonl'}: line 3: torn (no end of line: an append "
                        "was interrupted); the entry is not accepted"]
    with pytest.raises(register.RegisterError, match="damaged; nothing was appended"):
        register.append(tmp_path, "end", run_dir)
    assert any("torn" in p for p in archive.verify_run(run_dir))
    assert main(["register", "head", "--archive", str(tmp_path)]) == 1


def test_head_command_prints_the_head(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["register", "head", "--archive", str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip() == GENESIS  # an empty archive
    run_dir = _run(tmp_path, "r1")
    assert main(["register", "head", "--archive", str(tmp_path)]) == 0
    head = capsys.readouterr().out.strip()
    assert head == hashlib.sha256(_lines(tmp_path)[-1]).hexdigest()
    assert main(["verify", str(run_dir), "--head", head]) == 0
    assert main(["register", "verify", "--archive", str(tmp_path), "--head", head]) == 0
    assert "leads to the recorded head" in capsys.readouterr().out
    assert main(["verify", str(run_dir), "--head", "1" * 64]) == 1
    with pytest.raises(SystemExit) as info:
        main(["verify", str(run_dir), "--head", "xyz"])
    assert info.value.code == 2


def test_register_verify_names_a_removed_run_folder(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = _run(tmp_path, "r1")
    shutil.rmtree(run_dir)
    assert main(["register", "verify", "--archive", str(tmp_path)]) == 1
    assert "10312/r1: " in capsys.readouterr().out
    (record,) = archive.list_runs(tmp_path)
    assert record.status == "missing"


def _append_many(archive_root: str, n: int) -> None:
    run_dir = Path(archive_root) / "10312" / "r1"
    for i in range(n):
        register.append(Path(archive_root), "note", run_dir, {"i": i}, manifest_sha256="x")


def test_concurrent_appends_keep_one_chain(tmp_path: Path) -> None:
    _run(tmp_path, "r1")
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_append_many, args=(str(tmp_path), 25)) for _ in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
        assert w.exitcode == 0
    entries, problems = register.read(tmp_path)
    assert problems == [] and len(entries) == 2 + 4 * 25


SSH_KEYGEN = shutil.which("ssh-keygen")


@pytest.mark.skipif(SSH_KEYGEN is None, reason="ssh-keygen is not installed")
def test_entries_signed_with_an_ssh_key_verify_and_a_forged_one_does_not(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = tmp_path / "id_ed25519"
    subprocess.run([SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-C", "auditor", "-f", str(key)],
                   check=True, stdin=subprocess.DEVNULL)
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f"auditor@example {(tmp_path / 'id_ed25519.pub').read_text()}")
    archive_root = tmp_path / "archive"
    monkeypatch.setenv("BLANKTRACK_SIGNING_KEY", str(key))
    run_dir = _run(archive_root, "r1")
    monkeypatch.delenv("BLANKTRACK_SIGNING_KEY")
    monkeypatch.setenv("BLANKTRACK_ALLOWED_SIGNERS", str(allowed))
    assert archive.verify_run(run_dir) == []
    # An entry appended without the key is not signed; a signature moved to another entry
    # does not match it.
    register.append(archive_root, "note", run_dir, {"x": 1})
    problems = register.check_chain(archive_root)
    assert problems == [f"{archive_root / 'register.jsonl'}: line 3: not signed"]
    lines = _lines(archive_root)
    third = json.loads(lines[2])
    third["signature"] = json.loads(lines[0])["signature"]
    lines[2] = register.canonical(third)
    (archive_root / "register.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    problems = register.check_chain(archive_root)
    assert problems == [f"{archive_root / 'register.jsonl'}: line 3: the signature does not "
                        "match the entry"]


def test_a_forged_entry_cannot_send_verify_out_of_the_archive(tmp_path: Path) -> None:
    archive_root = tmp_path / "archive"
    run_dir = _run(archive_root, "r1")
    (tmp_path / "outside").mkdir()
    for key in ("../outside", "/etc/x", "10312/../../outside"):
        register.append(archive_root, "start", run_dir, manifest_sha256="x")
        lines = _lines(archive_root)
        entry = json.loads(lines[-1])
        entry["run"] = key
        lines[-1] = register.canonical(entry)
        (archive_root / "register.jsonl").write_bytes(b"\n".join(lines) + b"\n")
        problems = archive.verify_archive(archive_root)
        assert f"{archive_root / 'register.jsonl'}: an entry names {key!r}, not a run folder" \
            in problems, problems
        lines.pop()
        (archive_root / "register.jsonl").write_bytes(b"\n".join(lines) + b"\n")


def test_a_failed_append_leaves_the_register_as_it_was(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import errno
    import os

    run_dir = _run(tmp_path, "r1")
    before = (tmp_path / "register.jsonl").read_bytes()
    real_write = os.write

    def half_then_full(fd: int, data: bytes) -> int:
        real_write(fd, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(os, "write", half_then_full)
    with pytest.raises(OSError, match="No space left on device"):
        register.append(tmp_path, "end", run_dir)
    monkeypatch.setattr(os, "write", real_write)
    assert (tmp_path / "register.jsonl").read_bytes() == before
    assert register.check_chain(tmp_path) == []
