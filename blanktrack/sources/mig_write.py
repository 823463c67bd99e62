"""MIG 4.1 invoice messages (F0401 issue, F0501 cancel, F0701 void) and Turnkey folders of them,
for the shipped sample and the benchmark: the files a business's Turnkey holds. Each message
is the minimal document the MOF's 4.1 schemas accept (tests validate them)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

_NS = "urn:GEINV:eInvoiceMessage:{}:4.1"
_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'
_B2C_BUYER = "0000000000"  # a consumer: no BAN


def issue(number: str, date: str, seller: str, time: str = "12:00:00") -> str:
    """F0401 (開立). `date` is yyyyMMdd."""
    return (
        f'<Invoice xmlns="{_NS.format("F0401")}"><Main><InvoiceNumber>{number}</InvoiceNumber>'
        f"<InvoiceDate>{date}</InvoiceDate><InvoiceTime>{time}</InvoiceTime>"
        f"<Seller><Identifier>{seller}</Identifier><Name>{seller}</Name></Seller>"
        f"<Buyer><Identifier>{_B2C_BUYER}</Identifier><Name>0000</Name></Buyer>"
        "<InvoiceType>07</InvoiceType><DonateMark>0</DonateMark><PrintMark>N</PrintMark></Main>"
        "<Details><ProductItem><Description>item</Description><Quantity>1</Quantity>"
        "<UnitPrice>100</UnitPrice><TaxType>1</TaxType><Amount>100</Amount>"
        "<SequenceNumber>1</SequenceNumber></ProductItem></Details>"
        "<Amount><SalesAmount>100</SalesAmount><FreeTaxSalesAmount>0</FreeTaxSalesAmount>"
        "<ZeroTaxSalesAmount>0</ZeroTaxSalesAmount><TaxType>1</TaxType><TaxRate>0.05</TaxRate>"
        "<TaxAmount>5</TaxAmount><TotalAmount>105</TotalAmount></Amount></Invoice>"
    )


def _after(number: str, date: str, seller: str, message: str, root: str) -> str:
    return (
        f'<{root}Invoice xmlns="{_NS.format(message)}"><{root}InvoiceNumber>{number}'
        f"</{root}InvoiceNumber><InvoiceDate>{date}</InvoiceDate><BuyerId>{_B2C_BUYER}</BuyerId>"
        f"<SellerId>{seller}</SellerId><{root}Date>{date}</{root}Date>"
        f"<{root}Time>18:00:00</{root}Time><{root}Reason>correction</{root}Reason></{root}Invoice>"
    )


def cancel(number: str, date: str, seller: str) -> str:
    """F0501 (作廢)."""
    return _after(number, date, seller, "F0501", "Cancel")


def void(number: str, date: str, seller: str) -> str:
    """F0701 (註銷)."""
    return _after(number, date, seller, "F0701", "Void")


def document(message: str) -> bytes:
    return (_DECLARATION + message + "\n").encode("utf-8")


def envelope(messages: Iterable[str]) -> bytes:
    """An InvoiceEnvelope 4.1 of up to 1,000 messages, as Turnkey packs them."""
    body = "".join(messages)
    return (
        f'{_DECLARATION}<InvoiceEnvelope xmlns="urn:GEINV:InvoiceEnvelope:4.1">'
        "<From><PartyId>BAN</PartyId></From><FromVAC><RoutingId>BAN</RoutingId></FromVAC>"
        "<To><PartyId>EINVOICE</PartyId></To><ToVAC><RoutingId>EINVOICE</RoutingId></ToVAC>"
        f"<InvoicePack>{body}</InvoicePack></InvoiceEnvelope>\n"
    ).encode()


def turnkey_files(rows: Iterable[tuple[str, str, str, str]]) -> dict[str, bytes]:
    """A Turnkey data folder's sent files (UpCast/B2SSTORAGE/<MIG>/BAK/yyyyMMdd/HH/…) for
    canonical rows (invoice_number, YYYY-MM-DD, seller_ban, status): an issued row is an F0401;
    a cancelled one an F0401 and its F0501; a voided one an F0401 and its F0701. Relative path →
    bytes."""
    files: dict[str, bytes] = {}
    seen: dict[str, int] = {}
    for number, day, seller, status in rows:
        date = dt.date.fromisoformat(day).strftime("%Y%m%d")
        n = seen[number] = seen.get(number, 0) + 1
        time = f"{9 + n:02d}:00:00"  # a re-issued number: another message
        name = f"{number}-{n}.xml"
        files[f"UpCast/B2SSTORAGE/F0401/BAK/{date}/10/{name}"] = document(
            issue(number, date, seller, time))
        if status == "cancelled":
            files[f"UpCast/B2SSTORAGE/F0501/BAK/{date}/18/{name}"] = document(
                cancel(number, date, seller))
        elif status == "voided":
            files[f"UpCast/B2SSTORAGE/F0701/BAK/{date}/18/{name}"] = document(
                void(number, date, seller))
    return dict(sorted(files.items()))
