"""Hand E0402 files to Turnkey: place them in its data folder's ``UpCast/B2PMESSAGE/E0402/SRC``.

Turnkey sends whatever appears in SRC, so a file must appear there whole: it is written under a
hidden name (a leading dot; Turnkey takes only message files) and linked to its real name, which
fails rather than replaces when that name exists. A file of the same name still in SRC has not
been picked up yet: replacing it would change what Turnkey may be sending, so the hand-off is
refused, naming it, and nothing is placed. Every file is linted first (e0402_lint); a file with
an error is never handed on.

A period run hands on its archived E0402 files (params ``turnkey:``) and records that on the
archive's register as a new entry of kind ``turnkey-handoff`` (the files with their SHA-256 and
the SRC folder), never as an edit of the run folder: its manifest and ``verify`` stay as they
were, and ``blanktrack runs`` shows the run as handed to Turnkey until the platform answers.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from blanktrack import register
from blanktrack.e0402_lint import TURNKEY_SRC, lint_e0402_files
from blanktrack.errors import InputError, Problem

HANDOFF_ENTRY = "turnkey-handoff"  # the kind of register entry a hand-off is


def turnkey_src(turnkey_root: Path) -> Path:
    return Path(turnkey_root).joinpath(*TURNKEY_SRC)


def drop_e0402(files: Sequence[Path], turnkey_root: Path) -> list[Path]:
    """Place ``files`` in Turnkey's E0402 SRC folder under their own names; the new paths.

    InputError (nothing placed) when ``turnkey_root`` is not a Turnkey data folder (no
    ``UpCast``), a file fails lint, two files share a name, or a file of that name waits in SRC.
    """
    root = Path(turnkey_root)
    files = [Path(f) for f in files]
    if not (root / "UpCast").is_dir():
        raise InputError(Problem(str(root), None, None, "not a Turnkey data folder (no UpCast "
                                 "folder in it)", "give the folder Turnkey keeps its messages in"))
    problems = [Problem(p.file, p.line, p.element or None, p.message)
                for p in lint_e0402_files(files).problems if p.is_error]
    src = turnkey_src(root)
    seen: dict[str, Path] = {}
    for f in files:
        if f.name in seen:
            problems.append(Problem(str(f), None, None, f"has the same name as {seen[f.name]}"))
        seen[f.name] = f
        if (src / f.name).exists():
            problems.append(Problem(
                str(src / f.name), None, None,
                "is still in SRC: Turnkey has not picked it up yet; nothing was placed",
                "wait until Turnkey has sent it (it leaves SRC), then hand the files on again"))
    if problems:
        raise InputError(problems)
    src.mkdir(parents=True, exist_ok=True)
    placed = []
    for f in files:
        placed.append(_place(f.read_bytes(), src / f.name))
    _fsync_dir(src)
    return placed


def _place(data: bytes, target: Path) -> Path:
    temp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    with open(temp, "xb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    try:
        os.link(temp, target)  # never replaces: FileExistsError if Turnkey's file is there
    except FileExistsError as exc:
        raise InputError(Problem(str(target), None, None, "appeared in SRC while the files were "
                                 "placed; it was not replaced")) from exc
    finally:
        temp.unlink()
    return target


def _fsync_dir(folder: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- a run's hand-off


@dataclass(frozen=True)
class HandOff:
    placed: list[Path]  # the files now in SRC
    entry: register.Entry | None  # None when the run had no E0402 file to hand on


def run_e0402_files(folder: Path) -> list[Path]:
    """The E0402 files a run exported under ``folder`` (its exports), one per name: a file that
    several sets hold with the same bytes is handed on once; names with different bytes are left
    for drop_e0402 to refuse."""
    by_name: dict[tuple[str, bytes], Path] = {}
    for path in sorted(Path(folder).rglob("e0402/*.xml")):
        if any(part.startswith(".") for part in path.relative_to(folder).parts):
            continue  # a staged set or a temporary, not an export
        by_name.setdefault((path.name, hashlib.sha256(path.read_bytes()).digest()), path)
    return sorted(by_name.values(), key=lambda p: (p.name, str(p)))


def hand_off_run(archive_root: Path, run_dir: Path, exports: Path, turnkey_root: Path,
                 now: dt.datetime | None = None) -> HandOff:
    """Hand a completed run's E0402 files (under ``exports``) to Turnkey and record it on the
    register; InputError as drop_e0402, naming the run, when nothing could be handed on."""
    files = run_e0402_files(exports)
    if not files:
        return HandOff([], None)
    try:
        placed = drop_e0402(files, turnkey_root)
    except InputError as exc:
        raise InputError([*exc.problems, Problem(
            str(run_dir), None, None, "the run completed and is archived, but its E0402 files "
            "were not handed to Turnkey",
            f"once Turnkey's SRC folder is clear, copy them from {exports} into "
            f"{turnkey_src(turnkey_root)} (or run `blanktrack reconcile --turnkey`)")]) from exc
    now = now or dt.datetime.now(dt.UTC)
    payload: dict[str, Any] = {
        "recorded": now.isoformat(),
        "target": str(turnkey_src(turnkey_root).resolve()),
        # hashed from the run's own copy: Turnkey may already have taken the one in SRC
        "files": [{"file": f.relative_to(run_dir).as_posix(), "placed": str(p),
                   "sha256": hashlib.sha256(f.read_bytes()).hexdigest(), "bytes": f.stat().st_size}
                  for f, p in zip(files, placed, strict=True)],
    }
    entry = register.append(Path(archive_root), HANDOFF_ENTRY, run_dir, payload,
                            when=now.isoformat())
    return HandOff(placed, entry)


def handed_off(entries: Sequence[register.Entry]) -> dict[str, int]:
    """run (as the register names it) → the register line of its latest hand-off."""
    return {e.run: e.line for e in entries if e.kind == HANDOFF_ENTRY}
