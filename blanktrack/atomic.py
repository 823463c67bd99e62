"""Write files so that a reader never sees half of one: temporary file, fsync, rename.

Inside a staging folder that is itself renamed into place as a whole, per-file renames are not
needed: `write_file(..., atomic=False)` writes plain files and `sync_tree` syncs them all before
the caller's rename."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path


def write_bytes_atomic(path: Path, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp makes the file 0600; a record must be as readable as any file the user
        # writes (a colleague on a shared drive opens the HTML), so the umask decides
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    sync_folder(path.parent)  # the rename itself on disk
    return path


def sync_folder(folder: Path) -> None:
    """The entries of folder (a rename into it) on disk."""
    if not hasattr(os, "O_DIRECTORY"):  # Windows: a folder cannot be opened to sync it
        return
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _umask() -> int:
    """The process's umask: from /proc on Linux; elsewhere by setting it and straight back
    (os.umask has no getter)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_text_atomic(path: Path, text: str) -> Path:
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_file(path: Path, data: bytes, atomic: bool = True) -> Path:
    """write_bytes_atomic, or (atomic=False: a file in a staging folder) a plain write; the
    caller syncs the folder with sync_tree before putting it in place."""
    if atomic:
        return write_bytes_atomic(path, data)
    path = Path(path)
    folder = os.fspath(path.parent)
    # A set's many files share a few folders: each folder is made (mkdir) once per process,
    # not once per file; one removed since is made again when the open finds it missing.
    if folder not in _made_folders:
        path.parent.mkdir(parents=True, exist_ok=True)
        _made_folders.add(folder)
    try:
        write_new_file(os.fspath(path), data)
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_new_file(os.fspath(path), data)
    return path


def write_files(files: Iterable[tuple[Path, bytes]], atomic: bool = True,
                on_written: Callable[[Path, bytes], None] | None = None) -> list[Path]:
    """write_file for each (path, data) in order, telling on_written of each file written."""
    written = []
    for path, data in files:
        written.append(write_file(path, data, atomic))
        if on_written is not None:
            on_written(path, data)
    return written


def write_new_file(path: str, data: bytes) -> None:
    """A plain write of a whole file (created or truncated), no rename: for files in a folder
    the caller syncs and renames into place. os.open and os.write, as open()'s buffered file
    object is not needed for one write (hundreds of sets paid more for it than for the writes)."""
    fd = os.open(path, _NEW_FILE, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


_made_folders: set[str] = set()  # folders write_file made or found (atomic=False)
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0)  # Windows: no CRLF


def sync_tree(root: Path) -> None:
    """Every file and folder under root (and root) on disk, as write_bytes_atomic's files are,
    before the caller renames root into place.

    Linux: one syncfs() of root's file system (it waits for the writes to complete, the same
    guarantee as an fsync of every file, at a fraction of the cost for hundreds of files:
    bench/README.md; not sync(), which would also wait for every other program's writes to
    every disk); elsewhere, or where the C library has no syncfs, an fsync of each file and
    folder.
    """
    root = Path(root)
    if sys.platform.startswith("linux"):
        fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
        try:
            if _syncfs(fd):
                return
        finally:
            os.close(fd)
    for folder, _, names in os.walk(root, topdown=False):
        for name in names:
            fd = os.open(os.path.join(folder, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _syncfs(fd: int) -> bool:
    """syncfs(2) of the file system that holds fd (glibc's and musl's public function; Python
    has no wrapper); False where the C library lacks it. OSError if it fails."""
    import ctypes

    function = getattr(ctypes.CDLL(None, use_errno=True), "syncfs", None)
    if function is None:
        return False
    if function(fd) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))
    return True
