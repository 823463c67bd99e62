"""atomic.py under faults: a failure in write, fsync or the rename leaves the old file intact and
no temporary file; a write that replaced the file in place would fail these tests."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from blanktrack import atomic

OLD, NEW = b"old,complete\r\n" * 10, b"new\r\n" * 1000


class _FailingFile:
    """A file whose write fails after the first `good` bytes have gone through (a disk that
    fills up half-way)."""

    def __init__(self, real: Any, good: int) -> None:
        self.real, self.good = real, good

    def write(self, data: Any) -> int:
        data = bytes(data)
        if len(data) > self.good:
            self.real.write(data[: self.good])
            self.real.flush()
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.good -= len(data)
        return int(self.real.write(data))

    def fileno(self) -> int:
        return int(self.real.fileno())

    def flush(self) -> None:
        self.real.flush()

    def close(self) -> None:
        self.real.close()

    def __enter__(self) -> _FailingFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _fail_write(monkeypatch: pytest.MonkeyPatch) -> None:
    real_fdopen = os.fdopen
    monkeypatch.setattr(os, "fdopen", lambda fd, *a, **k: _FailingFile(real_fdopen(fd, *a, **k), 7))


def _fail(name: str) -> Callable[[pytest.MonkeyPatch], None]:
    def patch(monkeypatch: pytest.MonkeyPatch) -> None:
        def fail(*args: object, **kwargs: object) -> None:
            raise OSError(errno.EIO, f"{name} failed (test)")

        monkeypatch.setattr(os, name, fail)

    return patch


FAULTS = {"write": _fail_write, "fsync": _fail("fsync"), "replace": _fail("replace")}


def _entries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("fault", sorted(FAULTS))
@pytest.mark.parametrize("write", ["write_bytes_atomic", "write_file", "write_text_atomic"])
def test_a_failed_write_leaves_the_old_file_and_no_temporary(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fault: str, write: str) -> None:
    target = tmp_path / "53567686_10312.csv"
    target.write_bytes(OLD)
    FAULTS[fault](monkeypatch)
    with pytest.raises(OSError):
        if write == "write_text_atomic":
            atomic.write_text_atomic(target, NEW.decode())
        else:
            getattr(atomic, write)(target, NEW)
    monkeypatch.undo()
    assert target.read_bytes() == OLD
    assert _entries(tmp_path) == ["53567686_10312.csv"]


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_failed_first_write_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             fault: str) -> None:
    FAULTS[fault](monkeypatch)
    with pytest.raises(OSError):
        atomic.write_bytes_atomic(tmp_path / "new.csv", NEW)
    monkeypatch.undo()
    assert _entries(tmp_path) == []


def test_the_file_is_renamed_into_place_whole(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """At the rename, the temporary file beside the target is complete and synced, and the
    target still holds the old bytes."""
    target = tmp_path / "summary.csv"
    target.write_bytes(OLD)
    seen: list[tuple[bytes, bytes, str]] = []
    synced: list[int] = []
    real_replace, real_fsync = os.replace, os.fsync

    def replace(src: str, dst: str) -> None:
        seen.append((Path(src).read_bytes(), Path(dst).read_bytes(), Path(src).parent.name))
        real_replace(src, dst)

    def fsync(fd: int) -> None:
        synced.append(os.fstat(fd).st_size)
        real_fsync(fd)

    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(os, "fsync", fsync)
    atomic.write_bytes_atomic(target, NEW)
    assert seen == [(NEW, OLD, tmp_path.name)]
    assert len(NEW) in synced
    assert target.read_bytes() == NEW and _entries(tmp_path) == ["summary.csv"]


def test_plain_write_is_complete(tmp_path: Path) -> None:
    path = atomic.write_file(tmp_path / "a" / "b.csv", NEW, atomic=False)
    assert path.read_bytes() == NEW and _entries(path.parent) == ["b.csv"]


def test_plain_writes_share_a_folder_made_once(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Many files in one staged set folder: the folder is made once, not once per file; a
    file written again is replaced whole (a shorter one leaves no tail of the longer)."""
    made: list[Path] = []
    real_mkdir = Path.mkdir
    monkeypatch.setattr(Path, "mkdir", lambda self, *a, **k: (k.get("parents") and
                        made.append(self)) or real_mkdir(self, *a, **k))
    folder = tmp_path / "11302" / "53567686" / "e0402"
    for name in ("a.xml", "b.xml", "c.xml", "a.xml"):
        atomic.write_file(folder / name, NEW, atomic=False)
    atomic.write_file(folder / "b.xml", OLD, atomic=False)
    assert made.count(folder) == 1  # asked once (mkdir then makes the parents itself)
    assert _entries(folder) == ["a.xml", "b.xml", "c.xml"]
    assert (folder / "a.xml").read_bytes() == NEW and (folder / "b.xml").read_bytes() == OLD


def test_a_plain_write_makes_a_removed_folder_again(tmp_path: Path) -> None:
    folder = tmp_path / "set"
    atomic.write_file(folder / "a.csv", NEW, atomic=False)
    (folder / "a.csv").unlink()
    folder.rmdir()
    path = atomic.write_file(folder / "b.csv", OLD, atomic=False)
    assert path.read_bytes() == OLD and _entries(folder) == ["b.csv"]


def test_a_plain_write_into_a_file_fails(tmp_path: Path) -> None:
    (tmp_path / "set").write_bytes(OLD)  # where the folder should be
    with pytest.raises(OSError):
        atomic.write_file(tmp_path / "set" / "a.csv", NEW, atomic=False)
    assert (tmp_path / "set").read_bytes() == OLD


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_a_plain_write_is_as_readable_as_the_umask_says(tmp_path: Path, umask: int) -> None:
    old = os.umask(umask)
    try:
        path = atomic.write_file(tmp_path / "set" / "a.csv", NEW, atomic=False)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


@pytest.mark.parametrize("platform", ["linux", "darwin"])
def test_sync_tree_syncs_every_file_or_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             platform: str) -> None:
    (tmp_path / "e0402").mkdir()
    for name in ("a.csv", "e0402/b.xml"):
        (tmp_path / name).write_bytes(NEW)
    monkeypatch.setattr(atomic.sys, "platform", platform)
    calls: list[str] = []
    real_syncfs = atomic._syncfs
    monkeypatch.setattr(atomic, "_syncfs", lambda fd: calls.append("syncfs") or real_syncfs(fd))
    monkeypatch.setattr(os, "sync", lambda: calls.append("sync"))  # never: every disk waited on
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: calls.append("fsync") or real_fsync(fd))
    atomic.sync_tree(tmp_path)
    assert calls == (["syncfs"] if platform == "linux" else ["fsync"] * 4)  # 2 files, 2 folders
    _fail("fsync")(monkeypatch)
    if platform == "linux":
        monkeypatch.setattr(atomic, "_syncfs", lambda fd: (_ for _ in ()).throw(OSError(5, "EIO")))
    with pytest.raises(OSError):
        atomic.sync_tree(tmp_path)


def test_sync_tree_without_syncfs_syncs_every_file(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a.csv").write_bytes(NEW)
    monkeypatch.setattr(atomic.sys, "platform", "linux")
    monkeypatch.setattr(atomic, "_syncfs", lambda fd: False)  # a C library without it
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd) or real_fsync(fd))
    atomic.sync_tree(tmp_path)
    assert len(synced) == 2  # the file and its folder


def test_syncfs_is_called_for_real(tmp_path: Path) -> None:
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert atomic._syncfs(fd) is True  # glibc on the machines blanktrack is made for
        with pytest.raises(OSError):
            atomic._syncfs(10_000)  # no such descriptor: EBADF
    finally:
        os.close(fd)


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o077])
def test_a_file_written_whole_is_as_readable_as_the_umask_says(tmp_path: Path, umask: int) -> None:
    """Records (manifest, notebook, HTML) go through write_bytes_atomic: a colleague on a shared
    drive must be able to open them as any file the user writes (mkstemp alone makes 0600)."""
    old = os.umask(umask)
    try:
        path = atomic.write_bytes_atomic(tmp_path / "manifest.json", b"{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask
