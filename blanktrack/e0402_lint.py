"""Lint of E0402 blank reports (空白未使用字軌檔) made by blanktrack or by any other system.

Per file: safe parsing (xml_safe), the message kind (an E0402 of MIG 3.1, 3.2, 4.0 or 4.1; a
C0701/F0701 void message given as the blank report is named as such), the schema, and the spec's
rules (§5.4): BANs of 8 digits with a valid check digit, type 07/08, an even-month period, a
track of 2 letters, 1 to 10,000 items, begin ≤ end, no range twice and no overlap. Across the
files: no overlap within one BAN, period and track. With allocations: every range inside an
allocation of that BAN, period, track and type, and HeadBan the head office the allocations
name. Given a Turnkey data folder: E0402 files that Turnkey will not send.

The schema is the package's own (schema/E0402.xsd, MIG 4.1). Every official version has the
same elements, so a 3.1/3.2/4.0 document is checked with its namespace mapped to 4.1. The own
schema wants the MIG 3.1 element order, which every official schema waives (``xsd:all``): the
children are put in that order before validation, so order alone is never a problem. (The
official 4.1 and 3.1 schemas name an element ``" BranchBan"`` with a leading space and accept no
real document; they are not used.) Each problem carries the file, the line (lxml's sourceline),
the element, and where one fits, the platform code the upload would most likely get.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
from lxml import etree

from blanktrack import platform_codes
from blanktrack.ban import is_valid_ban
from blanktrack.e0402 import MAX_ITEMS, NAMESPACE, SCHEMA
from blanktrack.errors import InputError
from blanktrack.period import Period
from blanktrack.textio import read_bytes, read_head
from blanktrack.xml_safe import UnsafeXmlError, local_name, namespace, parse_xml

E0402_VERSIONS = ("3.1", "3.2", "4.0", "4.1")
E0402_NAMESPACES = tuple(f"urn:GEINV:eInvoiceMessage:E0402:{v}" for v in E0402_VERSIONS)
VOID_MESSAGE = re.compile(r"urn:GEINV:eInvoiceMessage:([CF]0701):")
MAIN_ORDER = ("HeadBan", "BranchBan", "InvoiceType", "YearMonth", "InvoiceTrack")
ITEM_ORDER = ("InvoiceBeginNo", "InvoiceEndNo")
# Where Turnkey picks blank reports up (spec §5.4), relative to its data folder.
TURNKEY_SRC = ("UpCast", "B2PMESSAGE", "E0402", "SRC")
# Folder names that mark a Turnkey data folder.
TURNKEY_MARKS = frozenset({"UpCast", "DownCast", "B2PMESSAGE", "B2SSTORAGE", "B2CSTORAGE",
                           "B2BSTORAGE", "B2BEXCHANGE"})

_DIGITS8 = re.compile(r"[0-9]{8}")
_UPLOAD_NAME = re.compile(r"[0-9]{8}_[0-9]{5}\.csv")
_TRACK = re.compile(r"[A-Z]{2}")


@dataclass(frozen=True)
class XmlProblem:
    """One problem of an E0402 file: where (file, line, element), what, and the likely code."""

    file: str
    line: int | None
    element: str
    message: str
    codes: tuple[str, ...] = ()
    severity: str = "error"  # 'error' | 'warning'

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def __str__(self) -> str:
        where = self.file + (f":{self.line}" if self.line else "")
        text = f"{where}: {self.element + ': ' if self.element else ''}"
        text += f"{'' if self.is_error else self.severity + ': '}{self.message}"
        if self.codes:
            text += f" ({platform_codes.describe(self.codes)})"
        return text


@dataclass(frozen=True)
class BlankRange:
    line: int
    begin: int
    end: int
    index: int = 0  # 1-based position among the document's items

    @property
    def element(self) -> str:
        return f"Details/BranchTrackBlankItem[{self.index}]"

    def label(self, track: str) -> str:
        return f"{track}{self.begin:08d}–{track}{self.end:08d}"


@dataclass
class E0402Document:
    """What one E0402 file says, as far as it could be read."""

    file: str
    version: str
    head_ban: str = ""
    ban: str = ""
    invoice_type: str = ""
    period: str = ""
    track: str = ""
    main_line: int | None = None
    ranges: list[BlankRange] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.ban, self.period, self.track)


@dataclass
class LintResult:
    files: list[str]
    documents: list[E0402Document]
    problems: list[XmlProblem]

    @property
    def errors(self) -> int:
        return sum(p.is_error for p in self.problems)


@functools.cache
def _schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMA)))


def looks_like_xml(path: Path) -> bool:
    """An .xml name, or a file whose first non-blank byte is '<' (a CSV never starts so)."""
    if path.suffix.lower() == ".xml":
        return True
    try:  # never opens a FIFO or a device: check_file refuses those in its own words
        head = read_head(path, 64)
    except InputError:
        return False
    return head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<")


# --------------------------------------------------------------------------- one file


def read_e0402(data: bytes, name: str) -> tuple[E0402Document | None, list[XmlProblem]]:
    """Parse and check one file: the document (None when it is not an E0402) and its problems."""
    try:
        tree = parse_xml(data, name)
    except UnsafeXmlError as exc:
        return None, [XmlProblem(name, None, "", str(exc).removeprefix(f"{name}:"))]
    root = tree.getroot()
    ns, tag = namespace(root), local_name(root)
    void = VOID_MESSAGE.match(ns)
    if void or tag == "VoidInvoice":
        kind = void.group(1) if void else "C0701/F0701"
        return None, [XmlProblem(
            name, root.sourceline, tag,
            f"this is a {kind} void message (註銷發票, root VoidInvoice), not a blank report: "
            "blank unused numbers are reported with E0402 (BranchTrackBlank, 空白未使用字軌檔); "
            "write an E0402 per BAN, type and track instead",
        )]
    if tag != "BranchTrackBlank":
        return None, [XmlProblem(name, root.sourceline, tag,
                                 f"root element {tag} ({ns or 'no namespace'}) is not an E0402 "
                                 "BranchTrackBlank")]
    if ns not in E0402_NAMESPACES:
        return None, [XmlProblem(name, root.sourceline, tag,
                                 f"namespace {ns or '(none)'!r} is not an E0402 one "
                                 f"({', '.join(E0402_NAMESPACES)})")]
    doc = E0402Document(name, ns.rsplit(":", 1)[1])
    problems = _rules(root, doc)
    problems.extend(_schema_problems(root, name, {p.line for p in problems}))
    return doc, problems


def _children(element: etree._Element) -> list[etree._Element]:
    return list(element.iterchildren(tag=etree.Element))


def _one(parent: etree._Element, tag: str, path: str, name: str,
         problems: list[XmlProblem]) -> etree._Element | None:
    found = [c for c in _children(parent) if local_name(c) == tag]
    if len(found) != 1:
        how = "is missing" if not found else f"appears {len(found)} times"
        problems.append(XmlProblem(name, parent.sourceline, f"{path}/{tag}", f"{tag} {how}"))
        return None
    return found[0]


def _text(element: etree._Element) -> str:
    return element.text or ""


def _rules(root: etree._Element, doc: E0402Document) -> list[XmlProblem]:
    name = doc.file
    problems: list[XmlProblem] = []

    def add(el: etree._Element | None, path: str, message: str, codes: tuple[str, ...] = (),
            severity: str = "error") -> None:
        line = el.sourceline if el is not None else None
        problems.append(XmlProblem(name, line, path, message, codes, severity))

    main = _one(root, "Main", "BranchTrackBlank", name, problems)
    if main is not None:
        doc.main_line = main.sourceline
        values: dict[str, tuple[str, etree._Element]] = {}
        for tag in MAIN_ORDER:
            el = _one(main, tag, "Main", name, problems)
            if el is not None:
                values[tag] = (_text(el), el)
        for tag in ("HeadBan", "BranchBan"):
            if tag not in values:
                continue
            value, el = values[tag]
            if not _DIGITS8.fullmatch(value):
                add(el, f"Main/{tag}", f"{tag} {value!r} is not 8 digits")
            elif not is_valid_ban(value):
                add(el, f"Main/{tag}", f"{tag} {value} fails the check digit (統一編號檢查碼)")
        if "InvoiceType" in values:
            value, el = values["InvoiceType"]
            if value not in ("07", "08"):
                add(el, "Main/InvoiceType", f"InvoiceType {value!r} is not 07 or 08",
                    (platform_codes.WRONG_INVOICE_TYPE,))
        if "YearMonth" in values:
            value, el = values["YearMonth"]
            try:
                if Period.parse(value).code != value:
                    raise ValueError(f"period {value!r} is not a 5-digit code YYYMM")
            except ValueError as exc:
                add(el, "Main/YearMonth", f"YearMonth: {exc}")
        if "InvoiceTrack" in values:
            value, el = values["InvoiceTrack"]
            if not _TRACK.fullmatch(value):
                add(el, "Main/InvoiceTrack", f"InvoiceTrack {value!r} is not 2 upper-case "
                    "letters A–Z")
        doc.head_ban, doc.ban, doc.invoice_type, doc.period, doc.track = (
            values.get(tag, ("", None))[0] for tag in MAIN_ORDER)

    details = _one(root, "Details", "BranchTrackBlank", name, problems)
    if details is None:
        return problems
    items = [c for c in _children(details) if local_name(c) == "BranchTrackBlankItem"]
    if not 1 <= len(items) <= MAX_ITEMS:
        add(details, "Details", f"{len(items)} BranchTrackBlankItem(s); an E0402 holds 1 to "
            f"{MAX_ITEMS} (split a larger set into several files with the same Main)")
    for index, item in enumerate(items, start=1):
        path = f"Details/BranchTrackBlankItem[{index}]"
        numbers: list[int] = []
        for tag in ITEM_ORDER:
            el = _one(item, tag, path, name, problems)
            if el is None:
                continue
            value = _text(el)
            if _DIGITS8.fullmatch(value):
                numbers.append(int(value))
            else:
                add(el, f"{path}/{tag}", f"{tag} {value!r} is not 8 digits")
        if len(numbers) == 2:
            if numbers[1] < numbers[0]:
                add(item, path, f"end {numbers[1]:08d} is below begin {numbers[0]:08d} "
                    "(發票迄號必須大於或等於起號)")
            else:
                doc.ranges.append(BlankRange(item.sourceline or 0, numbers[0], numbers[1], index))
    problems.extend(_overlaps([(doc, r) for r in doc.ranges], doc.track))
    return problems


def _schema_problems(root: etree._Element, name: str, lines_seen: set[int | None]
                     ) -> list[XmlProblem]:
    """Schema errors on lines the rules have not already explained."""
    mapped = copy.deepcopy(root)
    for el in mapped.iter(tag=etree.Element):
        if namespace(el) in E0402_NAMESPACES:
            el.tag = f"{{{NAMESPACE}}}{local_name(el)}"
    for parent, order in ((mapped.find(f"{{{NAMESPACE}}}Main"), MAIN_ORDER),
                          *((item, ITEM_ORDER) for item in
                            mapped.iterfind(f"{{{NAMESPACE}}}Details/{{{NAMESPACE}}}BranchTrackBlankItem"))):
        if parent is not None:
            rank = {tag: i for i, tag in enumerate(order)}
            parent[:] = sorted(_children(parent), key=lambda c: rank.get(local_name(c), len(rank)))
    schema = _schema()
    if schema.validate(mapped.getroottree()):
        return []
    problems = []
    for error in schema.error_log:
        if error.line in lines_seen:
            continue
        lines_seen.add(error.line)
        message = re.sub(r"\{[^}]*\}", "", error.message)
        problems.append(XmlProblem(name, error.line or None, "", f"schema: {message}"))
    return problems


# --------------------------------------------------------------------------- across files


def _overlaps(ranges: Sequence[tuple[E0402Document, BlankRange]], track: str,
              across_files_only: bool = False) -> list[XmlProblem]:
    """The same range twice (E0604/E0609) or two ranges sharing numbers (E0612);
    ``across_files_only``: only pairs from two files (those within a file are already named)."""
    problems = []
    ordered = sorted(ranges, key=lambda dr: (dr[1].begin, dr[1].end, dr[0].file, dr[1].line))
    reach: tuple[E0402Document, BlankRange] | None = None
    for doc, r in ordered:
        if reach is not None and r.begin <= reach[1].end and not (
                across_files_only and reach[0] is doc):
            rdoc, rr = reach
            where = f"line {rr.line}" if rdoc.file == doc.file else f"{rdoc.file}:{rr.line}"
            if (r.begin, r.end) == (rr.begin, rr.end):
                problems.append(XmlProblem(
                    doc.file, r.line, r.element,
                    f"{r.label(track)} is the same range as {where}",
                    (platform_codes.DETAIL_REPEATED, platform_codes.DETAIL_RANGE_REPEATED)))
            else:
                problems.append(XmlProblem(
                    doc.file, r.line, r.element,
                    f"{r.label(track)} overlaps {rr.label(track)} ({where})", (platform_codes.RANGES_OVERLAP,)))
        if reach is None or r.end > reach[1].end:
            reach = (doc, r)
    return problems


def _across_files(docs: Sequence[E0402Document]) -> list[XmlProblem]:
    problems: list[XmlProblem] = []
    groups: dict[tuple[str, str, str], list[E0402Document]] = {}
    for doc in docs:
        if all(doc.key):
            groups.setdefault(doc.key, []).append(doc)
    for (ban, period, track), group in sorted(groups.items()):
        if len(group) < 2:
            continue
        mains = {(d.head_ban, d.invoice_type) for d in group}
        if len(mains) > 1:
            first = group[0]
            for d in group[1:]:
                if (d.head_ban, d.invoice_type) != (first.head_ban, first.invoice_type):
                    problems.append(XmlProblem(
                        d.file, d.main_line, "Main",
                        f"BAN {ban}, period {period}, track {track}: HeadBan {d.head_ban} type "
                        f"{d.invoice_type} differs from {first.file} (HeadBan {first.head_ban} "
                        f"type {first.invoice_type}); the parts of one track share one Main"))
        pairs = [(d, r) for d in group for r in d.ranges]
        problems.extend(_overlaps(pairs, track, across_files_only=True))
    return problems


def _against_allocations(docs: Sequence[E0402Document], allocations: pl.DataFrame
                         ) -> list[XmlProblem]:
    """Each range inside an allocation of its BAN, period, track and type (E0613); the type
    the allocations give (E0607); HeadBan the head office the allocations name (E0606)."""
    wanted = {d.key for d in docs if all(d.key)}
    cols = ["ban", "period", "track", "invoice_type", "begin_no", "end_no", "head_ban"]
    blocks: dict[tuple[str, str, str], list[tuple[int, int, str, str]]] = {}
    for ban, period, track, itype, begin, end, head in allocations.select(cols).iter_rows():
        if (ban, period, track) not in wanted or not (begin and end and begin.isdigit()
                                                      and end.isdigit()):
            continue
        blocks.setdefault((ban, period, track), []).append(
            (int(begin), int(end), (itype or "").zfill(2), head or ban))
    problems: list[XmlProblem] = []
    for doc in docs:
        if not all(doc.key):
            continue
        allocs = sorted(blocks.get(doc.key, []))
        where = f"BAN {doc.ban}, period {doc.period}, track {doc.track}"
        if not allocs:
            problems.append(XmlProblem(doc.file, doc.main_line, "Main",
                                       f"{where} has no allocation: none of its ranges was "
                                       "allocated", (platform_codes.NOT_ALLOCATED,)))
            continue
        types = sorted({a[2] for a in allocs})
        if doc.invoice_type and doc.invoice_type not in types:
            problems.append(XmlProblem(doc.file, doc.main_line, "Main/InvoiceType",
                                       f"InvoiceType {doc.invoice_type} but {where} is allocated "
                                       f"as type {', '.join(types)}", (platform_codes.WRONG_INVOICE_TYPE,)))
        heads = sorted({a[3] for a in allocs})
        if doc.head_ban and doc.head_ban not in heads:
            if doc.head_ban == doc.ban:
                msg, codes = (f"HeadBan {doc.head_ban} is the branch itself, but the allocations "
                              f"name head office {', '.join(heads)}, which reports for it",
                              (platform_codes.SENDER_HEAD_ONLY, platform_codes.SENDER_HEAD_OR_BRANCH))
            else:
                msg, codes = (f"HeadBan {doc.head_ban} is not the head office of BAN {doc.ban} "
                              f"in the allocations ({', '.join(heads)})",
                              (platform_codes.BRANCH_NOT_OF_HEAD, platform_codes.SENDER_HEAD_OR_BRANCH))
            problems.append(XmlProblem(doc.file, doc.main_line, "Main/HeadBan", msg, codes))
        same_type = [(b, e) for b, e, t, _ in allocs if t == doc.invoice_type] or [
            (b, e) for b, e, _, _ in allocs]
        for r in doc.ranges:
            if not _covered(r.begin, r.end, same_type):
                shown = ", ".join(f"{b:08d}–{e:08d}" for b, e in same_type[:5])
                more = f" and {len(same_type) - 5} more" if len(same_type) > 5 else ""
                partly = any(b <= r.end and e >= r.begin for b, e in same_type)
                outside = ((platform_codes.NOT_ALLOCATED, platform_codes.DETAIL_OUTSIDE_MAIN) if partly
                           else (platform_codes.NOT_ALLOCATED,))
                problems.append(XmlProblem(
                    doc.file, r.line, r.element,
                    f"{r.label(doc.track)} is {'not wholly' if partly else 'not'} inside the "
                    f"allocations of {where} ({shown}{more}): it holds numbers never allocated",
                    outside))
    return problems


def _covered(begin: int, end: int, allocs: Iterable[tuple[int, int]]) -> bool:
    """Every number begin..end in the union of the allocations (touching ones join)."""
    need = begin
    for b, e in sorted(allocs):
        if b > need:
            break
        need = max(need, e + 1)
        if need > end:
            return True
    return need > end


# --------------------------------------------------------------------------- Turnkey folders


def turnkey_placement(path: Path, root: Path) -> XmlProblem | None:
    """Where Turnkey will not send an E0402 found under ``root`` (a Turnkey data folder)."""
    rel = path.relative_to(root).parts[:-1]
    for i in range(len(rel) - len(TURNKEY_SRC) + 1):
        if tuple(rel[i : i + len(TURNKEY_SRC)]) == TURNKEY_SRC and i + len(TURNKEY_SRC) == len(rel):
            return None
    wrong = [part for part in rel if part in TURNKEY_MARKS - {"UpCast", "B2PMESSAGE"}]
    why = f"it sits under {wrong[0]}" if wrong else f"it sits in {'/'.join(rel) or '.'}"
    return XmlProblem(
        str(path), None, "",
        f"Turnkey will not send this E0402: {why}; blank reports go in "
        f"{'/'.join(TURNKEY_SRC)} of the Turnkey data folder")


def is_turnkey_folder(folder: Path) -> bool:
    return any(p.is_dir() and p.name in TURNKEY_MARKS for p in folder.rglob("*"))


# --------------------------------------------------------------------------- entry point


def collect(paths: Iterable[Path]) -> tuple[list[Path], list[Path], dict[Path, Path]]:
    """Split ``check``'s arguments into upload CSVs and XML files; folders are searched
    (upload files ``{BAN}_{period}.csv``, ``*.xml``). Returns (csv files, xml files, xml
    file → the Turnkey folder it was found in, for those found in one)."""
    csvs: list[Path] = []
    xmls: list[Path] = []
    turnkey: dict[Path, Path] = {}
    for path in map(Path, paths):
        if path.is_dir():
            tk = is_turnkey_folder(path)
            for found in sorted(p for p in path.rglob("*") if p.is_file()):
                if any(part.startswith(".") for part in found.relative_to(path).parts):
                    continue  # hidden: temporaries, never handed on
                if found.suffix.lower() == ".xml":
                    xmls.append(found)
                    if tk:
                        turnkey[found] = path
                elif _UPLOAD_NAME.fullmatch(found.name):
                    csvs.append(found)  # findings.csv, summary.csv are no upload files
        elif looks_like_xml(path):
            xmls.append(path)
        else:
            csvs.append(path)
    return csvs, xmls, turnkey


def lint_e0402_files(paths: Sequence[Path], allocations: pl.DataFrame | None = None,
                     turnkey: dict[Path, Path] | None = None) -> LintResult:
    """Lint E0402 files together: each on its own, then across files, then (given) against the
    allocations and Turnkey's folders. Problems sorted by file and line."""
    docs: list[E0402Document] = []
    problems: list[XmlProblem] = []
    for path in paths:
        name = str(path)
        try:
            data = read_bytes(path, name)
        except InputError as exc:  # a FIFO, a device, a folder, unreadable or too large
            first = exc.problems[0]
            problems.append(XmlProblem(name, None, "", f"{first.message} — {first.fix}"
                                       if first.fix else first.message))
            continue
        doc, found = read_e0402(data, name)
        problems.extend(found)
        if doc is None:
            continue
        docs.append(doc)
        if turnkey and Path(path) in turnkey:
            placed = turnkey_placement(Path(path), turnkey[Path(path)])
            if placed is not None:
                problems.append(placed)
    problems.extend(_across_files(docs))
    if allocations is not None:
        problems.extend(_against_allocations(docs, allocations))
    problems.sort(key=lambda p: (p.file, p.line or 0))
    return LintResult([str(p) for p in paths], docs, problems)
