"""MIG XML invoices (issue 15): every message kind and version, bare and in an envelope, made in
the test and validated against the MOF's schema first, read through `reconcile` to the same
blanks as the canonical table of the same invoices; Turnkey data folders; safe XML."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from mig_factory import ALL, MESSAGES, envelope_xml, message_xml
from sources_period import (
    HEAD,
    blanks,
    codes,
    finding_messages,
    run,
    write_allocations,
    write_canonical,
)

from blanktrack.cli import main
from blanktrack.errors import InputError

STATUS = {"issue": "issued", "cancel": "cancelled", "void": "voided", "reject": "issued"}


@pytest.mark.parametrize(("message", "version"), ALL)
def test_every_message_kind_and_version_reads_as_the_canonical_row(tmp_path, message, version):
    alloc = write_allocations(tmp_path)
    xml = tmp_path / "message.bin"  # known by content, not by name
    xml.write_bytes(message_xml(message, version, "AB00000007", "20141105", HEAD))
    action = MESSAGES[message][0]
    canonical = write_canonical(tmp_path / "canonical.csv",
                                [("AB00000007", "2014-11-05", HEAD, STATUS[action])])
    from_xml, from_table = run(alloc, [xml]), run(alloc, [canonical])
    assert blanks(from_xml) == blanks(from_table)
    assert (HEAD, "AB", "00000000", "00000006") in blanks(from_xml)
    kinds = from_xml.input_kinds[-1]
    assert dict(kinds.kinds) == {f"{message} {version}": 1}
    assert (kinds.files_read, kinds.rows) == (1, 1)
    assert ("invoice-rejected" in codes(from_xml)) == (action == "reject")
    assert ("void-not-reissued" in codes(from_xml)) == (action == "void")


@pytest.mark.parametrize("version", ["3.1", "3.2", "4.0", "4.1"])
def test_envelope_of_each_version(tmp_path, version):
    alloc = write_allocations(tmp_path)
    kind, mv = ("F0401", "4.1") if version.startswith("4") else ("C0401", "3.2")
    messages = [message_xml(kind, mv, f"AB{n:08d}", "20141110", HEAD) for n in range(0, 40)]
    (tmp_path / "pack.xml").write_bytes(envelope_xml(messages, version))
    result = run(alloc, [tmp_path / "pack.xml"])
    assert (HEAD, "AB", "00000040", "00000099") in blanks(result)
    found = result.input_kinds[-1]
    assert found.kinds[f"InvoiceEnvelope {version}"] == 1
    assert found.kinds[f"{kind} {mv}"] == 40
    assert found.rows == 40


def _turnkey(root: Path) -> Path:
    """A Turnkey data folder: SRC, BAK (dated), ERR; an envelope; a message in SRC and BAK;
    a void and its re-issue; foreign messages; a file of no known kind."""
    up = root / "UpCast" / "B2SSTORAGE" / "F0401"
    for sub in ("SRC", "BAK/20141105/10", "ERR"):
        (up / sub).mkdir(parents=True)
    same = message_xml("F0401", "4.1", "AB00000000", "20141105", HEAD)
    (up / "SRC" / "a.xml").write_bytes(same)
    (up / "BAK/20141105/10" / "a.xml").write_bytes(same)  # the same message: counted once
    pack = [message_xml("F0401", "4.1", f"AB{n:08d}", "20141106", HEAD) for n in range(1, 10)]
    (up / "BAK/20141105/10" / "pack.xml").write_bytes(envelope_xml(pack))
    (up / "ERR" / "refused.xml").write_bytes(
        message_xml("F0401", "4.1", "AB00000010", "20141107", HEAD))
    void_dir = root / "UpCast" / "B2SSTORAGE" / "F0701" / "BAK"
    void_dir.mkdir(parents=True)
    (void_dir / "v.xml").write_bytes(message_xml("F0701", "4.1", "AB00000005", "20141106", HEAD))
    reissue = message_xml("F0401", "4.1", "AB00000005", "20141106", HEAD).replace(
        b"12:00:00", b"15:30:00")  # the corrected invoice, same number
    (up / "SRC" / "reissue.xml").write_bytes(reissue)
    e0402 = root / "UpCast" / "B2PMESSAGE" / "E0402" / "SRC"
    e0402.mkdir(parents=True)
    (e0402 / "blank.xml").write_bytes(
        b'<BranchTrackBlank xmlns="urn:GEINV:eInvoiceMessage:E0402:4.1"><Main/></BranchTrackBlank>')
    unpack = root / "Unpack" / "BAK" / "ProcessResult"
    unpack.mkdir(parents=True)
    (unpack / "r.xml").write_bytes(b'<ProcessResult xmlns="urn:GEINV:ProcessResult:4.0"/>')
    (root / "notes.txt").write_text("turnkey log\n", encoding="utf-8")
    return root


def test_turnkey_folder(tmp_path):
    alloc = write_allocations(tmp_path)
    folder = _turnkey(tmp_path / "turnkey")
    result = run(alloc, [folder])
    canonical = write_canonical(
        tmp_path / "c.csv",
        [("AB00000000", "2014-11-05", HEAD, "issued")]
        + [(f"AB{n:08d}", "2014-11-06", HEAD, "issued") for n in range(1, 10)]
        + [("AB00000010", "2014-11-07", HEAD, "issued"), ("AB00000005", "2014-11-06", HEAD, "voided")])
    assert blanks(result) == blanks(run(alloc, [canonical]))
    assert (HEAD, "AB", "00000011", "00000099") in blanks(result)
    found = result.input_kinds[-1]
    assert found.path == str(folder)
    assert found.rows == 12  # 11 issued (one twice, counted once) + 1 voided
    assert found.passed_over == 2  # E0402 and ProcessResult
    assert found.unknown == ["notes.txt"]
    assert found.kinds["F0401 4.1"] == 13 and found.kinds["F0701 4.1"] == 1
    assert codes(result).count("upload-failed") == 1
    assert "AB00000010" in finding_messages(result, "upload-failed")[0]
    assert "refused.xml" in finding_messages(result, "upload-failed")[0]
    assert "duplicate-number" not in codes(result)
    assert "void-not-reissued" not in codes(result)
    assert "notes.txt" in finding_messages(result, "unknown-file")[0]
    assert result.rows_by_source[str(folder)] == 12


def test_turnkey_folder_in_worker_processes_reads_the_same(tmp_path, monkeypatch):
    from blanktrack.sources import turnkey

    alloc = write_allocations(tmp_path)
    folder = _turnkey(tmp_path / "turnkey")
    alone = run(alloc, [folder])
    monkeypatch.setattr(turnkey, "POOL_MIN_BYTES", 1)
    monkeypatch.setattr(turnkey, "BATCH_FILES", 2)
    pooled = run(alloc, [folder])
    assert blanks(pooled) == blanks(alone)
    assert pooled.findings.equals(alone.findings)
    assert pooled.input_kinds[-1] == alone.input_kinds[-1]


def test_each_batch_of_messages_is_written_as_it_comes_back(tmp_path, monkeypatch):
    from blanktrack.sources import turnkey

    folder = _turnkey(tmp_path / "turnkey")
    files = sorted(str(p) for p in folder.rglob("*.xml"))
    in_err = [False] * len(files)
    kept = turnkey.read_files(files, in_err, "test")
    monkeypatch.setattr(turnkey, "BATCH_FILES", 2)
    monkeypatch.setattr(turnkey, "SPILL_ROWS", 1)  # every batch written as it comes back
    written: list[int] = []
    write = pl.DataFrame.write_parquet

    def counted(frame, path, *args, **kw):
        written.append(frame.height)
        return write(frame, path, *args, **kw)

    monkeypatch.setattr(pl.DataFrame, "write_parquet", counted)
    spilled = turnkey.read_files(files, in_err, "test", spill=tmp_path / "spill")
    # written as the batches of two files come back (those without a message join the next)
    assert len(written) == 3 and sum(written) == 14
    assert sorted((tmp_path / "spill").glob("batch-*.parquet"))
    order = ["file", "line", "digest"]
    assert spilled.messages.collect().sort(order).equals(kept.messages.collect().sort(order))
    assert turnkey.fold(spilled)[0].collect().equals(turnkey.fold(kept)[0].collect())


def test_unknown_file_named_on_the_command_line_is_an_error(tmp_path, capsys):
    alloc = write_allocations(tmp_path)
    odd = tmp_path / "notes.txt"
    odd.write_text("hello\n", encoding="utf-8")
    code = main(["reconcile", "--period", "10312", "--allocations", str(alloc),
                 "--invoices", str(odd), "--out-dir", str(tmp_path / "out")])
    assert code == 1
    # named by the canonical reader, with its line, without quoting what is no table
    err = capsys.readouterr().err
    assert f"{odd}:1: " in err and "hello" not in err
    assert not (tmp_path / "out").exists()


def test_an_invoice_of_a_version_that_does_not_exist_is_refused(tmp_path):
    alloc = write_allocations(tmp_path)
    bad = message_xml("F0401", "4.1", "AB00000001", "20141105", HEAD).replace(
        b"F0401:4.1", b"F0401:3.1")
    (tmp_path / "f.xml").write_bytes(bad)
    with pytest.raises(InputError, match=r"F0401 version 3\.1 is not a version of that message"):
        run(alloc, [tmp_path / "f.xml"])


def test_a_bad_value_is_named_with_file_and_element_line(tmp_path):
    alloc = write_allocations(tmp_path)
    xml = message_xml("F0401", "4.1", "AB00000001", "20141105", HEAD).replace(
        HEAD.encode(), b"53567687")  # fails the check digit (the schema does not check it)
    path = tmp_path / "f.xml"
    path.write_bytes(xml.replace(b"<Main>", b"\n<Main>\n"))
    with pytest.raises(InputError) as err:
        run(alloc, [path])
    problem = err.value.problems[0]
    # line 4: the message's InvoiceNumber element, which names the invoice
    assert (problem.file, problem.line, problem.field) == (str(path), 4, "seller_ban")


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<Invoice xmlns="urn:GEINV:eInvoiceMessage:F0401:4.1"><Main>&lol3;</Main></Invoice>"""
EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Invoice xmlns="urn:GEINV:eInvoiceMessage:F0401:4.1"><Main>&xxe;</Main></Invoice>"""


@pytest.mark.parametrize("data", [BILLION_LAUGHS, EXTERNAL], ids=["billion-laughs", "external-entity"])
def test_entities_and_dtds_are_refused(tmp_path, data):
    alloc = write_allocations(tmp_path)
    folder = tmp_path / "tk"
    folder.mkdir()
    (folder / "evil.xml").write_bytes(data)
    with pytest.raises(InputError) as err:
        run(alloc, [folder])
    problem = err.value.problems[0]
    assert problem.file == str(folder / "evil.xml") and problem.line == 2
    assert "declares a DOCTYPE" in problem.message and "no entity is expanded" in problem.message


def test_malformed_xml_is_named_with_file_and_line(tmp_path):
    alloc = write_allocations(tmp_path)
    path = tmp_path / "broken.xml"
    good = message_xml("F0401", "4.1", "AB00000001", "20141105", HEAD)
    path.write_bytes(good.replace(b"</Main>", b"</Mian>"))
    with pytest.raises(InputError) as err:
        run(alloc, [path])
    problem = err.value.problems[0]
    assert problem.file == str(path) and problem.line == 2
    assert problem.message.startswith("malformed XML:")


def test_progress_is_shown_for_a_large_folder(tmp_path, monkeypatch, capsys):
    from blanktrack.sources import turnkey

    alloc = write_allocations(tmp_path)
    folder = _turnkey(tmp_path / "turnkey")
    monkeypatch.setattr(turnkey, "PROGRESS_MIN_FILES", 3)
    monkeypatch.setattr(turnkey, "BATCH_FILES", 2)
    run(alloc, [folder])
    err = capsys.readouterr().err
    # stderr is no terminal here: a line per tenth done, the last one always
    assert err.splitlines() == [f"blanktrack: {folder}: read {n} of 9 files" for n in (2, 4, 6, 8, 9)]


def test_turnkey_folder_through_every_engine_path(tmp_path, monkeypatch):
    """The converted Parquet takes the dense scan, the one-pass path and the validating path
    alike: the same report, and the findings name the original files."""
    from blanktrack.usage import engine

    alloc = write_allocations(tmp_path)
    folder = _turnkey(tmp_path / "turnkey")
    fast = run(alloc, [folder])
    monkeypatch.setattr(engine, "DENSE_MIN_ROWS", 0)
    dense = run(alloc, [folder])
    monkeypatch.setattr(engine, "DENSE_MIN_ROWS", 10**12)
    monkeypatch.setattr(engine, "fast_usage", lambda *a, **k: None)
    slow = run(alloc, [folder])
    for other in (dense, slow):
        assert blanks(other) == blanks(fast)
        assert other.findings.equals(fast.findings)
        assert other.rows_by_source == fast.rows_by_source
    assert "refused.xml" in finding_messages(dense, "upload-failed")[0]


def test_an_envelope_message_without_a_field_is_named(tmp_path):
    alloc = write_allocations(tmp_path)
    messages = [message_xml("F0401", "4.1", f"AB{n:08d}", "20141110", HEAD) for n in range(3)]
    pack = envelope_xml(messages).replace(b"<InvoiceDate>20141110</InvoiceDate>", b"", 1)
    path = tmp_path / "pack.xml"
    path.write_bytes(pack.replace(b"<Invoice ", b"\n<Invoice "))
    with pytest.raises(InputError) as err:
        run(alloc, [path])
    problem = err.value.problems[0]
    assert (problem.file, problem.line, problem.field) == (str(path), 3, "Main/InvoiceDate")
    assert "F0401 4.1 <Invoice> has no Main/InvoiceDate" in problem.message


def test_an_envelope_of_mixed_messages_with_spaces(tmp_path):
    alloc = write_allocations(tmp_path)
    spaced = message_xml("F0401", "4.1", "AB00000002", "20141110", HEAD).replace(
        b">AB00000002<", b"> AB00000002 <")
    messages = [message_xml("F0401", "4.1", "AB00000001", "20141110", HEAD),
                message_xml("F0501", "4.1", "AB00000001", "20141110", HEAD), spaced]
    (tmp_path / "pack.xml").write_bytes(envelope_xml(messages))
    result = run(alloc, [tmp_path / "pack.xml"])
    assert (HEAD, "AB", "00000003", "00000099") in blanks(result)
    assert result.input_kinds[-1].rows == 2  # AB00000001 cancelled, AB00000002 issued
