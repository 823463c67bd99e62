"""One batch of MIG XML files read into columns (this runs in a worker process: it imports lxml,
never polars, so a worker starts in a fraction of a second).

Bare messages (Turnkey's single-message files) are parsed together: each file's bytes, its XML
declaration taken out, go into one document under a wrapper element, a marker before each file,
and one traversal per message kind reads the fields of every message at once. libxml2's cost
per document and Python's per element are paid once per batch instead of once per file. The
wrapper is trusted only when it shows each file stood alone (marker, one element, whitespace,
marker …); anything else — a DOCTYPE, another encoding, a file that is not well-formed, a
message missing a field, a version that does not exist — sends the batch to the careful way,
each file parsed on its own, which names the file and line. Envelopes are parsed one by one
(their thousand messages already share one parse) and read the same way, at once, when they
hold one kind of message. What goes back to the main process is packed (`Packed`): a few
objects per batch, not several per message.
"""

from __future__ import annotations

import os
from array import array
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from lxml import etree

from ..errors import InputError, Problem
from .mig_xml import (
    INVOICE_MESSAGES,
    Columns,
    Kind,
    check_version,
    digest,
    envelope_columns,
    field_columns,
    kind_of,
    read_document,
)
from .safe_xml import parse_bytes, parser
from .xml_head import CHUNK, looks_like_xml

_BOM = b"\xef\xbb\xbf"
_PROLOG = 65536  # where a DOCTYPE would stand
_MARK = "blanktrack-file"  # the processing instruction before each file in the wrapper
_JOIN_PARSER = parser(keep_pis=True)  # the markers must stay, as the wrapper's children


_COLUMNS = ("action", "invoice_number", "invoice_date", "seller_ban", "line", "digest", "file")


@dataclass
class Batch:
    """What one batch of files held, as columns (one entry per invoice message); `file` is the
    file's index in the batch."""

    action: list[str] = field(default_factory=list)
    invoice_number: list[str] = field(default_factory=list)
    invoice_date: list[str] = field(default_factory=list)
    seller_ban: list[str] = field(default_factory=list)
    line: list[int] = field(default_factory=list)
    digest: list[int] = field(default_factory=list)
    file: list[int] = field(default_factory=list)
    kinds: Counter[Kind] = field(default_factory=Counter)
    not_xml: list[int] = field(default_factory=list)  # indexes of files that are no MIG XML
    bytes: int = 0  # of every file of the batch
    problem: Problem | None = None  # the first unusable file, as data (it crosses processes)

    def add(self, records: Sequence[tuple], file: int) -> None:
        if not records:
            return
        columns = zip(*records, strict=True)  # records to columns in C
        for values, column in zip(columns, _COLUMNS[:-1], strict=True):
            getattr(self, column).extend(values)
        self.file.extend([file] * len(records))

    def extend(self, columns: Columns, file: int) -> None:
        for values, column in zip(columns, _COLUMNS[:-1], strict=True):
            getattr(self, column).extend(values)
        self.file.extend([file] * len(columns[0]))


_SEP = "\0"  # between the values of a packed text column: no XML text can hold it


@dataclass
class Packed:
    """A batch as it travels to the main process: each text column one string (the values
    joined by NUL), each integer column the bytes of an Int64 array — a few objects to pickle
    and to hand to polars instead of several per message."""

    rows: int
    texts: dict[str, str]  # action, invoice_number, invoice_date, seller_ban
    integers: dict[str, bytes]  # line, digest, file
    kinds: Counter[Kind]
    not_xml: list[int]
    bytes: int
    problem: Problem | None


def pack(batch: Batch) -> Packed:
    return Packed(len(batch.file),
                  {c: _SEP.join(getattr(batch, c)) for c in _COLUMNS[:4]},
                  {c: array("q", getattr(batch, c)).tobytes() for c in _COLUMNS[4:]},
                  batch.kinds, batch.not_xml, batch.bytes, batch.problem)


def read_packed(paths: Sequence[str]) -> Packed:
    """read_batch, packed for the trip (what a worker of the pool runs)."""
    return pack(read_batch(paths))


def read_file(path: str) -> tuple[bytes, bool]:
    """(bytes, looks like XML); a file that does not start like XML is not read past its first
    chunk (only its size is: the inputs table sums them)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        data = os.read(fd, CHUNK)
        if not looks_like_xml(data):
            return b"\0" * os.fstat(fd).st_size, False
        if len(data) < CHUNK:
            return data, True
        chunks = [data]
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks), True
    finally:
        os.close(fd)


class _Careful(Exception):
    """The joined parse cannot vouch for this batch: read each file on its own."""


def read_batch(paths: Sequence[str]) -> Batch:
    """Parse the XML files of one batch; the first unusable file is returned as `problem`."""
    batch = Batch()
    files: list[tuple[int, bytes]] = []
    for i, path in enumerate(paths):
        try:
            data, xml = read_file(path)
        except OSError as exc:
            batch.problem = Problem(path, None, None,
                                    f"cannot read the file: {exc.strerror or exc}",
                                    "check that you may read the folder")
            return batch
        batch.bytes += len(data)
        if xml:
            files.append((i, data))
        else:
            batch.not_xml.append(i)
    # Envelopes are parsed one by one: their thousand messages already share a parse.
    bare = [(i, data) for i, data in files if data.find(b"InvoiceEnvelope", 0, 4096) < 0]
    alone = [(i, data) for i, data in files if data.find(b"InvoiceEnvelope", 0, 4096) >= 0]
    if bare:
        not_read = list(batch.not_xml)  # the files that are no XML at all
        try:
            _joined(bare, batch)
        except _Careful:  # every file again, alone: what the joined parse found is dropped
            batch = Batch(bytes=batch.bytes, not_xml=not_read)
            alone = files
    for i, data in alone:
        try:
            root = parse_bytes(data, paths[i])
            fast = envelope_columns(root, paths[i], data)
            if fast is not None:  # the usual envelope: its fields read at once
                batch.kinds.update(dict(fast[0]))
                batch.extend(fast[1], i)
                continue
            found, records = read_document(root, paths[i], data)
        except InputError as exc:
            batch.problem = exc.problems[0]
            return batch
        if not found[0][0].known:  # XML, but no MIG message: the caller says what it is
            batch.not_xml.append(i)
            continue
        batch.kinds.update(dict(found))
        batch.add(records, i)
    if batch.file != sorted(batch.file):
        # the columns in the order of the files (and of the messages in each), as the
        # careful way gives them
        order = sorted(range(len(batch.file)), key=batch.file.__getitem__)
        for column in _COLUMNS:
            values = getattr(batch, column)
            setattr(batch, column, [values[j] for j in order])
    batch.not_xml.sort()
    return batch


def _body(data: bytes) -> bytes:
    """A file's bytes as they may stand inside the wrapper: without BOM and XML declaration
    (its line breaks kept, so lines count the same); _Careful for a DOCTYPE or an encoding
    other than UTF-8 (the careful way refuses or reads those)."""
    if data.startswith(_BOM):
        data = data[3:]
    if data.find(b"<!DOCTYPE", 0, _PROLOG) >= 0:
        raise _Careful
    if data.startswith(b"<?xml") and data[5:6] in (b" ", b"\t", b"\r", b"\n"):
        end = data.find(b"?>")
        if end < 0:
            raise _Careful
        declaration = data[:end].lower()
        at = declaration.find(b"encoding")
        if at >= 0 and b"utf-8" not in declaration[at:] and b"utf8" not in declaration[at:]:
            raise _Careful
        data = b"\n" * declaration.count(b"\n") + data[end + 2:]
    return data



def _is_marker(node: etree._Element) -> bool:
    """One of the batch's file markers: lxml gives a processing instruction the PI factory as
    its tag, and its name as `target`."""
    return (node.tag is etree.PI  # type: ignore[comparison-overlap]
            and getattr(node, "target", None) == _MARK)

def _joined(files: list[tuple[int, bytes]], batch: Batch) -> None:
    """The bare messages of a batch read in one parse into `batch`; _Careful (with `batch`
    half-filled) when the wrapper cannot vouch for them."""
    parts = [b"<blanktrack-batch>"]
    for i, data in files:
        parts.append(b"<?%s %d?>" % (_MARK.encode(), i))
        parts.append(_body(data))
    parts.append(b"</blanktrack-batch>")
    try:
        wrapper = etree.fromstring(b"".join(parts), _JOIN_PARSER)
    except etree.XMLSyntaxError as exc:
        raise _Careful from exc
    children = list(wrapper)
    if len(children) != 2 * len(files) or (wrapper.text or "").strip():
        raise _Careful
    by_tag: dict[str, list[int]] = {}  # tag → positions (in `files`) of its messages
    starts: list[int] = []  # the wrapper's line of each file's first line
    for k in range(len(files)):
        marker, message = children[2 * k], children[2 * k + 1]
        # each file stood alone: its marker, then one element, and only spaces between
        if (not _is_marker(marker) or not isinstance(message.tag, str)
                or (marker.tail or "").strip() or (message.tail or "").strip()):
            raise _Careful
        starts.append(marker.sourceline or 0)
        by_tag.setdefault(message.tag, []).append(k)
    for positions in by_tag.values():
        kind = kind_of(children[2 * positions[0] + 1])
        if kind.message == "InvoiceEnvelope":
            raise _Careful  # its name past the first bytes (a long prolog): read it alone
        if not kind.known:
            batch.not_xml.extend(files[k][0] for k in positions)
            continue
        try:
            check_version(kind, "", None)
        except InputError as exc:
            raise _Careful from exc
        batch.kinds[kind] += len(positions)
        if kind.is_invoice:
            _columns(wrapper, [children[2 * k + 1] for k in positions], kind,
                     [files[k] for k in positions], [starts[k] for k in positions], batch)


def _columns(wrapper: etree._Element, messages: list[etree._Element], kind: Kind,
             files: list[tuple[int, bytes]], starts: list[int], batch: Batch) -> None:
    """The fields of every message of one tag, a field of all at once."""
    action = INVOICE_MESSAGES[kind.message][0]
    found = field_columns(wrapper, messages, action)
    if found is None:
        raise _Careful  # a message without a field: the careful way names it
    numbers, dates, sellers, lines = found
    batch.action.extend([action] * len(files))
    batch.invoice_number.extend(numbers)
    batch.invoice_date.extend(dates)
    batch.seller_ban.extend(sellers)
    batch.line.extend([line - start + 1 for line, start in zip(lines, starts, strict=True)])
    batch.digest.extend([digest(data) for _, data in files])
    batch.file.extend([i for i, _ in files])
