"""Turnkey's answers for the tests: ProcessResult / SummaryResult documents built from the
official 4.0 schemas (../shared/xsd/official/common, used in place) and validated against them."""

from __future__ import annotations

import copy
import functools

import pytest
from corpus.checks import SHARED_XSD
from lxml import etree

OFFICIAL_COMMON = SHARED_XSD.parent / "official" / "common"
XSD = "http://www.w3.org/2001/XMLSchema"
MB_FILE = "53567686_10312_07_MB_001"


@functools.cache
def result_schema(kind: str, *, with_e0402: bool = True) -> etree.XMLSchema:
    """The official 4.0 ProcessResult / SummaryResult schema, GenericResult_4.0 included in place;
    ``with_e0402``: its MessageTypeEnum also lists E0402 (the official one lists no E-series
    message, yet the platform answers E0402 messages, spec §5.5)."""
    if not OFFICIAL_COMMON.is_dir():
        pytest.skip(f"official schemas {OFFICIAL_COMMON} not found")
    schema = etree.parse(str(OFFICIAL_COMMON / "v40" / f"{kind}.xsd")).getroot()
    generic = etree.parse(str(OFFICIAL_COMMON / "GenericResult_4.0.xsd")).getroot()
    if with_e0402:
        enum = generic.find(f"{{{XSD}}}simpleType[@name='MessageTypeEnum']/{{{XSD}}}restriction")
        etree.SubElement(enum, f"{{{XSD}}}enumeration", value="E0402")
    for include in schema.findall(f"{{{XSD}}}include"):
        schema.remove(include)
    for child in generic:
        schema.append(copy.deepcopy(child))
    return etree.XMLSchema(schema)


def routing() -> str:
    return ("<RoutingInfo><From><PartyId>EINVPLATFORM</PartyId></From>"
            "<FromVAC><RoutingId>EINV</RoutingId></FromVAC>"
            "<To><PartyId>53567686</PartyId></To><ToVAC><RoutingId>53567686</RoutingId></ToVAC>"
            "</RoutingInfo>")


def process_result(codes: list[tuple[str, ...]], *, message_id: str = MB_FILE,
                   message_type: str = "E0402", size: str = "512") -> bytes:
    infos = "".join(
        "<Info><Code>{}</Code>{}</Info>".format(
            code[0], "".join(f"<Parameter{i}>{p}</Parameter{i}>" for i, p in enumerate(code[1:])))
        for code in codes)
    data = ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<ProcessResult xmlns="urn:GEINV:ProcessResult:4.0">\n'
            f"{routing()}\n"
            f"<MessageInfo><Id>{message_id}</Id><Size>{size}</Size>"
            f"<MessageType>{message_type}</MessageType><Service>B2P</Service>"
            "<Action>UPLOAD</Action></MessageInfo>\n"
            f"<Result>{infos}</Result>\n</ProcessResult>\n").encode()
    assert result_schema("ProcessResult").validate(etree.fromstring(data).getroottree())
    return data


def summary_result(messages: list[tuple[str, str, int, int]], *, validate: bool = True) -> bytes:
    body = ""
    for message_id, mtype, good, failed in messages:
        body += (f"<Message><Info><Id>{message_id}</Id><Size>100</Size>"
                 f"<MessageType>{mtype}</MessageType><Service>B2P</Service><Action>UPLOAD</Action>"
                 f"</Info><Result><Total><Count>{good + failed}</Count></Total>"
                 f"<Good><Count>{good}</Count></Good><Failed><Count>{failed}</Count></Failed>"
                 "</Result></Message>\n")
    data = ('<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<SummaryResult xmlns="urn:GEINV:SummaryResult:4.0">{routing()}\n'
            f"<DetailList>\n{body}</DetailList></SummaryResult>\n").encode()
    if validate:
        assert result_schema("SummaryResult").validate(etree.fromstring(data).getroottree())
    return data
