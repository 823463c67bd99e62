"""MIG invoice messages (spec §5.2): issue, cancel (作廢), void (註銷) and reject (退回), bare or
packed in an InvoiceEnvelope, read into one record per message.

A record is (action, invoice_number, invoice_date, seller_ban, line, digest): `action` is
'issue' | 'cancel' | 'void' | 'reject'; the date is the message's `yyyyMMdd` text; `digest`
identifies the message's content, so the same message found twice (Turnkey's SRC and BAK) is
counted once.
"""

from __future__ import annotations

import hashlib
import operator
import re
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


_SLOTS = 2**24  # a message of an envelope: its envelope's digest, these low bits its position


def message_identity(whole: int, position: int) -> int:
    """What identifies the message at `position` (0, 1, …) of the envelope of digest `whole`
    (the same envelope in SRC and BAK gives the same): the digest's high 40 bits and the
    position, as an Int64. An envelope's messages follow each other: `identities`."""
    return (((whole % 2**64) & -_SLOTS) + position + 1) % 2**64 - 2**63


def identities(whole: int, n: int) -> list[int]:
    """message_identity of the first `n` positions of an envelope (made in C: a range)."""
    if n >= _SLOTS:
        return [message_identity(whole, position) for position in range(n)]
    first = message_identity(whole, 0)
    return list(range(first, first + n))
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


def field_columns(parent: etree._Element, messages: list[etree._Element], action: str
                  ) -> tuple[list[str], list[str], list[str], list[int]] | None:
    """(numbers, dates, sellers, the number elements' lines) of `messages` (children of
    `parent` of one tag, in document order), a field of all at once; None when a message
    lacks a field, holds one twice or elsewhere, or a field is blank, so the walk per message
    reads it (and names what is wrong).

    One traversal in C (`iter` of the fields' tags, which finds nothing of another message
    kind: each kind has its namespace) gives every message's fields in the schema's order:
    number, date, seller (Seller then its Identifier, then the buyer's Identifier, for an
    issue). The fields are read only when that order holds for every message and each
    field's parent is where the path puts it. XPath with child steps costs several times
    more here (libxml2 merges a node set per step), and so does a traversal per field.
    """
    n = len(messages)
    if not n:
        return [], [], [], []
    tag = messages[0].tag
    if not isinstance(tag, str):
        return None
    ns = namespace_of_tag(tag)
    root_name, *paths = FIELDS[action]
    if tag != f"{{{ns}}}{root_name}":
        return None  # not the message's root element: the walk names it
    if action == "issue":  # Main/InvoiceNumber, Main/InvoiceDate, Main/Seller/Identifier
        number, date, seller, identifier, main = (
            f"{{{ns}}}{name}" for name in ("InvoiceNumber", "InvoiceDate", "Seller",
                                           "Identifier", "Main"))
        found = list(parent.iter(number, date, seller, identifier))
        if (len(found) != 5 * n
                or [e.tag for e in found] != [number, date, seller, identifier, identifier] * n):
            return None
        parents = list(map(_parent, found))
        mains, sellers = parents[0::5], found[2::5]
        if not (all(map(_is, parents[1::5], mains)) and all(map(_is, parents[2::5], mains))
                and all(map(_is, parents[3::5], sellers))
                and not any(map(_is, parents[4::5], sellers))  # a second seller Identifier
                and all(element.tag == main for element in mains)):
            return None
        owners = list(map(_parent, mains))
        columns = found[0::5], found[1::5], found[3::5]
    else:  # three children of the message root
        tags = [f"{{{ns}}}{path}" for path in paths]
        found = list(parent.iter(*tags))
        if len(found) != 3 * n or [e.tag for e in found] != tags * n:
            return None
        parents = list(map(_parent, found))
        owners = parents[0::3]
        if not (all(map(_is, parents[1::3], owners)) and all(map(_is, parents[2::3], owners))):
            return None
        columns = found[0::3], found[1::3], found[2::3]
    if not all(map(_is, owners, messages)):
        return None
    # (no text and blank text alike: the walk names the field)
    numbers, dates, sellers_ = ([(element.text or "").strip() for element in column]
                                for column in columns)
    if "" in numbers or "" in dates or "" in sellers_:
        return None
    return numbers, dates, sellers_, [element.sourceline or 0 for element in columns[0]]


_parent = operator.methodcaller("getparent")
_is = operator.is_


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


Columns = tuple[list[str], list[str], list[str], list[str], list[int], list[int]]


def envelope_columns(root: etree._Element, name: str, data: bytes
                     ) -> tuple[list[tuple[Kind, int]], Columns] | None:
    """What read_document gives for an envelope, as columns (action, number, date, seller,
    line, identity), every message's field read at once; None unless the pack holds
    messages of one invoice kind only, each with every field once (read_document then walks
    each message and names what is wrong)."""
    kind = kind_of(root)
    if kind.message != _ENVELOPE or kind.version not in ENVELOPE_VERSIONS:
        return None
    pack = root.find(f"{{{namespace(root)}}}InvoicePack")
    if pack is None:
        return None
    messages = list(pack)
    if not messages or not isinstance(messages[0].tag, str):
        return None
    if len(list(pack.iterchildren(messages[0].tag))) != len(messages):
        return None  # mixed, or an entity or a foreign node among them
    inner = kind_of(messages[0])
    if not inner.is_invoice or inner.version not in INVOICE_MESSAGES[inner.message][1]:
        return None
    action = INVOICE_MESSAGES[inner.message][0]
    found = field_columns(pack, messages, action)
    if found is None:
        return None
    n = len(messages)
    return ([(kind, 1), (inner, n)],
            ([action] * n, *found[:3], found[3], identities(digest(data), n)))


def read_document(root: etree._Element, name: str, data: bytes | None = None
                  ) -> tuple[list[tuple[Kind, int]], list[Record]]:
    """The kinds found in a parsed document (with counts) and the records of its invoice
    messages. An envelope's messages are read one by one (envelope_columns reads the usual
    envelope faster, to the same values). `data`: the file's bytes."""
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
    for position, message in enumerate(pack if pack is not None else []):
        if not isinstance(message.tag, str):
            continue
        inner = kind_of(message)
        check_version(inner, name, message.sourceline)
        counts[inner] = counts.get(inner, 0) + 1
        if inner.is_invoice:
            records.append(message_record(message, inner, name,
                                          message_identity(whole, position)))
    return list(counts.items()), records
