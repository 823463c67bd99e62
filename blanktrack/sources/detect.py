"""What a file is, by its content (never its name): Parquet, XML (which MIG message), an Excel
workbook, or a CSV whose header (or first row) says which table it is."""

from __future__ import annotations

import codecs
import csv
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from .. import invoices as inv
from .. import textio
from ..allocations import PARQUET_MAGIC

if TYPE_CHECKING:
    from .mig_xml import Kind

_SNIFF_BYTES = 65536
_XLSX_MAGIC = b"PK\x03\x04"
_ALLOCATION_HEADERS = ({"ban", "invoice_type", "period", "track", "begin_no", "end_no"},
                       {"統一編號", "字軌", "起號", "迄號"})
_MOF_ALLOCATION_ROW = re.compile(r"^\d{8},\d{1,2},[^,]*,\d{3}/\d{2}\s*~\s*\d{3}/\d{2},[A-Z]{2},\d{8},\d{8}")


@dataclass(frozen=True)
class FileKind:
    """kind: 'canonical' (the invoice table), 'parquet-other', 'xml', 'platform', 'erp',
    'allocations', 'empty' or 'unknown'; message: the MIG kind of an XML file."""

    kind: str
    message: Kind | None = None
    detail: str = ""


def _decode(head: bytes) -> str | None:
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return head.decode("utf-16", errors="ignore")
    # The head may end inside a character: ignore only a broken tail.
    for encoding in ("utf-8-sig", "cp950"):
        try:
            return head.decode(encoding)
        except UnicodeDecodeError as exc:
            if exc.start >= len(head) - 4:
                return head[: exc.start].decode(encoding, errors="strict")
    return None


def _xml_root_kind(head: bytes) -> Kind | None:
    """The kind of an XML document from its root element, found in the file's first bytes;
    None when they are not well-formed up to it."""
    from lxml import etree  # here: a run of tables alone never loads lxml

    from .mig_xml import kind_of

    parser = etree.XMLPullParser(events=("start",), resolve_entities=False, load_dtd=False,
                                 no_network=True, huge_tree=False)
    try:
        parser.feed(head)
        for _, element in parser.read_events():
            return kind_of(element)
    except etree.XMLSyntaxError:
        return None
    return None


def _parquet_columns(path: Path) -> list[str]:
    try:
        return list(pl.read_parquet_schema(path))
    except (OSError, pl.exceptions.PolarsError):
        return []  # the engine names what is wrong with it


def first_record(text: str) -> list[str] | None:
    for line in text.splitlines():
        if line.strip():
            try:
                return [f.strip() for f in next(csv.reader(io.StringIO(line)))]
            except (csv.Error, StopIteration):
                return None
    return None


def _is_workbook(path: Path) -> bool:
    """A zip that holds an Excel workbook (any other zip is named as no table by the reader)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return "xl/workbook.xml" in archive.namelist()
    except (OSError, zipfile.BadZipFile):
        return False


def sniff(path: Path, columns: dict[str, str] | None = None) -> FileKind:
    """What `path` holds (reads its first 64 KiB; an XML file's root element)."""
    # a FIFO or a device is refused, never opened; of a Parquet file only its magic is read
    head = textio.read_head(path, _SNIFF_BYTES, unless=PARQUET_MAGIC)
    if not head.strip():
        return FileKind("empty")
    if head.startswith(PARQUET_MAGIC):
        columns_of = {inv.normal_name(n) for n in _parquet_columns(path)}
        if any(h <= columns_of for h in _ALLOCATION_HEADERS):
            return FileKind("allocations")
        return FileKind("canonical")  # the engine checks its columns and names what is wrong
    if head.startswith(_XLSX_MAGIC) and _is_workbook(path):
        return FileKind("erp", detail="xlsx")
    text = _decode(head)
    if text is None or "\x00" in text:  # damaged text (or UTF-16 without BOM): named later
        return FileKind("canonical", detail="damaged")
    stripped = text.lstrip("\ufeff \t\r\n")
    if not stripped:
        return FileKind("empty")
    if stripped.startswith("<"):
        kind = _xml_root_kind(head)
        return FileKind("xml", kind) if kind is not None else FileKind("xml")
    header = first_record(stripped)
    if header is None:
        return FileKind("unknown")
    names = [inv.normal_name(h) for h in header]
    if set(inv.REQUIRED) <= set(names) and not columns:
        return FileKind("canonical")
    # Here, not at the top: a canonical table (the fast path) needs no ERP or platform reader.
    from . import erp
    from .platform_download import is_platform_row

    for line in stripped.splitlines()[:3]:
        if is_platform_row(line):
            return FileKind("platform")
    if erp.mapping(header, columns) is not None:
        return FileKind("erp", detail="csv")
    if any(h <= set(names) for h in _ALLOCATION_HEADERS) or _MOF_ALLOCATION_ROW.match(stripped):
        return FileKind("allocations")
    first = stripped.split("\n", 1)[0].lower()
    if any(column in first for column in inv.RAW_COLUMNS):
        # Meant as the canonical table: the engine names the column that is wrong.
        return FileKind("canonical", detail="damaged")
    return FileKind("unknown")
