"""The platform's answer to blank reports: Turnkey's ProcessResult and SummaryResult files.

Turnkey receives a ``ProcessResult`` (``urn:GEINV:ProcessResult:4.0``, also 3.0) for each message
it sent: ``MessageInfo`` (Id, Size, MessageType, Service, Action) and ``Result/Info`` items with
Code, Description and Parameter0…4 (spec §5.5); a ``SummaryResult`` lists messages with counts
of good and failed. Only blank-track messages (MessageType E0402) are read; the official
MessageTypeEnum of GenericResult 3.0/4.0 does not list E0402, so the type is read as text.

Outcome of a message: E0616 → failed; E0615 → partly failed; any other E-code → failed; no
E-code → accepted (the platform's success code is not documented; any code that is not an
error code counts as success). SummaryResult: Failed count 0 → accepted, Good count 0 → failed,
else partly failed.

A result is attached to the archived run whose E0402 file it answers, matched by the message's
identity: the Id (or a Parameter) equal to the file's name, stem or SHA-256; else the BAN,
period and track named in the Id and Parameters equal to the file's Main (the newest run of the
period with such a file: a later upload replaces the track, spec §5.3). An attachment is a new
entry of kind ``platform-result`` on the archive's hash-chained register (register.py), never an
edit: the run folder and its manifest are not touched, so ``verify`` still holds, and the answer
is as tamper-evident as the run it answers.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lxml import etree

from blanktrack import platform_codes, register
from blanktrack.archive import list_runs, sha256_file
from blanktrack.e0402_lint import read_e0402
from blanktrack.xml_safe import UnsafeXmlError, local_name, parse_xml

RESULT_ENTRY = "platform-result"  # the kind of register entry an attachment is
RESULT_NAMESPACES = {
    f"urn:GEINV:{kind}:{v}": kind for kind in ("ProcessResult", "SummaryResult")
    for v in ("3.0", "4.0")
}
BLANK_MESSAGE = "E0402"
ACCEPTED, PARTLY_FAILED, FAILED = "accepted", "partly failed", "failed"
# What platform_status says of a run.
RUN_UPLOADED, RUN_PARTLY_FAILED, RUN_FAILED = "uploaded", "partly failed", "failed"
RUN_HANDED = "handed to Turnkey"  # its E0402 files are in Turnkey's SRC; no answer since

_ERROR_CODE = re.compile(r"E[0-9]{4}")
_BAN = re.compile(r"(?<![0-9])[0-9]{8}(?![0-9])")
_PERIOD = re.compile(r"(?<![0-9])[0-9]{5}(?![0-9])")
_TRACK = re.compile(r"(?<![A-Za-z])[A-Z]{2}(?![A-Za-z])")


@dataclass(frozen=True)
class ResultCode:
    code: str
    description: str = ""
    parameters: tuple[str, ...] = ()

    @property
    def zh_tw(self) -> str:
        return platform_codes.platform_code(self.code).zh_tw

    @property
    def en(self) -> str:
        return platform_codes.platform_code(self.code).en


@dataclass(frozen=True)
class MessageResult:
    """The platform's answer about one message."""

    file: str
    line: int | None
    kind: str  # ProcessResult | SummaryResult
    message_id: str
    message_type: str
    size: str
    outcome: str  # accepted | partly failed | failed
    codes: tuple[ResultCode, ...] = ()
    good: int | None = None  # SummaryResult counts
    failed: int | None = None

    def texts(self) -> list[str]:
        """The texts that may name the message: its Id and every code's Parameters."""
        return [self.message_id, *(p for c in self.codes for p in c.parameters)]


@dataclass
class ResultsRead:
    results: list[MessageResult] = field(default_factory=list)
    other_messages: int = 0  # results about other message types
    problems: list[str] = field(default_factory=list)


def outcome_of(codes: Sequence[str]) -> str:
    if platform_codes.WHOLLY_FAILED in codes:
        return FAILED
    if platform_codes.PARTLY_FAILED in codes:
        return PARTLY_FAILED
    return FAILED if any(_ERROR_CODE.fullmatch(c) for c in codes) else ACCEPTED


def _child_text(parent: etree._Element | None, tag: str) -> str:
    if parent is None:
        return ""
    for child in parent.iterchildren(tag=etree.Element):
        if local_name(child) == tag:
            return (child.text or "").strip()
    return ""


def _child(parent: etree._Element | None, tag: str) -> etree._Element | None:
    if parent is None:
        return None
    return next((c for c in parent.iterchildren(tag=etree.Element) if local_name(c) == tag), None)


def _children_named(parent: etree._Element | None, tag: str) -> list[etree._Element]:
    if parent is None:
        return []
    return [c for c in parent.iterchildren(tag=etree.Element) if local_name(c) == tag]


def read_result_file(data: bytes, name: str, into: ResultsRead) -> bool:
    """Read one file; False when it is not a ProcessResult or SummaryResult."""
    tree = parse_xml(data, name)
    root = tree.getroot()
    kind = RESULT_NAMESPACES.get(etree.QName(root).namespace or "")
    if kind is None or local_name(root) != kind:
        return False
    if kind == "ProcessResult":
        info = _child(root, "MessageInfo")
        if info is None:
            into.problems.append(f"{name}:{root.sourceline}: ProcessResult without MessageInfo")
            return True
        if _child_text(info, "MessageType") != BLANK_MESSAGE:
            into.other_messages += 1
            return True
        codes = []
        for item in _children_named(_child(root, "Result"), "Info"):
            params = tuple(_child_text(item, f"Parameter{i}") for i in range(5))
            codes.append(ResultCode(_child_text(item, "Code"), _child_text(item, "Description"),
                                    tuple(p for p in params if p)))
        if not codes:
            into.problems.append(f"{name}:{info.sourceline}: ProcessResult without Result/Info")
        into.results.append(MessageResult(
            name, info.sourceline, kind, _child_text(info, "Id"), BLANK_MESSAGE,
            _child_text(info, "Size"), outcome_of([c.code for c in codes]), tuple(codes)))
        return True
    for message in _children_named(_child(root, "DetailList"), "Message"):
        info = _child(message, "Info")
        if local_name(message) != "Message" or info is None:
            continue
        if _child_text(info, "MessageType") != BLANK_MESSAGE:
            into.other_messages += 1
            continue
        result = _child(message, "Result")
        counts = []
        for what in ("Good", "Failed"):
            text = _child_text(_child(result, what), "Count")
            counts.append(int(text) if text.isdigit() else None)
        good, failed = counts
        if good is None or failed is None:
            into.problems.append(f"{name}:{message.sourceline}: SummaryResult message without "
                                 "Good/Failed counts")
            continue
        outcome = ACCEPTED if failed == 0 else FAILED if good == 0 else PARTLY_FAILED
        into.results.append(MessageResult(
            name, message.sourceline, kind, _child_text(info, "Id"), BLANK_MESSAGE,
            _child_text(info, "Size"), outcome, (), good, failed))
    return True


def read_results(paths: Iterable[Path]) -> ResultsRead:
    """Every blank-track result in the files (a folder: every ``*.xml`` under it, other XML
    skipped). A named file that is not a result, or any file that cannot be read safely, is a
    problem."""
    read = ResultsRead()
    for path in map(Path, paths):
        files = sorted(p for p in path.rglob("*.xml") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            try:
                data = file.read_bytes()
                found = read_result_file(data, str(file), read)
            except OSError as exc:
                read.problems.append(f"{file}: cannot read the file: {exc.strerror or exc}")
                continue
            except UnsafeXmlError as exc:
                read.problems.append(str(exc))
                continue
            if not found and not path.is_dir():
                read.problems.append(f"{file}: not a Turnkey ProcessResult or SummaryResult")
    return read


# --------------------------------------------------------------------------- the archive


@dataclass(frozen=True)
class ArchivedE0402:
    run_dir: Path
    started: str
    rel: str  # path inside the run folder
    sha256: str
    size: int
    key: tuple[str, str, str]  # (BranchBan, YearMonth, InvoiceTrack)


def archived_e0402(archive: Path) -> list[ArchivedE0402]:
    """Every E0402 file of every archived run (newest run first)."""
    found = []
    for record in list_runs(archive):
        for path in sorted(record.run_dir.rglob("*.xml")):
            rel = path.relative_to(record.run_dir)
            if any(part.startswith(".") for part in rel.parts):
                continue
            data = path.read_bytes()
            doc, _ = read_e0402(data, str(path))
            if doc is None:
                continue
            found.append(ArchivedE0402(record.run_dir, record.started, rel.as_posix(),
                                       hashlib.sha256(data).hexdigest(), len(data), doc.key))
    return found


def match(result: MessageResult, files: Sequence[ArchivedE0402]
          ) -> tuple[ArchivedE0402, str] | None:
    """The archived E0402 a result answers, and how it was matched; None when none fits."""
    texts = [t for t in result.texts() if t]
    for f in files:  # newest run first
        name = Path(f.rel).name
        for text in texts:
            if text in (name, Path(name).stem, f.sha256):
                return f, "file name" if text != f.sha256 else "SHA-256"
    joined = " ".join(texts)
    bans, periods, tracks = (set(rx.findall(joined)) for rx in (_BAN, _PERIOD, _TRACK))
    candidates = [f for f in files if f.key[0] in bans and f.key[1] in periods
                  and f.key[2] in tracks]
    if not candidates:
        return None
    newest = candidates[0].run_dir
    same_run = [f for f in candidates if f.run_dir == newest]
    sized = [f for f in same_run if result.size == str(f.size)]
    return (sized or same_run)[0], "BAN, period and track"


def attach(result: MessageResult, found: ArchivedE0402, how: str, archive: Path,
           result_sha256: str, now: dt.datetime | None = None) -> bool:
    """Record on the register that ``result`` answers ``found``: a new entry, never an edit.
    False when this result file's answer about this message is already attached to that file."""
    run = found.run_dir.relative_to(archive).as_posix()
    for old in _attachments(archive):
        if (old.get("result_sha256"), old.get("message_id"), old.get("run"),
                old.get("e0402_file")) == (result_sha256, result.message_id, run, found.rel):
            return False
    now = now or dt.datetime.now(dt.UTC)  # microseconds: the order of two answers in a second
    record: dict[str, Any] = {
        "recorded": now.isoformat(),
        "run": run,
        "e0402_file": found.rel,
        "e0402_sha256": found.sha256,
        "matched_by": how,
        "result_file": str(Path(result.file).resolve()),
        "result_sha256": result_sha256,
        "kind": result.kind,
        "message_id": result.message_id,
        "message_type": result.message_type,
        "outcome": result.outcome,
        "codes": [asdict(c) for c in result.codes],
        "good": result.good,
        "failed": result.failed,
    }
    register.append(Path(archive), RESULT_ENTRY, found.run_dir, record, when=now.isoformat())
    return True


def _attachments(archive: Path) -> list[dict[str, Any]]:
    """The attached answers, in the register's order."""
    if not register.register_path(Path(archive)).is_file():
        return []
    entries, _ = register.read(Path(archive))
    return [e.fields["payload"] for e in entries
            if e.kind == RESULT_ENTRY and isinstance(e.fields.get("payload"), dict)]


def platform_status(archive_root: Path) -> dict[Path, str]:
    """run folder → 'uploaded' / 'failed' / 'partly failed', from the attached results, or
    'handed to Turnkey' when the run's latest entry about the platform is a hand-off.

    Per E0402 file of a run the latest answer counts (a re-send may succeed); the run is
    uploaded when every answered file was accepted, failed when none was, else partly failed.
    Runs with neither an attached result nor a hand-off are not in the dict.
    """
    latest: dict[tuple[str, str], tuple[str, str]] = {}
    for record in _attachments(archive_root):
        key = (record.get("run", ""), record.get("e0402_file", ""))
        stamp = record.get("recorded", "")
        if key not in latest or stamp >= latest[key][0]:  # records come in name (time) order
            latest[key] = (stamp, record.get("outcome", FAILED))
    per_run: dict[str, list[str]] = {}
    for (run, _), (_, outcome) in latest.items():
        per_run.setdefault(run, []).append(outcome)
    status = {}
    for run, outcomes in sorted(per_run.items()):
        if all(o == ACCEPTED for o in outcomes):
            status[Path(archive_root) / run] = RUN_UPLOADED
        elif all(o == FAILED for o in outcomes):
            status[Path(archive_root) / run] = RUN_FAILED
        else:
            status[Path(archive_root) / run] = RUN_PARTLY_FAILED
    return {**status, **_handed_since_answer(archive_root)}


def _handed_since_answer(archive_root: Path) -> dict[Path, str]:
    """Runs handed to Turnkey (turnkey_drop) with no answer attached after the hand-off."""
    from blanktrack.turnkey_drop import handed_off

    if not register.register_path(Path(archive_root)).is_file():
        return {}
    entries, _ = register.read(Path(archive_root))
    answered: dict[str, int] = {}
    for e in entries:
        if e.kind == RESULT_ENTRY:
            answered[e.run] = e.line
    return {Path(archive_root) / run: RUN_HANDED for run, line in handed_off(entries).items()
            if line > answered.get(run, 0)}


def attach_results(read: ResultsRead, archive: Path) -> list[tuple[MessageResult, str]]:
    """Attach every result that matches an archived E0402; (result, what happened) per result."""
    files = archived_e0402(archive) if Path(archive).is_dir() else []
    hashes: dict[str, str] = {}
    done = []
    for result in read.results:
        found = match(result, files)
        if found is None:
            done.append((result, "no archived run has this E0402"))
            continue
        f, how = found
        digest = hashes.setdefault(result.file, sha256_file(Path(result.file)))
        written = attach(result, f, how, Path(archive), digest)
        run = f.run_dir.relative_to(archive).as_posix()
        done.append((result, f"{'attached to' if written else 'already attached to'} run {run} "
                             f"({f.rel}, matched by {how})"))
    return done
