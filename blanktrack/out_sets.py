"""The set folders of an out-dir: D/{period}/{reporting BAN}/, the unit a run replaces.

A set folder holds what one run wrote for one (period, reporting BAN) and a hidden ledger
(LEDGER: period, reporting BAN, every file with its SHA-256, the blanktrack version), so that a
later run knows what it may replace. A set folder holding anything the ledger does not list, or
a listed file that changed, is never replaced: the run is refused, naming the file.

A new set is staged elsewhere inside D, synced, then swapped with the old one:

- Linux, on file systems that support it (ext4, xfs, btrfs, tmpfs, …): one
  renameat2(RENAME_EXCHANGE) call, so at every moment D/{period}/{BAN} is the complete old set or
  the complete new one;
- elsewhere (EINVAL/ENOSYS, not Linux): the old set is renamed to a hidden
  D/{period}/.{BAN}.old-{pid}-{random}, then the new one renamed in. A crash between the two
  renames leaves no set folder until the next export to D, which puts the old set back
  (recover); a crash later leaves the new set and a hidden old one, which the next export
  removes.
"""

from __future__ import annotations

import ctypes
import errno
import hashlib
import json
import os
import re
import shutil
import signal
import sys
from collections.abc import Iterable
from pathlib import Path

from . import __version__
from .archive import running_here
from .atomic import sync_folder
from .errors import InputError, Problem

LEDGER = ".blanktrack-set.json"
STAGING_PREFIX = ".blanktrack-staging-"
_STAGING = re.compile(r"^\.blanktrack-staging-(?P<pid>\d+)-[0-9a-f]+$")
_OLD = re.compile(r"^\.(?P<ban>\d{8})\.old-(?P<pid>\d+)-[0-9a-f]+$")
_SET_NAME = re.compile(r"^\d{8}$")
MAX_PROBLEMS = 20

# Test hook, nothing else: "{step}" or "{step}#{n}" (the n-th time, from 1): the step of the
# swap (see _step) at which the process kills itself with SIGKILL, so that tests can stop a run
# at every step (tests/test_swap.py).
KILL_ENV = "BLANKTRACK_TEST_KILL_AT"
_steps_seen: dict[str, int] = {}


class OutputError(InputError):
    """The out-dir cannot take the run's files: nothing of the previous output is changed."""


def _step(name: str) -> None:
    kill_at = os.environ.get(KILL_ENV)
    if not kill_at:
        return
    _steps_seen[name] = _steps_seen.get(name, 0) + 1
    if kill_at in (name, f"{name}#{_steps_seen[name]}"):
        os.kill(os.getpid(), signal.SIGKILL)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def ledger_bytes(period: str, reporting_ban: str, files: dict[str, str]) -> bytes:
    """The ledger of a set: JSON with sorted keys, indented by 2, so that the same files give
    the same bytes. Laid out here, each value encoded by json: json.dumps with an indent takes
    its pure-Python encoder, slow for the hundreds of sets of a run of many reporting BANs."""
    entries = ",\n".join(f"    {json.dumps(rel)}: {json.dumps(digest)}"
                         for rel, digest in sorted(files.items()))
    listed = f"{{\n{entries}\n  }}" if entries else "{}"
    return (f'{{\n  "blanktrack": {json.dumps(__version__)},\n  "files": {listed},\n'
            f'  "period": {json.dumps(period)},\n'
            f'  "reporting_ban": {json.dumps(reporting_ban)}\n}}\n').encode("ascii")


def set_files(folder: Path) -> list[str]:
    """Every entry under a set folder that is not a folder, relative, '/'-separated, sorted
    (links included, not followed)."""
    found: list[str] = []
    for root, dirs, names in os.walk(folder):
        rel = Path(root).relative_to(folder)
        found.extend((rel / n).as_posix() for n in names)
        found.extend((rel / d).as_posix() for d in dirs if os.path.islink(os.path.join(root, d)))
    return sorted(found)


def check_replaceable(target: Path, shown: Path, period: str, reporting_ban: str
                      ) -> list[Problem]:
    """Why D/{period}/{BAN} may not be replaced by a new set ([] when it may: it is missing,
    empty, or holds exactly files an earlier run recorded in its ledger, unchanged)."""
    fix = "move it out of the set folder (blanktrack replaces only the files it wrote there)"
    if not os.path.lexists(target):
        return []
    if target.is_symlink() or not target.is_dir():
        return [Problem(str(shown), None, None,
                        "is not a set folder blanktrack wrote (a file or a link)",
                        "move it away, or give another --out-dir")]
    files = set_files(target)
    if not files:
        return []
    recorded: dict[str, str] = {}
    problems = []
    try:
        ledger = json.loads((target / LEDGER).read_bytes())
        if (ledger.get("period"), ledger.get("reporting_ban")) != (period, reporting_ban):
            raise ValueError("another set's ledger")
        recorded = dict(ledger["files"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        problems.append(Problem(str(shown), None, None,
                                "holds files but no record of a blanktrack run of this period "
                                "and BAN", "move the files out of the set folder"))
    for rel in files:
        if rel == LEDGER and not problems:
            continue
        path = target / rel
        if rel not in recorded:
            problems.append(Problem(str(shown / rel), None, None,
                                    "was not written by blanktrack", fix))
        elif path.is_symlink() or not path.is_file():
            problems.append(Problem(str(shown / rel), None, None,
                                    "was replaced by a link or a special file", fix))
        elif _sha256_file(path) != recorded[rel]:
            problems.append(Problem(str(shown / rel), None, None,
                                    "changed since blanktrack wrote it", fix))
    return problems


def refuse_inputs_in_sets(out_dir: Path, inputs: Iterable[str | Path]) -> None:
    """InputError naming every input that lies in a set folder of out_dir (or in its staging):
    a run would replace or remove it."""
    root = Path(out_dir).resolve()
    problems = []
    for given in inputs:
        try:
            resolved = Path(given).resolve()
        except (OSError, RuntimeError, ValueError):  # a link loop: reading it says so
            continue
        parts = _parts_under(resolved, root)
        if parts is None or len(parts) < 2:
            continue
        if parts[0].startswith(STAGING_PREFIX) or (
                len(parts) >= 3 and (_SET_NAME.match(parts[1]) or _OLD.match(parts[1]))):
            problems.append(Problem(str(given), None, None,
                                    f"lies inside a set folder of the output folder {out_dir}, "
                                    "which a run replaces",
                                    "keep inputs out of the output folder's {period}/{BAN} "
                                    "folders"))
    if problems:
        raise InputError(problems)


def _parts_under(path: Path, root: Path) -> tuple[str, ...] | None:
    try:
        return path.relative_to(root).parts
    except ValueError:
        return None


def swap_in(staged: Path, target: Path) -> Path | None:
    """Put the staged set folder at target. The old set (if any) ends up at `staged`'s path
    (exchange: None is returned) or under a hidden name in target's folder, returned for the
    caller to remove once the folder is synced. Nothing but these paths is touched."""
    if not os.path.lexists(target):
        _step("before-rename")
        os.rename(staged, target)
        _step("renamed")
        return None
    _step("before-exchange")
    if _exchange(staged, target):
        _step("exchanged")
        return None
    old = target.parent / f".{target.name}.old-{os.getpid()}-{os.urandom(4).hex()}"
    _step("before-move-old")
    os.rename(target, old)
    _step("moved-old")
    try:
        os.rename(staged, target)
    except OSError:
        os.rename(old, target)  # the old set back: never no set while we run
        raise
    _step("moved-new")
    return old


# Test hook: False makes swap_in take the rename-twice path, as on a file system without
# RENAME_EXCHANGE (tests run both paths).
EXCHANGE = True
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths with renameat2(RENAME_EXCHANGE); False where it is not
    available (not Linux, glibc < 2.28, or a file system without it)."""
    if not EXCHANGE or not sys.platform.startswith("linux"):
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except AttributeError:
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                          ctypes.c_uint]
    renameat2.restype = ctypes.c_int
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def recover(out_dir: Path) -> None:
    """Finish what runs that no longer run left in out_dir: remove their staging folders; put
    a set moved aside back where no set took its place, else remove it."""
    if not out_dir.is_dir():
        return
    for entry in out_dir.iterdir():
        m = _STAGING.match(entry.name)
        if m and not running_here(int(m["pid"])):
            shutil.rmtree(entry)
    for period_dir in out_dir.iterdir():
        if period_dir.name.startswith(".") or period_dir.is_symlink() or not period_dir.is_dir():
            continue
        for entry in period_dir.iterdir():
            m = _OLD.match(entry.name)
            if not m or running_here(int(m["pid"])):
                continue
            target = period_dir / m["ban"]
            if os.path.lexists(target):
                shutil.rmtree(entry)
            else:
                os.rename(entry, target)
                sync_folder(period_dir)
