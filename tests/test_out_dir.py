"""Reusing --out-dir: a run replaces only the set folder D/{period}/{reporting BAN}/ an earlier
run of the same period and BAN wrote; everything else in D stays, and a set folder holding
anything blanktrack did not write is refused, nothing changed (issue #13 items 3, 5, 12)."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from corpus.checks import LEDGER, check_ledgers, check_outputs, exports_of, people_csv, upload_file

from blanktrack import exports, out_sets
from blanktrack.cli import main
from blanktrack.errors import InputError

SAMPLE = Path(__file__).resolve().parents[1] / "blanktrack" / "sample" / "10312"
ALLOCATIONS = SAMPLE / "allocations.csv"  # head office 53567686 reports for its branch
DOWNLOAD = SAMPLE / "invnoapply_10312.csv"  # no head_ban: 53567686 and 04595257 each report
INVOICES = [str(p) for p in sorted(SAMPLE.glob("invoices_*.csv"))]


def reconcile(out: Path | str, *extra: str, allocations: Path = ALLOCATIONS,
              invoices: list[str] = INVOICES) -> int:
    return main(["reconcile", "--period", "10312", "--allocations", str(allocations),
                 "--invoices", *invoices, "--out-dir", str(out), "--report-date", "2015-01-08",
                 *extra])


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under folder, hidden ones too: bytes and modification time."""
    return {p.relative_to(folder).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def leftovers(folder: Path) -> list[str]:
    """Hidden entries that are not a set's ledger: staging folders, moved-aside sets, temps."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob(".*")
                  if p.name != LEDGER)


def _outside(snap: dict[str, tuple[bytes, int]], prefix: str) -> dict[str, tuple[bytes, int]]:
    return {k: v for k, v in snap.items() if not k.startswith(prefix)}


def test_a_second_run_touches_nothing_but_its_own_set(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert reconcile(out, allocations=DOWNLOAD) == 0  # sets 10312/04595257 and 10312/53567686
    # A user's files everywhere, an input kept in the period folder, another period's files,
    # the layout of an older blanktrack.
    (out / "notes.txt").write_text("call the branch\n")
    (out / "10312" / "readme.txt").write_text("uploaded 2015-01-09\n")
    kept_input = out / "10312" / "invoices_erp.csv"
    shutil.copy(SAMPLE / "invoices_erp.csv", kept_input)
    (out / "11302" / "53567686").mkdir(parents=True)
    (out / "11302" / "53567686" / "53567686_11302.csv").write_bytes(b"00001,53567686\r\n")
    (out / "11302" / "53567686" / LEDGER).write_bytes(out_sets.ledger_bytes(
        "11302", "53567686",
        {"53567686_11302.csv": hashlib.sha256(b"00001,53567686\r\n").hexdigest()}))
    (out / "mof").mkdir()
    (out / "mof" / "53567686_10308.csv").write_bytes(b"old layout\r\n")
    before = snapshot(out)
    invoices = [p for p in INVOICES if not p.endswith("invoices_erp.csv")] + [str(kept_input)]
    assert reconcile(out, "--split", "booklet", invoices=invoices) == 0
    after = snapshot(out)
    # Only 53567686's set changed; 04595257's set of the first run (this run reports it through
    # its head office) is another set and stays.
    assert _outside(after, "10312/53567686/") == _outside(before, "10312/53567686/")
    assert after["10312/53567686/53567686_10312.csv"] != before["10312/53567686/53567686_10312.csv"]
    assert leftovers(out) == []
    check_ledgers(out)


def test_a_run_again_replaces_its_set_whole(tmp_path: Path) -> None:
    """A track with no blanks any more loses its XML: the set is replaced, not merged."""
    out = tmp_path / "out"
    assert reconcile(out) == 0
    folder = out / "10312" / "53567686"
    first = exports_of(out)
    # An earlier run's file for a track that has no blanks now (recorded in its ledger).
    stale = folder / "e0402" / "53567686_10312_07_ZZ_001.xml"
    stale.write_bytes(b"<old/>")
    ledger = json.loads((folder / LEDGER).read_bytes())
    ledger["files"][stale.relative_to(folder).as_posix()] = hashlib.sha256(b"<old/>").hexdigest()
    (folder / LEDGER).write_text(json.dumps(ledger))
    assert reconcile(out) == 0
    assert not stale.exists() and exports_of(out) == first


@pytest.mark.parametrize("what", ["note", "changed", "no-ledger", "link", "other-ledger"])
def test_a_set_folder_with_a_file_blanktrack_did_not_write_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], what: str) -> None:
    out = tmp_path / "out"
    assert reconcile(out) == 0
    folder = out / "10312" / "53567686"
    named = {"note": folder / "e0402" / "note.txt", "changed": folder / "summary.csv",
             "no-ledger": folder / "findings.csv", "link": folder / "link.csv",
             "other-ledger": folder / "findings.csv"}[what]
    if what == "note":
        named.write_text("keep me\n")
    elif what == "changed":
        with open(named, "a", encoding="utf-8") as fh:
            fh.write("my own row\n")
    elif what == "no-ledger":
        (folder / LEDGER).unlink()
    elif what == "link":
        named.symlink_to(folder / "summary.csv")
    else:
        text = (folder / LEDGER).read_text().replace('"53567686"', '"04595257"')
        (folder / LEDGER).write_text(text)
    before = snapshot(out)
    capsys.readouterr()
    assert reconcile(out, "--split", "booklet") == 1
    err = capsys.readouterr().err
    assert err.startswith("blanktrack: output error:\n"), err
    assert str(named) in err and "move it out of the set folder" in err, err
    assert "Traceback" not in err
    assert snapshot(out) == before and leftovers(out) == []


def test_a_set_folder_that_is_a_file_or_a_link_is_refused(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    out = tmp_path / "out"
    (out / "10312").mkdir(parents=True)
    (out / "10312" / "53567686").write_text("mine\n")
    before = snapshot(out)
    assert reconcile(out) == 1
    err = capsys.readouterr().err
    assert f"{out}/10312/53567686: is not a set folder blanktrack wrote" in err, err
    assert snapshot(out) == before and leftovers(out) == []
    (out / "10312" / "53567686").unlink()
    (out / "10312" / "53567686").symlink_to(tmp_path)
    assert reconcile(out) == 1
    assert "is not a set folder blanktrack wrote" in capsys.readouterr().err


@pytest.mark.parametrize("where", ["10312/53567686/invoices_erp.csv",
                                   "10312/53567686/e0402/invoices_erp.csv",
                                   "10312/04595257/invoices_erp.csv",
                                   ".blanktrack-staging-1-00/10312/invoices_erp.csv"])
def test_an_input_inside_a_set_folder_is_refused(tmp_path: Path, where: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    kept = out / where
    kept.parent.mkdir(parents=True)
    shutil.copy(SAMPLE / "invoices_erp.csv", kept)
    before = snapshot(out)
    invoices = [p for p in INVOICES if not p.endswith("invoices_erp.csv")] + [str(kept)]
    assert reconcile(out, invoices=invoices) == 1
    err = capsys.readouterr().err
    assert f"{kept}: lies inside a set folder of the output folder" in err, err
    assert snapshot(out) == before


def test_an_input_reached_through_a_link_into_a_set_folder_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert reconcile(out) == 0
    link = tmp_path / "alloc.csv"
    link.symlink_to(out / "10312" / "53567686" / "summary.csv")
    with pytest.raises(InputError, match="lies inside a set folder"):
        exports.Exports(out, inputs=[link])
    assert leftovers(out) == []


def test_an_empty_out_dir_name_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as info:
        reconcile("")
    assert info.value.code == 2
    assert "an empty name is not a folder" in capsys.readouterr().err
    with pytest.raises(InputError, match="the output folder is an empty name"):
        exports.Exports("")
    assert list(tmp_path.iterdir()) == []


def test_an_out_dir_that_is_a_file_or_a_link_loop_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    assert reconcile(loop) == 1
    err = capsys.readouterr().err
    assert f"{loop}: the output folder cannot be reached" in err and "Traceback" not in err
    a, b = tmp_path / "a", tmp_path / "b"
    a.symlink_to(b)
    b.symlink_to(a)
    assert reconcile(a / "sub") == 1
    assert "cannot be reached" in capsys.readouterr().err
    file = tmp_path / "file"
    file.write_text("x\n")
    assert reconcile(file) == 1
    assert f"{file}: the output folder is a file" in capsys.readouterr().err
    assert reconcile(tmp_path / ("x" * 300)) == 1
    assert "cannot be reached" in capsys.readouterr().err
    # An input that is a link loop is the loader's to report, not a traceback here.
    assert reconcile(tmp_path / "out", invoices=[*INVOICES, str(loop)]) == 1
    err = capsys.readouterr().err
    assert str(loop) in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "file", "loop"]


def test_an_out_dir_behind_a_link_is_written_through_it(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    assert reconcile(tmp_path / "link") == 0
    assert upload_file(real, "53567686", "10312").is_file()
    assert reconcile(tmp_path / "link") == 0
    assert leftovers(real) == [] and (tmp_path / "link").is_symlink()


# ---------------------------------------------------------------- failed writes and full disks


def _enospc(*args: object, **kwargs: object) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "out/10312/x")


def _rename_new_fails(src: object, dst: object) -> None:
    if out_sets.STAGING_PREFIX in str(src):
        _enospc()
    REAL_RENAME(src, dst)


REAL_RENAME = os.rename


@pytest.mark.parametrize("fault", ["upload-file", "findings", "sync", "rename", "rename-new",
                                   "exchange"])
def test_a_failed_write_keeps_the_previous_set_and_leaves_no_temporary(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        fault: str) -> None:
    out = tmp_path / "out"
    assert reconcile(out) == 0
    before = snapshot(out)
    target = {"upload-file": (exports, "write_mof_csvs"), "findings": (exports, "_write_new_files"),
              "sync": (exports, "sync_tree"), "rename": (out_sets.os, "rename"),
              "rename-new": (out_sets.os, "rename"), "exchange": (out_sets, "_exchange")}[fault]
    monkeypatch.setattr(*target, _rename_new_fails if fault == "rename-new" else _enospc)
    if fault.startswith("rename"):
        monkeypatch.setattr(out_sets, "EXCHANGE", False)
    capsys.readouterr()
    assert reconcile(out, "--split", "booklet") == 1
    err = capsys.readouterr().err
    assert "blanktrack: output error:" in err and "No space left on device" in err, err
    assert "Traceback" not in err
    monkeypatch.undo()
    assert snapshot(out) == before and leftovers(out) == []


def test_a_swap_that_fails_half_way_leaves_each_set_whole(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert reconcile(out, allocations=DOWNLOAD) == 0  # two sets: 04595257, then 53567686
    before = snapshot(out)
    real = out_sets._exchange
    calls: list[object] = []
    monkeypatch.setattr(out_sets, "_exchange",
                        lambda a, b: _enospc() if calls.append(b) or len(calls) == 2
                        else real(a, b))
    assert reconcile(out, "--split", "booklet", "--report-date", "2015-01-20",
                     allocations=DOWNLOAD) == 1
    err = capsys.readouterr().err
    assert "the set folders already swapped hold the new files" in err, err
    after = snapshot(out)
    assert _outside(after, "10312/04595257/") == _outside(before, "10312/04595257/")
    assert after["10312/04595257/findings.csv"] != before["10312/04595257/findings.csv"]
    assert leftovers(out) == []
    check_ledgers(out)


def test_a_failed_first_write_leaves_no_out_dir(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(exports, "_write_new_files", _enospc)
    assert reconcile(tmp_path / "new" / "out") == 1
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs (root and a mount namespace that allows it; else the test skips)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    try:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)],
                              capture_output=True, timeout=30, check=False)
    except OSError as exc:
        pytest.skip(f"cannot mount a tmpfs: {exc}")
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {done.stderr.decode(errors='replace').strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], capture_output=True, timeout=30, check=False)


def test_a_full_disk_keeps_the_previous_output(small_disk: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    out = small_disk / "out"
    assert reconcile(out) == 0
    before = snapshot(out)
    filler = small_disk / "filler"
    with open(filler, "wb", buffering=0) as fh:  # fill the disk to its last byte
        with pytest.raises(OSError) as info:
            while True:
                fh.write(b"\0" * 1024)
        assert info.value.errno == errno.ENOSPC
    capsys.readouterr()
    assert reconcile(out, "--split", "booklet") == 1
    err = capsys.readouterr().err
    assert f"{out}: cannot write the output: No space left on device; nothing in the output " \
        "folder was changed" in err, err
    assert "Traceback" not in err
    assert snapshot(out) == before and leftovers(out) == []
    filler.unlink()
    assert reconcile(out, "--split", "booklet") == 0
    check_outputs(out, [ALLOCATIONS])


@pytest.fixture
def read_only_parent(tmp_path: Path, small_disk: Path) -> Iterator[Path]:
    """A writable out-dir (its own tmpfs) in a folder of a file system mounted read-only."""
    out = small_disk / "out"
    out.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(out)],
                          capture_output=True, timeout=30, check=False)
    if done.returncode != 0:
        pytest.skip("cannot mount a second tmpfs")
    try:
        subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True,
                       capture_output=True, timeout=30)
        yield out
    finally:
        subprocess.run(["umount", str(out)], capture_output=True, timeout=30, check=False)


def test_a_writable_out_dir_under_a_read_only_parent_is_used(read_only_parent: Path) -> None:
    with pytest.raises(OSError):
        (read_only_parent.parent / "probe").mkdir()  # the parent really is read-only
    assert reconcile(read_only_parent) == 0
    assert reconcile(read_only_parent, "--split", "booklet") == 0
    check_outputs(read_only_parent, [ALLOCATIONS])
    assert leftovers(read_only_parent) == []


# ---------------------------------------------------------------- what goes into which set


def test_each_set_holds_its_bans_findings_and_the_run_wide_ones(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert reconcile(out, "--report-date", "2015-01-20", allocations=DOWNLOAD) == 0
    branch, head = (people_csv(out / "10312" / ban / "findings.csv")
                    for ban in ("04595257", "53567686"))
    # A late report concerns the whole run: it has no BAN and is in every set.
    for findings in (branch, head):
        assert findings.filter(pl.col("code") == "late-report")["ban"].to_list() == [None]
    assert set(branch["ban"].drop_nulls()) == {"04595257"}
    assert set(head["ban"].drop_nulls()) == {"53567686"}
    summary = people_csv(out / "10312" / "04595257" / "summary.csv")
    assert set(summary["ban"]) == {"04595257"} and set(summary["track"]) == {"LQ", "LR"}


def test_a_reporting_ban_without_blanks_gets_findings_summary_and_workbook_only(tmp_path: Path
                                                                               ) -> None:
    """A head office whose blanks another system reports: a set, no upload file, no E0402;
    an invoice of a BAN with no allocation in the run: its finding in every set."""
    allocations = tmp_path / "allocations.csv"
    allocations.write_text(ALLOCATIONS.read_text()
                           + "10458575,07,10312,ZZ,00000000,00000049,,,POS-X\n")
    stray = tmp_path / "invoices_stray.csv"
    stray.write_text("invoice_number,invoice_date,seller_ban,status,machine,upload_status\n"
                     "YY00000001,2014-11-03,12345675,issued,POS-9,\n")
    out = tmp_path / "out"
    assert reconcile(out, allocations=allocations, invoices=[*INVOICES, str(stray)]) == 0
    folder = out / "10312" / "10458575"
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")) == [
        LEDGER, "10458575_10312.xlsx", "findings.csv", "summary.csv"]
    findings = people_csv(folder / "findings.csv")
    assert "reported-elsewhere" in set(findings["code"])
    for ban in ("10458575", "53567686"):
        codes = people_csv(out / "10312" / ban / "findings.csv").filter(
            pl.col("ban") == "12345675")["code"].to_list()
        assert codes == ["outside-allocation"], (ban, codes)
    check_ledgers(out)
