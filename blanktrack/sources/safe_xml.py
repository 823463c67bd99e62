"""Parse XML that came from outside without trusting it: no DTD, no entity expansion, no network.

A MIG message never has a DOCTYPE, so one is refused outright: that stops billion-laughs and
external-entity documents before anything is expanded or fetched.
"""

from __future__ import annotations

from lxml import etree

from ..errors import InputError, Problem

_FIX_DOCTYPE = "a MIG message has no DOCTYPE: use the file Turnkey or the platform wrote"
_FIX_MALFORMED = "the file is damaged or not XML: take it again from Turnkey's folder or the platform"


def parser(keep_pis: bool = False) -> etree.XMLParser:
    """An lxml parser that loads no DTD, expands no entity and never reaches the network.
    `keep_pis`: processing instructions stay in the tree (the batch reader's file markers)."""
    return etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True,
                           dtd_validation=False, huge_tree=False, remove_comments=True,
                           remove_pis=not keep_pis, collect_ids=False)


_PARSER = parser()
_PROLOG_BYTES = 65536  # a DOCTYPE stands before the root element, in the prolog


def _doctype(name: str, line: int | None) -> InputError:
    return InputError(Problem(name, line, None,
                              "the XML declares a DOCTYPE (a DTD or entities), which blanktrack "
                              "refuses: no entity is expanded and no outside file is read",
                              _FIX_DOCTYPE))


def parse_bytes(data: bytes, name: str) -> etree._Element:
    """The root element of `data`; InputError naming `name` and the line for anything unsafe
    or malformed."""
    at = data.find(b"<!DOCTYPE", 0, _PROLOG_BYTES)
    if at >= 0:
        raise _doctype(name, data[:at].count(b"\n") + 1)
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        line = exc.lineno if exc.lineno else None
        raise InputError(Problem(name, line, None, f"malformed XML: {exc.msg}",
                                 _FIX_MALFORMED)) from exc
    if root is None:
        raise InputError(Problem(name, None, None, "the XML has no element", _FIX_MALFORMED))
    if root.getroottree().docinfo.doctype:  # a DOCTYPE after a long prolog: still refused
        raise _doctype(name, None)
    return root


def parse_file(path: str, name: str | None = None) -> etree._Element:
    with open(path, "rb") as fh:
        data = fh.read()
    return parse_bytes(data, name or path)
