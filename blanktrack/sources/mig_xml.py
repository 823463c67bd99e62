"""MIG invoice messages (spec §5.2): issue, cancel (作廢), void (註銷) and reject (退回), bare or
packed in an InvoiceEnvelope, read into one record per message.

A record is (action, invoice_number, invoice_date, seller_ban, line, digest): `action` is
'issue' | 'cancel' | 'void' | 'reject'; the date is the message's `yyyyMMdd` text; `digest`
identifies the message's content, so the same message found twice (Turnkey's SRC and BAK) is
counted once.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass

from lxml import etree

from ..errors import InputError, Problem

# message → (action, versions read)
INVOICE_MESSAGES: dict[str, tuple[str, tuple[str, ...]]] = {
    "F0401": ("issue", ("4.0", "4.1")),
    "F0501": ("cancel", ("4.0", "4.1")),
    "F0701": ("void", ("4.0", "4.1")),
    "C0401": ("issue", ("3.1", "3.2")),
    "C0501": ("cancel", ("3.1", "3.2")),
    "C0701": ("void", ("3.1", "3.2")),
    "A0401": ("issue", ("3.1", "3.2")),
    "A0501": ("cancel", ("3.1", "3.2")),
    "A0601": ("reject", ("3.1", "3.2")),
    "A0101": ("issue", ("3.1", "3.2", "4.0", "4.1")),
    "A0201": ("cancel", ("3.1", "3.2", "4.0", "4.1")),
    "A0301": ("reject", ("3.1", "3.2", "4.0", "4.1")),
}
ENVELOPE_VERSIONS = ("3.1", "3.2", "4.0", "4.1")

# action → (root element, number, date, seller path) — the same in every version.
FIELDS = {
    "issue": ("Invoice", "Main/InvoiceNumber", "Main/InvoiceDate", "Main/Seller/Identifier"),
    "cancel": ("CancelInvoice", "CancelInvoiceNumber", "InvoiceDate", "SellerId"),
    "void": ("VoidInvoice", "VoidInvoiceNumber", "InvoiceDate", "SellerId"),
    "reject": ("RejectInvoice", "RejectInvoiceNumber", "InvoiceDate", "SellerId"),
}

_MESSAGE_NS = re.compile(r"^urn:GEINV:eInvoiceMessage:([A-Z][0-9]{4}):([0-9]\.[0-9])$")
_OTHER_NS = re.compile(r"^urn:GEINV:([A-Za-z0-9]+):([0-9]\.[0-9])$")  # E0501, ProcessResult, …
_ENVELOPE = "InvoiceEnvelope"


@dataclass(frozen=True)
class Kind:
    """What one XML document (or message in an envelope) is."""

    message: str  # 'F0401', 'E0402', 'E0501', 'ProcessResult', 'InvoiceEnvelope', …
    version: str
    known: bool  # a MIG message at all (urn:GEINV:…)

    @property
    def is_invoice(self) -> bool:
        return self.message in INVOICE_MESSAGES

    @property
    def label(self) -> str:
        return f"{self.message} {self.version}"


def namespace(element: etree._Element) -> str:
    tag = element.tag
    if isinstance(tag, str) and tag.startswith("{"):
        return tag[1:tag.index("}")]
    return ""


_KINDS: dict[str, Kind] = {}  # element tag ('{namespace}name') → kind: a folder has few


def kind_of(element: etree._Element) -> Kind:
    """The MIG message an element is, by its namespace (and root name for E0501/envelopes)."""
    tag = element.tag
    kind = _KINDS.get(tag) if isinstance(tag, str) else None
    if kind is None:
        kind = _kind_of_tag(element)
        if isinstance(tag, str) and len(_KINDS) < 1000:
            _KINDS[tag] = kind
    return kind


def _kind_of_tag(element: etree._Element) -> Kind:
    ns = namespace(element)
    local = etree.QName(element).localname
    m = _MESSAGE_NS.match(ns)
    if m:
        return Kind(m.group(1), m.group(2), True)
    m = _OTHER_NS.match(ns)
    if m:
        what = m.group(1)
        if what == _ENVELOPE or local == _ENVELOPE:
            return Kind(_ENVELOPE, m.group(2), True)
        return Kind(what, m.group(2), True)
    return Kind(local, "", False)


Spec = dict[str, "int | Spec"]  # child tag → field index, or the spec of its own children


def _spec(ns: str, *paths: str) -> Spec:
    """The field paths as nested tags, so one walk over each element's children finds all."""
    spec: Spec = {}
    for index, path in enumerate(paths):
        node = spec
        *parents, last = [f"{{{ns}}}{part}" for part in path.split("/")]
        for tag in parents:
            node = node.setdefault(tag, {})  # type: ignore[assignment]
        node[last] = index
    return spec


def _collect(element: etree._Element, spec: Spec, found: list) -> None:
    # A walk over the few children: several times faster than find() with a path.
    for child in element:
        sub = spec.get(child.tag)  # type: ignore[arg-type]
        if sub is None:
            continue
        if isinstance(sub, int):
            found[sub] = child
        else:
            _collect(child, sub, found)


Record = tuple[str, str | None, str | None, str | None, int, int]


def digest(data: bytes) -> int:
    """What identifies a message: the same file found twice (SRC and BAK) hashes the same.
    SHA-256 (the CPU's SHA instructions make it the cheapest hash in hashlib), its first 8
    bytes: a million distinct messages collide with odds of about 1 in 30 million."""
    return int.from_bytes(hashlib.sha256(data).digest()[:8], "big", signed=True)


_MIX = 0x9E3779B97F4A7C15  # a message of an envelope: the envelope's digest and its position
_SPECS: dict[tuple[str, str], Spec] = {}  # (namespace, action) → where its fields are


def message_record(element: etree._Element, kind: Kind, name: str, identity: int | None = None
                   ) -> Record:
    """The record of one invoice message element; InputError when its root or a field is
    missing (the values themselves are checked later, with every other row)."""
    action = INVOICE_MESSAGES[kind.message][0]
    root_name, number_path, date_path, seller_path = FIELDS[action]
    ns = namespace(element)
    line = element.sourceline or 0
    if element.tag != f"{{{ns}}}{root_name}":
        raise InputError(Problem(name, line, None,
                                 f"{kind.label}: root element is <{etree.QName(element).localname}>, "
                                 f"expected <{root_name}>", "check the file is the message it claims"))
    spec = _SPECS.get((ns, action))
    if spec is None:
        spec = _SPECS[(ns, action)] = _spec(ns, number_path, date_path, seller_path)
    found: list[etree._Element | None] = [None, None, None]
    _collect(element, spec, found)
    values = [((node.text or "").strip() or None) if node is not None else None for node in found]
    for value, path in zip(values, (number_path, date_path, seller_path), strict=True):
        if value is None:
            raise InputError(Problem(name, line, path, f"{kind.label} <{root_name}> has no {path}",
                                     "the message is incomplete: take it again from Turnkey"))
    if identity is None:
        identity = digest(etree.tostring(element))
    number_node = found[0]
    return (action, values[0], values[1], values[2],
            (number_node.sourceline if number_node is not None else None) or line, identity)


_XPATHS: dict[tuple[str, str], tuple[etree.XPath, ...]] = {}  # (namespace, action) → queries


def field_queries(tag: str, action: str) -> tuple[etree.XPath, ...]:
    """(count of the messages of `tag` with a text in every field, their number elements,
    date texts, seller texts), each over the children of the element it is called on. When
    all n messages have every field and each list holds n, each message has exactly one of
    each: the lists line up."""
    ns = namespace_of_tag(tag)
    queries = _XPATHS.get((ns, action))
    if queries is None:
        root_name, *paths = FIELDS[action]
        where = {"m": ns}
        each = f"m:{root_name}"
        steps = ["/".join("m:" + part for part in path.split("/")) for path in paths]
        whole = " and ".join(f"{s}/text()" for s in steps)
        queries = (etree.XPath(f"count({each}[{whole}])", namespaces=where),
                   etree.XPath(f"{each}/{steps[0]}", namespaces=where),
                   *(etree.XPath(f"{each}/{s}/text()", namespaces=where, smart_strings=False)
                     for s in steps[1:]))
        _XPATHS[(ns, action)] = queries
    return queries


def field_columns(parent: etree._Element, tag: str, action: str, n: int
                  ) -> tuple[list[str], list[str], list[str], list[int]] | None:
    """(numbers, dates, sellers, the number elements' lines) of the `n` messages of `tag`
    under `parent`, a field of all at once (XPath in C, not a walk per message); None when a
    message lacks a field or a field is blank, so the walk per message names it."""
    if tag != f"{{{namespace_of_tag(tag)}}}{FIELDS[action][0]}":
        return None  # not the message's root element (the queries look for that one)
    complete, numbers, dates, sellers = field_queries(tag, action)
    if complete(parent) != n:
        return None
    elements = numbers(parent)
    texts = [element.text for element in elements]
    if len(elements) != n or None in texts:
        return None
    columns = ([t.strip() for t in texts], [t.strip() for t in dates(parent)],
               [t.strip() for t in sellers(parent)])
    if any(len(column) != n or "" in column for column in columns):
        return None
    return (*columns, [element.sourceline or 0 for element in elements])


def _pack_columns(pack: etree._Element, name: str, whole: int
                  ) -> tuple[dict[Kind, int], list[Record]] | None:
    """The records of an envelope's messages, a field of every message of a kind at once;
    None when a message lacks a field or holds something else, so the walk per message
    names it."""
    tags = Counter(message.tag for message in pack)  # usually a thousand of one kind
    counts: dict[Kind, int] = {}
    records: list[Record] = []
    for tag, n in tags.items():
        if not isinstance(tag, str):
            continue
        first = pack.find(tag)
        if first is None:  # a tag counted among the children is found: never here
            return None
        kind = kind_of(first)
        check_version(kind, name, None)
        if not kind.is_invoice:
            return None  # a mixed or foreign pack: the careful way
        action = INVOICE_MESSAGES[kind.message][0]
        found = field_columns(pack, tag, action, n)
        if found is None:
            return None
        counts[kind] = n
        base = (whole + digest(tag.encode())) % 2**64  # stable in every process
        records.extend(zip([action] * n, *found[:3], found[3],
                           [(base + (i + 1) * _MIX) % 2**64 - 2**63 for i in range(n)],
                           strict=True))
    return counts, records


def namespace_of_tag(tag: str) -> str:
    return tag[1:tag.index("}")] if tag.startswith("{") else ""


def check_version(kind: Kind, name: str, line: int | None) -> None:
    if kind.message in INVOICE_MESSAGES:
        versions = INVOICE_MESSAGES[kind.message][1]
    elif kind.message == _ENVELOPE:
        versions = ENVELOPE_VERSIONS
    else:
        return
    if kind.version not in versions:
        raise InputError(Problem(name, line, None,
                                 f"{kind.message} version {kind.version} is not a version of that "
                                 f"message (read: {', '.join(versions)})",
                                 "check the namespace of the message"))


def read_document(root: etree._Element, name: str, data: bytes | None = None
                  ) -> tuple[list[tuple[Kind, int]], list[Record]]:
    """The kinds found in a parsed document (with counts) and the records of its invoice
    messages. An envelope's messages are read one by one. `data`: the file's bytes."""
    kind = kind_of(root)
    check_version(kind, name, root.sourceline)
    if kind.message != _ENVELOPE:
        if kind.is_invoice:
            identity = digest(data) if data is not None else None
            return [(kind, 1)], [message_record(root, kind, name, identity)]
        return [(kind, 1)], []
    whole = digest(data if data is not None else etree.tostring(root))
    counts: dict[Kind, int] = {kind: 1}
    records: list[Record] = []
    ns = namespace(root)
    pack = root.find(f"{{{ns}}}InvoicePack")
    if pack is not None:
        fast = _pack_columns(pack, name, whole)
        if fast is not None:
            for inner, n in fast[0].items():
                counts[inner] = counts.get(inner, 0) + n
            return list(counts.items()), fast[1]
    for position, message in enumerate(pack if pack is not None else []):
        if not isinstance(message.tag, str):
            continue
        inner = kind_of(message)
        check_version(inner, name, message.sourceline)
        counts[inner] = counts.get(inner, 0) + 1
        if inner.is_invoice:
            identity = (whole + (position + 1) * _MIX) % 2**64 - 2**63  # fits Int64
            records.append(message_record(message, inner, name, identity))
    return list(counts.items()), records
