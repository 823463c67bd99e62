"""The audit archive: one folder per run, a manifest of hashes, the list of runs and verify.

A run's folder is made hidden (`.staging-{pid}-{run-id}`), its manifest written there with status
`running`, and only then renamed into place and entered on the register (register.py), under the
register's lock: a run is on the record from the moment its folder is visible, never as an empty
folder. The manifest is rewritten (atomically) when the run ends and entered again, so a run
killed half-way is still on the record: `runs` shows it as `incomplete`.

Every file of a run folder is an output (hidden ones too): verify re-hashes each against the
manifest, names every file the manifest does not list and every symbolic link, and checks the
manifest against the register.
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import register
from .atomic import write_text_atomic

DEFAULT_ARCHIVE = Path("archive")  # where `blanktrack run` keeps its runs
MANIFEST = "manifest.json"
_RUN_KEY = re.compile(r"^[^./][^/]*/[^./][^/]*$")  # {period}/{run}, as register.run_key names it
STAGING_PREFIX = ".staging-"
# Test hooks: the named step of a run kills the process (KILL_ENV) or calls fault_hook (in
# process, e.g. to raise ENOSPC), so that every step can be tested, not random timing.
KILL_ENV = "BLANKTRACK_TEST_KILL_AT"
fault_hook: Callable[[str], None] | None = None


def fault_point(step: str) -> None:
    if os.environ.get(KILL_ENV) == step:
        os.kill(os.getpid(), signal.SIGKILL)
    if fault_hook is not None:
        fault_hook(step)


def sha256_file(path: Path) -> str:
    """The file's sha256; of a folder (a Turnkey data folder given as input), the sha256 of
    its files' relative paths and sha256s, sorted, one a line."""
    if Path(path).is_dir():
        root = Path(path)
        lines = sorted(f"{f.relative_to(root).as_posix()}\0{sha256_file(f)}\n"
                       for f in root.rglob("*") if f.is_file())
        return hashlib.sha256("".join(lines).encode("utf-8")).hexdigest()
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def identity(path: Path) -> tuple[int, int, int, int]:
    """What tells a file from its replacement: device, inode, size, modification time (ns)."""
    st = os.stat(path)
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


# Set by the runner for its kernel: reconcile() appends there what it hashed of each input, so
# that the runner can compare the kernel's hashes with its own.
INPUT_LEDGER_ENV = "BLANKTRACK_INPUT_LEDGER"


def record_input_digest(path: Path, sha256: str) -> None:
    ledger = os.environ.get(INPUT_LEDGER_ENV)
    if ledger:
        with open(ledger, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"path": str(path), "sha256": sha256}) + "\n")


def read_input_ledger(ledger: Path) -> dict[str, str]:
    try:
        lines = Path(ledger).read_text(encoding="utf-8").splitlines()
    except OSError:
        return {}
    seen: dict[str, str] = {}
    for line in lines:
        try:
            item = json.loads(line)
            seen[str(item["path"])] = str(item["sha256"])
        except (ValueError, KeyError, TypeError):
            continue
    return seen


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def who() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"


class ArchiveError(Exception):
    """The archive cannot hold this run; the message names the folder and the fix."""


@dataclass(frozen=True)
class StagedRun:
    """A run folder being prepared, hidden, before it is on the record."""

    archive: Path
    staging: Path
    target: Path


def _period_folder(archive: Path, period: str) -> Path:
    """archive/{period}, made if need be; refused when it is a link or leads out of the archive
    (a run must never be written outside it)."""
    root = Path(archive)
    root.mkdir(parents=True, exist_ok=True)
    folder = root / period
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise ArchiveError(f"{folder} is a link or not a folder: runs are only written inside "
                           f"the archive folder {root.resolve()} — replace it with a folder")
    folder.mkdir(exist_ok=True)
    if folder.resolve().parent != root.resolve():
        raise ArchiveError(f"{folder} resolves to {folder.resolve()}, outside the archive "
                           f"folder {root.resolve()} — replace it with a folder")
    return folder


def stage_run(archive: Path, period: str, started: dt.datetime, name: str | None = None
              ) -> StagedRun:
    """A hidden folder for a new run; `name` (the parameter file's run_folder, checked by params)
    replaces the generated run id. Leftover staging folders of runs no longer running go."""
    folder = _period_folder(archive, period)
    for entry in folder.glob(f"{STAGING_PREFIX}*"):
        pid = entry.name[len(STAGING_PREFIX):].split("-", 1)[0]
        if pid.isdigit() and not running_here(int(pid)) and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
    for _ in range(10):
        run_id = name or f"{started:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
        target = folder / run_id
        if target.exists() or target.is_symlink():
            if name is not None:
                raise FileExistsError(str(target))
            continue
        staging = folder / f"{STAGING_PREFIX}{os.getpid()}-{run_id}"
        staging.mkdir()
        fault_point("staged")
        return StagedRun(Path(archive), staging, target)
    raise ArchiveError(f"could not create a new run folder under {folder}")


def open_run(staged: StagedRun, manifest: dict[str, Any]) -> Path:
    """Put the staged run on the record: its manifest written, the folder renamed into place and
    a `start` entry on the register, all under the register's lock."""
    manifest = {**manifest, "run_id": staged.target.name}
    write_manifest(staged.staging, manifest)
    fault_point("manifest-staged")
    with register.locked(staged.archive):
        if staged.target.exists() or staged.target.is_symlink():
            raise FileExistsError(str(staged.target))  # made by someone else meanwhile
        os.rename(staged.staging, staged.target)
        fault_point("renamed")
    register.append(staged.archive, register.START, staged.target)
    fault_point("registered")
    return staged.target


def close_run(archive: Path, run_dir: Path, manifest: dict[str, Any]) -> None:
    """The run's final manifest, then its `end` entry on the register."""
    fault_point("end")
    write_manifest(run_dir, manifest)
    fault_point("manifest-final")
    register.append(archive, register.END, run_dir)
    fault_point("registered-end")


def _walk(run_dir: Path) -> tuple[dict[str, Path], list[str], list[str]]:
    """Regular files (relative name → path), symbolic links and other non-files under
    run_dir, links not followed; hidden names included."""
    files: dict[str, Path] = {}
    links: list[str] = []
    odd: list[str] = []
    for folder, dirs, names in os.walk(run_dir, followlinks=False):
        base = Path(folder)
        for name in sorted([*dirs, *names]):
            path = base / name
            rel = path.relative_to(run_dir).as_posix()
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode):
                links.append(rel)
            elif stat.S_ISREG(mode):
                files[rel] = path
            elif not stat.S_ISDIR(mode):
                odd.append(rel)
    return files, sorted(links), sorted(odd)


def output_hashes(run_dir: Path) -> dict[str, str]:
    """SHA-256 of every regular file in the run folder (hidden ones too) but its manifest;
    links are not followed (verify names them)."""
    files, _, _ = _walk(Path(run_dir))
    return {rel: sha256_file(p) for rel, p in sorted(files.items()) if rel != MANIFEST}


def write_manifest(run_dir: Path, manifest: dict[str, Any]) -> None:
    write_text_atomic(run_dir / MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False,
                                                     sort_keys=True) + "\n")


def read_manifest(run_dir: Path) -> dict[str, Any]:
    """The manifest as a mapping; ValueError when it is no JSON object, OSError when it cannot
    be read (a folder, missing)."""
    try:
        data = json.loads((Path(run_dir) / MANIFEST).read_text(encoding="utf-8"))
    except RecursionError as exc:
        raise ValueError("nested too deeply to be a manifest") from exc
    if not isinstance(data, dict):
        raise ValueError(f"a JSON {type(data).__name__}, not an object")
    return data


def running_here(pid: int) -> bool:
    """Whether a process of this id runs on this host (or may: one we may not signal)."""
    return _alive(pid, socket.gethostname())


def _alive(pid: object, host: object) -> bool:
    # A pid that is no positive integer (-1, "abc", true) names no process: os.kill(-1, 0)
    # would ask about every process there is.
    if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0:
        return False
    if host != socket.gethostname():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):  # not ours to signal, or no pid at all: keep
        return True
    return True


@dataclass(frozen=True)
class RunRecord:
    run_dir: Path
    period: str
    run_by: str
    started: str
    finished: str
    status: str  # completed | failed | running | incomplete | unreadable | missing
    note: str


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _record(run_dir: Path) -> RunRecord:
    try:
        m = read_manifest(run_dir)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return RunRecord(run_dir, run_dir.parent.name, "?", "", "", "unreadable",
                         f"manifest unreadable: {why}")
    params = m.get("parameters")
    params = params if isinstance(params, dict) else {}
    status = _text(m.get("status")) or "?"
    pid = m.get("pid")
    # beyond pid_t no process can be: not running (a kernel folder of such a name is kept)
    if status == "running" and not (isinstance(pid, int) and pid < 2**31
                                    and _alive(pid, m.get("host"))):
        status = "incomplete"
    return RunRecord(
        run_dir, _text(params.get("period")) or run_dir.parent.name,
        _text(m.get("run_by")) or "?", _text(m.get("started")), _text(m.get("finished")),
        status, _text(params.get("note")) or _text(m.get("error")),
    )


def list_runs(archive: Path) -> list[RunRecord]:
    """Every run under the archive, newest first; a run on the register whose folder is gone is
    listed as `missing`."""
    archive = Path(archive)
    records = []
    seen = set()
    for period in sorted(archive.iterdir()) if archive.is_dir() else []:
        if period.name.startswith(".") or not period.is_dir() or period.is_symlink():
            continue
        for run_dir in sorted(period.iterdir()):
            if run_dir.name.startswith(".") or not run_dir.is_dir():
                continue
            seen.add(f"{period.name}/{run_dir.name}")
            records.append(_record(run_dir))
    entries, _ = register.read(archive)
    ended = {e.run for e in entries if e.kind == register.END}
    for i, r in enumerate(records):
        # killed after its manifest said so, before the register did: its end is not vouched for
        if r.status in ("completed", "failed") \
                and f"{r.run_dir.parent.name}/{r.run_dir.name}" not in ended:
            records[i] = RunRecord(r.run_dir, r.period, r.run_by, r.started, r.finished,
                                   "incomplete", f"{r.status}, but its end is not on the register")
    for entry in entries:
        if entry.run not in seen and entry.kind == register.START:
            seen.add(entry.run)
            run_period = entry.run.split("/", 1)[0]
            records.append(RunRecord(archive / entry.run, run_period, "?",
                                     _text(entry.fields.get("time")), "", "missing",
                                     "on the register, but its folder is gone"))
    return sorted(records, key=lambda r: (r.started, str(r.run_dir)), reverse=True)


def archive_of(run_dir: Path) -> Path:
    """The archive a run folder belongs to: archive/{period}/{run}."""
    return Path(os.path.abspath(run_dir)).parents[1]


def verify_archive(archive: Path, expected_head: str | None = None) -> list[str]:
    """verify_run for every run on the register or in the archive (the chain itself is
    register.check_chain's): one line per problem, each naming its run."""
    archive = Path(archive)
    entries, _ = register.read(archive)
    keys = {e.run for e in entries if e.kind in (register.START, register.END)}
    # a forged entry must not send verify outside the archive: {period}/{run} names only
    strange = sorted(k for k in keys if not _RUN_KEY.match(k))
    keys -= set(strange)
    on_disk = {f"{r.run_dir.parent.name}/{r.run_dir.name}" for r in list_runs(archive)
               if r.status != "missing"}
    problems = [f"{register.register_path(archive)}: an entry names {k!r}, not a run folder"
                for k in strange]
    for key in sorted(keys | on_disk):
        problems.extend(f"{key}: {p}" for p in
                        verify_run(archive / key, archive, expected_head, chain=False))
    return problems


def verify_run(run_dir: Path, archive: Path | None = None,
               expected_head: str | None = None, *, chain: bool = True) -> list[str]:
    """Check an archived run: every file against its manifest (changed, missing, added, links),
    the manifest against the register, the register against itself (and the head an auditor
    recorded). One line per problem; empty when the run is intact."""
    run_dir = Path(run_dir)
    if run_dir.is_symlink():
        return [f"{run_dir}: a symbolic link, not a run folder"]
    if not run_dir.is_dir():
        what = "does not exist" if not run_dir.exists() else "is not a folder"
        return [f"{run_dir}: {what} — give the folder of an archived run"]
    archive = Path(archive) if archive is not None else archive_of(run_dir)
    try:
        manifest = read_manifest(run_dir)
    except FileNotFoundError:
        return [f"{MANIFEST}: missing — not an archived run"]
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return [f"{MANIFEST}: unreadable ({why})"]
    problems = []
    recorded = manifest.get("outputs")
    if not isinstance(recorded, dict) or not all(
            isinstance(v, str) for v in recorded.values()):
        problems.append(f"{MANIFEST}: 'outputs' is not a mapping of file to sha256 "
                        f"({type(recorded).__name__}) — the manifest is damaged")
        recorded = {}
    files, links, odd = _walk(run_dir)
    for rel, digest in sorted(recorded.items()):
        if rel not in files:
            problems.append(f"{rel}: missing" + (" (a symbolic link now)" if rel in links else ""))
            continue
        actual = sha256_file(files[rel])
        if actual != digest:
            problems.append(f"{rel}: changed (sha256 {actual} ≠ recorded {digest})")
    problems.extend(f"{rel}: not in the manifest (added after the run)"
                    for rel in sorted(set(files) - set(recorded) - {MANIFEST}))
    problems.extend(f"{rel}: a symbolic link (a run holds only files)" for rel in links)
    problems.extend(f"{rel}: not a regular file" for rel in odd)
    if manifest.get("status") not in ("completed", "failed"):
        problems.append(f"{MANIFEST}: status is {manifest.get('status')!r}: the run never finished")
    problems.extend(_against_register(run_dir, archive, expected_head, chain))
    return problems


def _against_register(run_dir: Path, archive: Path, expected_head: str | None, chain: bool
                      ) -> list[str]:
    problems = register.check_chain(archive, expected_head) if chain else []
    entries, _ = register.read(archive)
    try:
        key = register.run_key(archive, run_dir)
    except ValueError:
        return [*problems, f"{run_dir}: not inside the archive {archive}"]
    mine = [e for e in entries if e.run == key and e.kind in (register.START, register.END)]
    if not mine:
        return [*problems, f"{MANIFEST}: the run is not on the register {register.register_path(archive)}"]
    for kind in (register.START, register.END):
        lines = [e.line for e in mine if e.kind == kind]
        if len(lines) > 1:
            problems.append(f"{MANIFEST}: the register has {len(lines)} '{kind}' entries for "
                            f"this run (lines {', '.join(map(str, lines))}): one was added later")
    actual = sha256_file(run_dir / MANIFEST)
    last = mine[-1]
    if last.kind == register.START and last.manifest_sha256 != actual:
        return [*problems, f"{MANIFEST}: the run's end is not on the register (killed before "
                f"it was entered, or the manifest was edited): nothing vouches for it"]
    if expected_head is not None:
        at = next((e.line for e in entries if e.hash == expected_head.strip().lower()), None)
        if at is not None and last.line > at:
            problems.append(f"{MANIFEST}: vouched for by the register's line {last.line}, after "
                            f"the recorded head (line {at}): the head does not cover it")
    if last.manifest_sha256 != actual:
        problems.append(f"{MANIFEST}: changed since the register's line {last.line} "
                        f"({last.kind}) vouched for it (sha256 {actual} ≠ {last.manifest_sha256})")
    return problems
