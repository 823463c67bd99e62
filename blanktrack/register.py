"""The archive's register: an append-only, hash-chained log of every run (`archive/register.jsonl`).

One JSON object per line, written in one canonical form (sorted keys, no spaces, ASCII), so a
line's bytes are its identity. Each entry names the previous entry's hash (`prev`; the first names
GENESIS) and carries the SHA-256 of a run's manifest as it was when the entry was made. A run gets
a `start` entry the moment its folder appears and an `end` entry when it is finished; other kinds
(e.g. a platform's receipt, attached later) are appended with `append`.

The head (the hash of the last line) is what an auditor writes down outside the machine: with it,
`verify --head H` proves that no entry up to that point was changed, removed or reordered, and so
that no manifest on the register (nor, through the manifests' hashes, any file of a run) was
edited. Entries may be signed with an SSH key (`BLANKTRACK_SIGNING_KEY`, `ssh-keygen -Y sign`).

Appends take an exclusive lock (fcntl.flock) on the register, so concurrent runs append one after
the other; a line torn by a kill mid-append has no newline and is reported, never accepted.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REGISTER = "register.jsonl"
GENESIS = "0" * 64
SIGNING_KEY_ENV = "BLANKTRACK_SIGNING_KEY"  # an SSH private key: sign every entry with it
SIGNING_NAMESPACE = "blanktrack-register"
START, END = "start", "end"


class RegisterError(Exception):
    """The register cannot be read or appended to; the message says where and why."""


@dataclass(frozen=True)
class Entry:
    line: int  # 1-based line of the register
    hash: str  # sha256 of the line's bytes (without the newline)
    fields: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.fields.get("kind"))

    @property
    def run(self) -> str:
        return str(self.fields.get("run"))

    @property
    def manifest_sha256(self) -> str | None:
        value = self.fields.get("manifest_sha256")
        return value if isinstance(value, str) else None


def register_path(archive: Path) -> Path:
    return Path(archive) / REGISTER


def canonical(fields: dict[str, Any]) -> bytes:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def line_hash(line: bytes) -> str:
    return hashlib.sha256(line).hexdigest()


def run_key(archive: Path, run_dir: Path) -> str:
    """How the register names a run: its folder relative to the archive, '/'-separated."""
    return Path(run_dir).resolve().relative_to(Path(archive).resolve()).as_posix()


@contextlib.contextmanager
def locked(archive: Path) -> Iterator[Any]:
    """The register, opened for appending and exclusively locked (other runs wait)."""
    import fcntl

    path = register_path(archive)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield fd
    finally:
        os.close(fd)  # releases the lock


def _read_all(fd: int) -> bytes:
    os.lseek(fd, 0, os.SEEK_SET)
    chunks = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


def append(archive: Path, kind: str, run_dir: Path, payload: dict[str, Any] | None = None,
           *, manifest_sha256: str | None = None, when: str | None = None) -> Entry:
    """Append an entry of `kind` about the run in `run_dir` and return it.

    `payload`: any JSON data the entry carries (e.g. a platform's receipt of an upload).
    `manifest_sha256`: the hash of the run's manifest the entry vouches for; by default that of
    the run's manifest.json as it is now. Refuses (RegisterError) to append to a register whose
    chain is broken or whose last line is torn: an entry after damage would hide it.
    """
    from .archive import MANIFEST, now_utc, sha256_file

    archive = Path(archive)
    key = run_key(archive, run_dir)
    if manifest_sha256 is None:
        manifest_sha256 = sha256_file(Path(run_dir) / MANIFEST)
    with locked(archive) as fd:
        data = _read_all(fd)
        entries, problems = parse(data)
        if problems:
            raise RegisterError(f"{register_path(archive)}: {problems[0]} — the register is "
                                "damaged; nothing was appended (see `blanktrack register verify`)")
        fields: dict[str, Any] = {
            "seq": len(entries) + 1,
            "prev": entries[-1].hash if entries else GENESIS,
            "kind": kind,
            "run": key,
            "manifest_sha256": manifest_sha256,
            "time": when or now_utc().isoformat(),
        }
        if payload is not None:
            fields["payload"] = payload
        key_file = os.environ.get(SIGNING_KEY_ENV)
        if key_file:
            fields["signature"] = sign(canonical(fields), Path(key_file))
        line = canonical(fields)
        _step("register-before-write")
        size = len(data)
        try:
            written = os.write(fd, line + b"\n")
            if written != len(line) + 1:
                raise OSError(f"{register_path(archive)}: only {written} of {len(line) + 1} "
                              "bytes written (a full disk?)")
            os.fsync(fd)
        except BaseException:
            with contextlib.suppress(OSError):  # no torn line left behind if it can be helped
                os.ftruncate(fd, size)
            raise
        return Entry(len(entries) + 1, line_hash(line), fields)


def _step(name: str) -> None:
    from .archive import fault_point

    fault_point(name)


def parse(data: bytes) -> tuple[list[Entry], list[str]]:
    """The entries of a register's bytes, and what is wrong with the chain (empty: intact)."""
    entries: list[Entry] = []
    problems: list[str] = []
    if not data:
        return entries, problems
    lines = data.split(b"\n")
    torn = lines.pop()  # b"" when the file ends with a newline
    prev = GENESIS
    for number, line in enumerate(lines, start=1):
        try:
            fields = json.loads(line)
        except (ValueError, RecursionError):
            problems.append(f"line {number}: not a register entry (not JSON)")
            prev = line_hash(line)
            continue
        if not isinstance(fields, dict):
            problems.append(f"line {number}: not a register entry (not an object)")
            prev = line_hash(line)
            continue
        if canonical(fields) != line:
            problems.append(f"line {number}: rewritten (not in the form blanktrack writes)")
        if fields.get("prev") != prev:
            problems.append(f"line {number}: does not follow the entry before it (chain broken:"
                            " an entry was changed, removed or inserted)")
        if fields.get("seq") != number:
            problems.append(f"line {number}: numbered {fields.get('seq')!r}, not {number}")
        entry = Entry(number, line_hash(line), fields)
        entries.append(entry)
        prev = entry.hash
    if torn:
        problems.append(f"line {len(lines) + 1}: torn (no end of line: an append was "
                        "interrupted); the entry is not accepted")
    return entries, problems


def read(archive: Path) -> tuple[list[Entry], list[str]]:
    """The register's entries and its problems; an archive without a register has neither."""
    path = register_path(archive)
    if path.is_symlink():
        return [], [f"{path}: a symbolic link, not the register"]
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return [], []
    except OSError as exc:
        return [], [f"{path}: unreadable ({exc.strerror or exc})"]
    return parse(data)


def head(archive: Path) -> str:
    """The hash of the register's last entry (GENESIS for an empty register)."""
    entries, _ = read(archive)
    return entries[-1].hash if entries else GENESIS


def check_chain(archive: Path, expected_head: str | None = None) -> list[str]:
    """What is wrong with the register: a broken chain, a torn line, and (given the head an
    auditor wrote down) a head the chain no longer leads to."""
    entries, problems = read(archive)
    where = register_path(archive)
    out = [f"{where}: {p}" for p in problems]
    if expected_head is not None:
        expected = expected_head.strip().lower()
        if not any(e.hash == expected for e in entries):
            out.append(f"{where}: the chain does not lead to the head {expected_head} (entries "
                       "up to it were changed or removed, or it is of another archive)")
    key_problems = [f"{where}: line {e.line}: {p}" for e in entries
                    for p in _signature_problems(e)]
    return out + key_problems


# --- signatures -----------------------------------------------------------------------------

ALLOWED_SIGNERS_ENV = "BLANKTRACK_ALLOWED_SIGNERS"  # ssh allowed_signers file for verification


def sign(message: bytes, key_file: Path) -> str:
    """An SSH signature (armoured text) of message with the private key in key_file."""
    tool = shutil.which("ssh-keygen")
    if tool is None:
        raise RegisterError(f"{SIGNING_KEY_ENV} is set but ssh-keygen is not installed")
    with tempfile.TemporaryDirectory(prefix="blanktrack-sign-") as tmp:
        msg = Path(tmp) / "entry"
        msg.write_bytes(message)
        done = subprocess.run([tool, "-Y", "sign", "-q", "-f", str(key_file), "-n",
                               SIGNING_NAMESPACE, str(msg)],
                              capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        if done.returncode != 0:
            raise RegisterError(f"{SIGNING_KEY_ENV}={key_file}: ssh-keygen could not sign: "
                                f"{done.stderr.strip()}")
        return (Path(tmp) / "entry.sig").read_text(encoding="ascii")


def _signature_problems(entry: Entry) -> list[str]:
    """With BLANKTRACK_ALLOWED_SIGNERS set: every entry must carry a signature one of those keys
    made. Without it signatures are not checked (the chain still is)."""
    allowed = os.environ.get(ALLOWED_SIGNERS_ENV)
    if not allowed:
        return []
    signature = entry.fields.get("signature")
    if not isinstance(signature, str):
        return ["not signed"]
    tool = shutil.which("ssh-keygen")
    if tool is None:
        return ["cannot check the signature: ssh-keygen is not installed"]
    unsigned = {k: v for k, v in entry.fields.items() if k != "signature"}
    with tempfile.TemporaryDirectory(prefix="blanktrack-verify-") as tmp:
        sig = Path(tmp) / "entry.sig"
        sig.write_text(signature, encoding="ascii")
        found = subprocess.run([tool, "-Y", "find-principals", "-s", str(sig), "-f", allowed],
                               capture_output=True, text=True, timeout=60,
                               stdin=subprocess.DEVNULL)
        principal = found.stdout.strip().splitlines()[0] if found.returncode == 0 else ""
        if not principal:
            return ["signed by a key not in " + allowed]
        done = subprocess.run([tool, "-Y", "verify", "-f", allowed, "-I", principal, "-n",
                               SIGNING_NAMESPACE, "-s", str(sig)], input=canonical(unsigned),
                              capture_output=True, timeout=60)
    return [] if done.returncode == 0 else ["the signature does not match the entry"]


__all__ = ["END", "GENESIS", "REGISTER", "START", "Entry", "RegisterError", "append",
           "check_chain", "head", "parse", "read", "register_path", "run_key"]
