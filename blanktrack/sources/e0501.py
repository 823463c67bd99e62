"""E0501 營業人電子發票配號檔 (the allocation Turnkey receives, spec §5.2): bare or in an
InvoiceEnvelope, read into the raw allocation rows allocations.py checks like any other."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import InputError, Problem

# lxml (and the MIG readers, which import it) are imported by the functions that parse: an
# allocation table is told from an E0501 file by is_xml_file alone, without loading lxml.
if TYPE_CHECKING:
    from lxml import etree

OFFICIAL = ("urn:GEINV:E0501:4.0", "urn:GEINV:E0501:3.1", "urn:GEINV:E0501:3.2")
# Seen in some copies, not in the MOF's schemas: read, with a warning finding.
UNOFFICIAL = ("urn:GEINV:E0501:4.1", "urn:GEINV:eInvoiceMessage:E0501:3.1",
              "urn:GEINV:eInvoiceMessage:E0501:3.2", "urn:GEINV:eInvoiceMessage:E0501:4.0")
_FIELDS = {"ban": "Ban", "invoice_type": "InvoiceType", "period": "YearMonth",
           "track": "InvoiceTrack", "begin_no": "InvoiceBeginNo", "end_no": "InvoiceEndNo"}
BOOKLET = 50

RawRow = tuple[int, dict[str, str | None]]


def assignments(root: etree._Element) -> list[etree._Element]:
    """The InvoiceAssignNo elements of a document (bare, or the messages of an envelope)."""
    from lxml import etree

    from .mig_xml import namespace

    if etree.QName(root).localname == "InvoiceAssignNo":
        return [root]
    pack = root.find(f"{{{namespace(root)}}}InvoicePack")
    return [m for m in (pack if pack is not None else [])
            if isinstance(m.tag, str) and etree.QName(m).localname == "InvoiceAssignNo"]


def is_e0501(root: etree._Element) -> bool:
    from .mig_xml import kind_of

    return bool(assignments(root)) and all(kind_of(a).message == "E0501" for a in assignments(root))


def unofficial_namespaces(root: etree._Element) -> list[str]:
    from .mig_xml import namespace

    return sorted({namespace(a) for a in assignments(root) if namespace(a) not in OFFICIAL})


def read_e0501(path: Path, problems: list[Problem]) -> list[RawRow]:
    """The allocation rows of an E0501 file; a wrong booklet count is a problem of its line."""
    from .mig_xml import namespace
    from .safe_xml import parse_file

    name = str(path)
    root = parse_file(str(path), name)
    found = assignments(root)
    if not found:
        raise InputError(Problem(name, root.sourceline, None,
                                 "no InvoiceAssignNo (E0501) in this XML file",
                                 "pass the E0501 allocation files Turnkey received"))
    rows: list[RawRow] = []
    for element in found:
        ns = namespace(element)
        if ns not in OFFICIAL + UNOFFICIAL:
            raise InputError(Problem(name, element.sourceline, None,
                                     f"E0501 namespace '{ns}' is not one blanktrack reads",
                                     f"expected one of {', '.join(OFFICIAL)}"))
        row: dict[str, str | None] = {}
        for column, tag in _FIELDS.items():
            node = element.find(f"{{{ns}}}{tag}")
            row[column] = (node.text or "").strip() if node is not None else None
        node = element.find(f"{{{ns}}}InvoiceBooklet")
        booklets = (node.text or "").strip() if node is not None else ""
        line = element.sourceline or 0
        begin, end = row["begin_no"] or "", row["end_no"] or ""
        if begin.isdigit() and end.isdigit() and int(end) >= int(begin):
            count = int(end) - int(begin) + 1
            if not booklets.isdigit() or int(booklets) * BOOKLET != count:
                problems.append(Problem(
                    name, line, "InvoiceBooklet",
                    f"InvoiceBooklet '{booklets}' does not match {begin}–{end} "
                    f"({count} numbers = {count / BOOKLET:g} booklets of 50)",
                    "the file is damaged or edited: take the E0501 again from Turnkey"))
                continue
        rows.append((line, row))
    return rows


def is_xml_file(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(512).lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<")
