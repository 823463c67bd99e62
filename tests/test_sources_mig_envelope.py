"""Reading an envelope fast (issue 15, speed): the fields of all its messages read at once give
exactly what the walk over each message gives, or nothing, so the walk reads (and names what
is wrong); the usual envelope of every message kind is read the fast way; the same envelope
gives the same message identities, and its messages distinct ones."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from mig_factory import ALL, envelope_xml, message_xml
from sources_period import HEAD

from blanktrack.errors import InputError
from blanktrack.sources.mig_xml import envelope_columns, message_identity, read_document
from blanktrack.sources.safe_xml import parse_bytes


def _body(message: bytes) -> bytes:
    return message.split(b"?>", 1)[-1].strip()


def _issue(n: int) -> bytes:
    return _body(message_xml("F0401", "4.1", f"AB{n:08d}", "20141105", HEAD))


def _cancel(n: int) -> bytes:
    return _body(message_xml("F0501", "4.1", f"AB{n:08d}", "20141106", HEAD))


# Each shape a message in a pack may have: valid ones, and ones the schema refuses that the
# walk still reads (it takes a field's last copy, passes over elements elsewhere) or refuses.
SHAPES = {
    "issue": _issue,
    "cancel": _cancel,
    "spaces": lambda n: _issue(n).replace(b"<InvoiceNumber>AB", b"<InvoiceNumber> \n AB"),
    "lines inside": lambda n: _issue(n).replace(b"<Main>", b"\n<Main>\n").replace(
        b"</InvoiceDate>", b"</InvoiceDate>\n"),
    "missing date": lambda n: _issue(n).replace(b"<InvoiceDate>20141105</InvoiceDate>", b""),
    "blank seller": lambda n: _issue(n).replace(f"<Identifier>{HEAD}<".encode(),
                                                b"<Identifier>  <"),
    "two numbers": lambda n: _issue(n).replace(
        b"</InvoiceNumber>", b"</InvoiceNumber><InvoiceNumber>AB99999999</InvoiceNumber>"),
    "number elsewhere": lambda n: _issue(n).replace(
        b"<Details>", b"<Details><InvoiceNumber>AB99999998</InvoiceNumber>"),
    "seller twice": lambda n: _issue(n).replace(
        f"<Identifier>{HEAD}</Identifier>".encode(),
        f"<Identifier>{HEAD}</Identifier><Identifier>04595257</Identifier>".encode()),
    "buyer without id": lambda n: _issue(n).replace(b"<Identifier>0000000000</Identifier>", b""),
    "date first": lambda n: _issue(n).replace(
        b"<InvoiceDate>20141105</InvoiceDate>", b"").replace(
        b"<Main>", b"<Main><InvoiceDate>20141105</InvoiceDate>"),
    "main renamed": lambda n: _issue(n).replace(b"Main>", b"Head>"),
    "nested main": lambda n: _issue(n).replace(
        b"<Details>", f"<Details><Main><InvoiceNumber>AB{n:08d}</InvoiceNumber></Main>".encode()),
    "text in number": lambda n: _issue(n).replace(f">AB{n:08d}<".encode(),
                                                  f">AB<x/>{n:08d}<".encode()),
    "old version": lambda n: _issue(n).replace(b"F0401:4.1", b"F0401:3.1"),
    "foreign": lambda n: b'<Note xmlns="urn:example:note">hello</Note>',
}

ENVELOPE = _body(envelope_xml([message_xml("F0401", "4.1", "AB00000000", "20141105", HEAD)]))
HEAD_XML, TAIL_XML = ENVELOPE.split(b"<InvoicePack>")[0], b"</InvoicePack></InvoiceEnvelope>"


def _pack(messages: list[bytes]) -> bytes:
    """An envelope around `messages` as they are (the schema is not asked)."""
    return (b'<?xml version="1.0" encoding="UTF-8"?>\n' + HEAD_XML + b"<InvoicePack>"
            + b"".join(messages) + TAIL_XML)


def _walked(data: bytes) -> tuple[list, list] | InputError:
    try:
        kinds, records = read_document(parse_bytes(data, "pack.xml"), "pack.xml", data)
    except InputError as exc:
        return exc
    return kinds, [list(column) for column in zip(*records, strict=True)] or [[]] * 6


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(sorted(SHAPES)), min_size=1, max_size=6))
@example(["issue", "issue", "issue"])
@example(["cancel", "cancel"])
@example(["issue", "spaces", "lines inside"])
@example(["issue", "missing date"])
@example(["issue", "blank seller"])
@example(["issue", "two numbers"])
@example(["issue", "number elsewhere"])
@example(["issue", "seller twice"])
@example(["buyer without id", "issue"])
@example(["issue", "date first"])
@example(["issue", "main renamed"])
@example(["nested main", "issue"])
@example(["issue", "text in number"])
@example(["issue", "old version"])
@example(["issue", "cancel"])
@example(["issue", "foreign"])
def test_an_envelope_read_at_once_reads_as_each_message_walked(shapes):
    data = _pack([SHAPES[shape](n) for n, shape in enumerate(shapes)])
    walked = _walked(data)
    fast = envelope_columns(parse_bytes(data, "pack.xml"), "pack.xml", data)
    if isinstance(walked, InputError):
        assert fast is None  # so the walk names the message and its line
        return
    if fast is not None:
        kinds, columns = fast
        assert (dict(kinds), [list(c) for c in columns]) == (dict(walked[0]), walked[1])


@pytest.mark.parametrize(("message", "version"), ALL)
def test_the_usual_envelope_of_every_kind_is_read_at_once(message, version):
    version_of_envelope = "4.1" if version.startswith("4") else "3.2"
    messages = [message_xml(message, version, f"AB{n:08d}", "20141105", HEAD)
                for n in range(3)]
    data = envelope_xml(messages, version_of_envelope)
    fast = envelope_columns(parse_bytes(data, "pack.xml"), "pack.xml", data)
    assert fast is not None
    kinds, columns = fast
    assert [k.label for k, _ in kinds] == [f"InvoiceEnvelope {version_of_envelope}",
                                           f"{message} {version}"]
    action, numbers, dates, sellers, lines, identities = columns
    assert numbers == ["AB00000000", "AB00000001", "AB00000002"]
    assert dates == ["20141105"] * 3 and sellers == [HEAD] * 3 and lines == [2] * 3
    assert len(set(action)) == 1 and len(set(identities)) == 3
    assert (dict(kinds), [list(c) for c in columns]) == (dict(_walked(data)[0]),
                                                         _walked(data)[1])


def test_the_same_envelope_gives_the_same_identities():
    data = _pack([_issue(n) for n in range(4)])
    first = envelope_columns(parse_bytes(data, "a"), "a", data)
    again = envelope_columns(parse_bytes(data, "b"), "b", bytes(data))
    other = _pack([_issue(n) for n in range(1, 5)])
    third = envelope_columns(parse_bytes(other, "c"), "c", other)
    assert first is not None and again is not None and third is not None
    assert first[1][5] == again[1][5]
    assert not set(first[1][5]) & set(third[1][5])
    # positions far apart stay distinct and within Int64
    far = [message_identity(-1, p) for p in (0, 1, 2**24 - 1, 2**24, 2**40)]
    assert len(set(far)) == len(far)
    assert all(-(2**63) <= i < 2**63 for i in far)
