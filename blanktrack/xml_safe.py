"""Reading XML that comes from elsewhere (E0402 files, Turnkey's results) without trusting it.

lxml with entity resolution, DTD loading and the network off, and a document that carries a
DOCTYPE refused outright: blank reports and platform results never need one, and a DOCTYPE is
how entity-expansion and external-entity attacks arrive.
"""

from __future__ import annotations

from lxml import etree


class UnsafeXmlError(ValueError):
    """The bytes are not well-formed XML, or carry a DOCTYPE."""


def parse_xml(data: bytes, name: str) -> etree._ElementTree:
    """The parsed document; UnsafeXmlError naming ``name`` and the line otherwise."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                             dtd_validation=False, huge_tree=False, remove_comments=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        line = exc.lineno if exc.lineno else "?"
        raise UnsafeXmlError(f"{name}:{line}: not well-formed XML: {exc.msg}") from exc
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise UnsafeXmlError(f"{name}:1: the document carries a DOCTYPE; refused "
                             "(an E0402 or a platform result never has one)")
    return tree


def local_name(element: etree._Element) -> str:
    return etree.QName(element).localname


def namespace(element: etree._Element) -> str:
    return etree.QName(element).namespace or ""
