"""The audit archive: one folder per run, a manifest of hashes, the run register and verify.

A run folder is created exclusively and never reused. Its manifest is written first with status
`running` and rewritten (atomically) when the run ends, so a run killed half-way is still on the
record: `runs` shows it as `incomplete`. What a killed run leaves behind is hidden (the exports'
staging folder, papermill's partial notebook): hidden names are never outputs, so hashes and
verify ignore them.
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import json
import os
import secrets
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .atomic import write_text_atomic

MANIFEST = "manifest.json"


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


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def who() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"


def new_run_dir(archive: Path, period: str, started: dt.datetime, name: str | None = None
                ) -> Path:
    """archive/{period}/{run-id}/, created exclusively: an existing folder is never reused.

    `name` (the parameter file's run_folder, checked by params) replaces the generated run id;
    FileExistsError when that folder exists.
    """
    folder = Path(archive) / period
    folder.mkdir(parents=True, exist_ok=True)
    if name is not None:
        target = folder / name
        target.mkdir()
        return target
    for _ in range(10):
        run_id = f"{started:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
        target = folder / run_id
        try:
            target.mkdir()
        except FileExistsError:
            continue
        return target
    raise RuntimeError(f"could not create a new run folder under {folder}")


def output_hashes(run_dir: Path) -> dict[str, str]:
    """SHA-256 of every file in the run folder but the manifest and hidden temporaries."""
    hashes = {}
    for path in sorted(run_dir.rglob("*")):
        rel = path.relative_to(run_dir)
        if path.is_file() and rel.as_posix() != MANIFEST and not any(
            part.startswith(".") for part in rel.parts
        ):
            hashes[rel.as_posix()] = sha256_file(path)
    return hashes


def write_manifest(run_dir: Path, manifest: dict[str, Any]) -> None:
    write_text_atomic(run_dir / MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False,
                                                     sort_keys=True) + "\n")


def read_manifest(run_dir: Path) -> dict[str, Any]:
    return json.loads((Path(run_dir) / MANIFEST).read_text(encoding="utf-8"))


def running_here(pid: int) -> bool:
    """Whether a process of this id runs on this host (or may: one we may not signal)."""
    return _alive(pid, socket.gethostname())


def _alive(pid: int | None, host: str | None) -> bool:
    if not pid or host != socket.gethostname():
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
    status: str  # completed | failed | running | incomplete | unreadable
    note: str


def list_runs(archive: Path) -> list[RunRecord]:
    """Every run under the archive, newest first."""
    records = []
    for manifest_path in Path(archive).glob(f"*/*/{MANIFEST}"):
        run_dir = manifest_path.parent
        try:
            m = read_manifest(run_dir)
        except (OSError, ValueError):
            records.append(RunRecord(run_dir, run_dir.parent.name, "?", "", "", "unreadable", ""))
            continue
        status = m.get("status", "?")
        if status == "running" and not _alive(m.get("pid"), m.get("host")):
            status = "incomplete"
        records.append(RunRecord(
            run_dir, m.get("parameters", {}).get("period", run_dir.parent.name),
            m.get("run_by", "?"), m.get("started", ""), m.get("finished") or "", status,
            m.get("parameters", {}).get("note", "") or m.get("error", "") or "",
        ))
    return sorted(records, key=lambda r: (r.started, str(r.run_dir)), reverse=True)


def verify_run(run_dir: Path) -> list[str]:
    """Re-hash an archived run against its manifest; one line per file changed, missing or
    added. Empty when the run is intact."""
    run_dir = Path(run_dir)
    try:
        manifest = read_manifest(run_dir)
    except FileNotFoundError:
        return [f"{run_dir / MANIFEST}: missing — not an archived run"]
    except ValueError as exc:
        return [f"{run_dir / MANIFEST}: unreadable ({exc})"]
    recorded: dict[str, str] = manifest.get("outputs", {})
    actual = output_hashes(run_dir)
    problems = []
    for rel, digest in sorted(recorded.items()):
        if rel not in actual:
            problems.append(f"{rel}: missing")
        elif actual[rel] != digest:
            problems.append(f"{rel}: changed (sha256 {actual[rel]} ≠ recorded {digest})")
    problems.extend(f"{rel}: not in the manifest (added after the run)"
                    for rel in sorted(set(actual) - set(recorded)))
    if manifest.get("status") not in ("completed", "failed"):
        problems.append(f"{MANIFEST}: status is {manifest.get('status')!r}: the run never finished")
    return problems
