"""Hand E0402 files to Turnkey: place them in its data folder's ``UpCast/B2PMESSAGE/E0402/SRC``.

Turnkey sends whatever appears in SRC, so a file must appear there whole: it is written under a
hidden name (a leading dot; Turnkey takes only message files) and linked to its real name, which
fails rather than replaces when that name exists. A file of the same name still in SRC has not
been picked up yet: replacing it would change what Turnkey may be sending, so the hand-off is
refused, naming it, and nothing is placed. Every file is linted first (e0402_lint); a file with
an error is never handed on.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Sequence
from pathlib import Path

from blanktrack.e0402_lint import TURNKEY_SRC, lint_e0402_files
from blanktrack.errors import InputError, Problem


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
