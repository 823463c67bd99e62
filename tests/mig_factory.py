"""MIG invoice messages (issue, cancel, void, reject; bare or in an InvoiceEnvelope) and E0501
allocations made for tests, each checked against the MOF's own schema before use
(../shared/xsd/official/, found as tests/corpus/checks.py finds ../shared)."""

from __future__ import annotations

import functools
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from corpus.checks import shared_xsd_dir
from lxml import etree

OFFICIAL = shared_xsd_dir() / "official"

# message → (action, versions): the matrix the issue names
MESSAGES = {
    "F0401": ("issue", ("4.0", "4.1")), "F0501": ("cancel", ("4.0", "4.1")),
    "F0701": ("void", ("4.0", "4.1")),
    "C0401": ("issue", ("3.1", "3.2")), "C0501": ("cancel", ("3.1", "3.2")),
    "C0701": ("void", ("3.1", "3.2")),
    "A0401": ("issue", ("3.1", "3.2")), "A0501": ("cancel", ("3.1", "3.2")),
    "A0601": ("reject", ("3.1", "3.2")),
    "A0101": ("issue", ("3.1", "3.2", "4.0", "4.1")), "A0201": ("cancel", ("3.1", "3.2", "4.0", "4.1")),
    "A0301": ("reject", ("3.1", "3.2", "4.0", "4.1")),
}
ISSUE_OF = {"cancel": {"F": "F0401", "C": "C0401", "A05": "A0401", "A02": "A0101"},
            "void": {"F": "F0401", "C": "C0401"}}
ALL = [(m, v) for m, (_, versions) in MESSAGES.items() for v in versions]


def _folder(version: str) -> str:
    return "v" + version.replace(".", "")


def schema_path(message: str, version: str) -> Path:
    if message == "E0501" and version == "4.0":
        return OFFICIAL / "common" / "v40" / "E0501.xsd"
    if message == "InvoiceEnvelope" and version in ("4.0", "4.1"):
        return OFFICIAL / "common" / _folder(version) / "InvoiceEnvelope.xsd"
    return OFFICIAL / _folder(version) / f"{message}.xsd"


@functools.cache
def _schema(message: str, version: str) -> etree.XMLSchema:
    path = schema_path(message, version)
    if not path.exists():
        pytest.skip(f"official schema {path} not found (../shared/xsd/official)")
    return etree.XMLSchema(etree.parse(str(path)))


def check(xml: bytes, message: str, version: str) -> bytes:
    """`xml` unchanged if the official schema accepts it; else the test fails."""
    schema = _schema(message, version)
    doc = etree.fromstring(xml)
    if not schema.validate(doc):
        pytest.fail(f"{message} {version} made by the test is not valid: {schema.error_log}")
    return xml


def _issue(number: str, date: str, seller: str, message: str, version: str) -> str:
    modern = version.startswith("4")
    b2c = message[0] in "FC"
    invoice_type = "07" if modern else "01"
    print_mark = "<PrintMark>N</PrintMark>" if b2c else ""
    random = "<RandomNumber>1234</RandomNumber>" if message == "C0401" else ""
    item_tax = "<TaxType>1</TaxType>" if modern else ""
    free = ("<FreeTaxSalesAmount>0</FreeTaxSalesAmount><ZeroTaxSalesAmount>0</ZeroTaxSalesAmount>"
            if b2c else "")
    buyer = "0000000000" if b2c else "04595257"
    return (
        f"<Invoice><Main><InvoiceNumber>{number}</InvoiceNumber><InvoiceDate>{date}</InvoiceDate>"
        f"<InvoiceTime>12:00:00</InvoiceTime>"
        f"<Seller><Identifier>{seller}</Identifier><Name>{escape('賣方 & Co')}</Name></Seller>"
        f"<Buyer><Identifier>{buyer}</Identifier><Name>買方</Name></Buyer>"
        f"<InvoiceType>{invoice_type}</InvoiceType><DonateMark>0</DonateMark>{print_mark}{random}"
        f"</Main><Details><ProductItem><Description>品項</Description><Quantity>1</Quantity>"
        f"<UnitPrice>100</UnitPrice>{item_tax}<Amount>100</Amount><SequenceNumber>1</SequenceNumber>"
        f"</ProductItem></Details><Amount><SalesAmount>100</SalesAmount>{free}<TaxType>1</TaxType>"
        f"<TaxRate>0.05</TaxRate><TaxAmount>5</TaxAmount><TotalAmount>105</TotalAmount></Amount>"
        f"</Invoice>"
    )


def _other(action: str, number: str, date: str, seller: str, message: str) -> str:
    root = {"cancel": "Cancel", "void": "Void", "reject": "Reject"}[action]
    buyer = "0000000000" if message[0] in "FC" else "04595257"
    return (
        f"<{root}Invoice><{root}InvoiceNumber>{number}</{root}InvoiceNumber>"
        f"<InvoiceDate>{date}</InvoiceDate><BuyerId>{buyer}</BuyerId><SellerId>{seller}</SellerId>"
        f"<{root}Date>{date}</{root}Date><{root}Time>13:00:00</{root}Time>"
        f"<{root}Reason>test</{root}Reason></{root}Invoice>"
    )


def _with_ns(body: str, ns: str) -> str:
    first = body.index(">")
    head = body[:first]
    return f'{head} xmlns="{ns}"{body[first:]}'


def message_xml(message: str, version: str, number: str, date: str, seller: str,
                declaration: bool = True) -> bytes:
    """One message, valid against its official schema. `date` is yyyyMMdd."""
    action = MESSAGES[message][0]
    body = (_issue(number, date, seller, message, version) if action == "issue"
            else _other(action, number, date, seller, message))
    xml = _with_ns(body, f"urn:GEINV:eInvoiceMessage:{message}:{version}")
    data = (('<?xml version="1.0" encoding="UTF-8"?>\n' if declaration else "") + xml).encode()
    return check(data, message, version)


def envelope_xml(messages: list[bytes], version: str = "4.1") -> bytes:
    """Messages packed in an InvoiceEnvelope (up to 1,000), valid against its schema."""
    ns = f"urn:GEINV:InvoiceEnvelope:{version}"
    inner = b"".join(m.split(b"?>", 1)[-1].strip() if m.startswith(b"<?xml") else m
                     for m in messages)
    data = (f'<?xml version="1.0" encoding="UTF-8"?>\n<InvoiceEnvelope xmlns="{ns}">'
            "<From><PartyId>53567686</PartyId></From><FromVAC><RoutingId>53567686</RoutingId></FromVAC>"
            "<To><PartyId>EINVOICE</PartyId></To><ToVAC><RoutingId>EINVOICE</RoutingId></ToVAC>"
            f"<InvoicePack>").encode() + inner + b"</InvoicePack></InvoiceEnvelope>"
    return check(data, "InvoiceEnvelope", version)


def e0501_xml(ban: str, invoice_type: str, period: str, track: str, begin: str, end: str,
              booklets: int | None = None, version: str = "4.0",
              namespace: str | None = None) -> bytes:
    if booklets is None:
        booklets = (int(end) - int(begin) + 1) // 50
    ns = namespace or f"urn:GEINV:E0501:{version}"
    data = (f'<?xml version="1.0" encoding="UTF-8"?>\n<InvoiceAssignNo xmlns="{ns}">'
            f"<Ban>{ban}</Ban><InvoiceType>{invoice_type}</InvoiceType><YearMonth>{period}</YearMonth>"
            f"<InvoiceTrack>{track}</InvoiceTrack><InvoiceBeginNo>{begin}</InvoiceBeginNo>"
            f"<InvoiceEndNo>{end}</InvoiceEndNo><InvoiceBooklet>{booklets}</InvoiceBooklet>"
            f"</InvoiceAssignNo>").encode()
    if namespace is None:
        return check(data, "E0501", version)
    return data  # an unofficial namespace has no schema
