"""Reading MIG XML fast (issue 15, speed): a batch of bare messages parsed as one document
gives exactly what each file parsed on its own gives, and whatever a lone file is refused for
is refused the same, naming the file and line; a folder is walked as it is read, in a stable
order; the same message twice counts once by its digest; the workers' errors name the file and
line."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from mig_factory import envelope_xml, message_xml
from sources_period import HEAD, blanks, run, write_allocations

from blanktrack.errors import InputError
from blanktrack.sources import turnkey, xml_batch
from blanktrack.sources.mig_xml import read_document
from blanktrack.sources.safe_xml import parse_bytes

ISSUE = message_xml("F0401", "4.1", "AB00000001", "20141105", HEAD)
CANCEL = message_xml("F0501", "4.1", "AB00000002", "20141106", HEAD)
OLD = message_xml("C0401", "3.2", "AB00000003", "20141107", HEAD)
PACK = envelope_xml([message_xml("F0401", "4.1", f"AB{n:08d}", "20141108", HEAD)
                     for n in (4, 5)])
BODY = ISSUE.split(b"\n", 1)[1]  # without the XML declaration

# Each shape a file may have: those a lone parse reads, and those it refuses.
SHAPES: dict[str, bytes] = {
    "issue": ISSUE,
    "cancel": CANCEL,
    "version 3.2": OLD,
    "envelope": PACK,
    "envelope late": b"<!-- " + b"x" * 5000 + b" -->\n" + PACK.split(b"\n", 1)[1],
    "no declaration": BODY,
    "byte-order mark": b"\xef\xbb\xbf" + ISSUE,
    "CRLF": ISSUE.replace(b"\n", b"\r\n"),
    "single quotes": b"<?xml version='1.0' encoding='utf-8'?>\n" + BODY,
    "Big5 declared": b'<?xml version="1.0" encoding="Big5"?>\n' + BODY.replace(
        "賣方 &amp; Co".encode(), b"Co").replace("品項".encode(), b"x").replace(
        "買方".encode(), b"y"),
    "comment first": b"<!-- sent by POS-3 -->\n" + BODY,
    "lines inside": ISSUE.replace(b"<Main>", b"\n\n<Main>\n").replace(b"</InvoiceNumber>",
                                                                     b"</InvoiceNumber>\n"),
    "spaces around": ISSUE.replace(b">AB00000001<", b">  AB00000001\n<"),
    "trailing lines": ISSUE + b"\n\n  \n",
    "foreign XML": b"<note>not a MIG message</note>",
    "E0402": b'<BranchTrackBlank xmlns="urn:GEINV:eInvoiceMessage:E0402:4.1"><Main/>'
             b"</BranchTrackBlank>",
    "text": b"invoice_number,invoice_date\n",
    # refused alone, so refused in a batch
    "two roots": ISSUE + BODY,
    "text after": ISSUE + b"trailing words",
    "open only": ISSUE.split(b"</Invoice>")[0],
    "close only": b"</Details></Invoice>",
    "declaration late": b"\n" + ISSUE,
    "DOCTYPE": b'<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY e "AB00000001">]>\n'
               + BODY.replace(b">AB00000001<", b">&e;<"),
    "undefined entity": ISSUE.replace(b">AB00000001<", b">&e;<"),
    "missing field": ISSUE.replace(b"<InvoiceDate>20141105</InvoiceDate>", b""),
    "blank field": ISSUE.replace(b">20141105<", b">  <"),
    "two numbers": ISSUE.replace(b"</InvoiceNumber>", b"</InvoiceNumber>"
                                 b"<InvoiceNumber>AB00000009</InvoiceNumber>"),
    "no version": ISSUE.replace(b"F0401:4.1", b"F0401:3.1"),
    "wrong root": ISSUE.replace(b"<Invoice ", b"<Invoices ").replace(b"</Invoice>",
                                                                     b"</Invoices>"),
    "pi inside": ISSUE.replace(b"<Main>", b"<Main><?blanktrack-file 0?>"),
    "marker text": BODY.replace(b"<Main>", b"<!-- <?blanktrack-file 1?> --><Main>"),
}


def careful(paths: list[str]) -> tuple[list[tuple], list[int], dict, object]:
    """The model: each file parsed on its own (records with their file, files of no MIG
    message, kinds, the first problem)."""
    records: list[tuple] = []
    not_xml: list[int] = []
    kinds: dict = {}
    for i, path in enumerate(paths):
        data = Path(path).read_bytes()
        if not data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
            not_xml.append(i)
            continue
        try:
            found, rows = read_document(parse_bytes(data, path), path, data)
        except InputError as exc:
            return records, not_xml, kinds, exc.problems[0]
        if not found[0][0].known:
            not_xml.append(i)
            continue
        for kind, n in found:
            kinds[kind] = kinds.get(kind, 0) + n
        records.extend((*row, i) for row in rows)
    return records, not_xml, kinds, None


def as_read(batch: xml_batch.Batch) -> tuple[list[tuple], list[int], dict, object]:
    records = list(zip(batch.action, batch.invoice_number, batch.invoice_date,
                       batch.seller_ban, batch.line, batch.digest, batch.file, strict=True))
    return records, batch.not_xml, dict(batch.kinds), batch.problem


def _files(folder: Path, shapes: list[str]) -> list[str]:
    paths = []
    for i, shape in enumerate(shapes):
        path = folder / f"{i:03d}.xml"
        path.write_bytes(SHAPES[shape])
        paths.append(str(path))
    return paths


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(sorted(SHAPES)), min_size=1, max_size=8))
@example(["issue", "no declaration", "CRLF", "spaces around", "lines inside"])
@example(["issue", "open only", "close only"])  # an element across two files
@example(["issue", "two roots"])
@example(["issue", "envelope", "DOCTYPE"])
@example(["issue", "envelope late"])  # an envelope whose name is not in its first bytes
@example(["cancel", "version 3.2", "issue", "E0402", "foreign XML", "text"])
@example(["issue", "missing field"])
@example(["issue", "blank field"])
@example(["issue", "two numbers"])
@example(["issue", "pi inside", "marker text"])
@example(["Big5 declared", "issue"])
@example(["foreign XML", "two numbers"])  # a file set aside, then the careful way: listed once
def test_a_batch_reads_as_each_file_alone(shapes):
    with tempfile.TemporaryDirectory() as folder:
        paths = _files(Path(folder), shapes)
        records, not_xml, kinds, problem = careful(paths)
        got = as_read(xml_batch.read_batch(paths))
    if problem is not None:
        assert got[3] == problem
    else:
        assert got == (records, not_xml, kinds, None)


def test_a_malformed_file_among_good_ones_is_named_with_its_own_line(tmp_path):
    paths = _files(tmp_path, ["issue", "issue", "text after", "issue"])
    problem = xml_batch.read_batch(paths).problem
    assert problem is not None
    assert (problem.file, problem.line) == (paths[2], 2)
    assert problem.message.startswith("malformed XML:")


def test_a_doctype_among_good_ones_is_refused(tmp_path):
    paths = _files(tmp_path, ["issue", "DOCTYPE"])
    problem = xml_batch.read_batch(paths).problem
    assert problem is not None
    assert (problem.file, problem.line) == (paths[1], 2)
    assert "declares a DOCTYPE" in problem.message


def test_lines_are_each_files_own(tmp_path):
    paths = _files(tmp_path, ["lines inside", "CRLF", "comment first"])
    batch = xml_batch.read_batch(paths)
    # the InvoiceNumber element's line in each file: after two empty lines and <Main>
    assert batch.line == [5, 2, 2]
    assert batch.invoice_number == ["AB00000001"] * 3


def _tree(root: Path, names: list[str]) -> None:
    """An issue of its own number in each file named."""
    for n, name in enumerate(names):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(ISSUE.replace(b"AB00000001", f"AB{n + 10:08d}".encode()))


def test_the_walk_is_streamed_in_name_order(tmp_path):
    names = ["b/2.xml", "a/ERR/9.xml", "a/1.xml", "a-b/0.xml", ".hidden.xml", "c.xml",
             "a/ERR/10.xml", "b/1/0.xml"]
    _tree(tmp_path / "one", names)
    _tree(tmp_path / "two", list(reversed(names)))  # made in another order
    expected = [".hidden.xml", "a/1.xml", "a/ERR/10.xml", "a/ERR/9.xml", "a-b/0.xml",
                "b/1/0.xml", "b/2.xml", "c.xml"]
    for folder in (tmp_path / "one", tmp_path / "two"):
        walked = turnkey.walk(str(folder))
        assert iter(walked) is walked  # a generator: no list of every path
        assert [os.path.relpath(p, folder) for p in walked] == expected
        assert turnkey.count_files(str(folder)) == len(names)
    errs = [turnkey.in_err(p, str(tmp_path / "one")) for p in turnkey.walk(str(tmp_path / "one"))]
    assert errs == [False, False, True, True, False, False, False, False]


def test_batches_are_read_as_the_walk_goes(tmp_path, monkeypatch):
    _tree(tmp_path, [f"d{n // 3}/{n}.xml" for n in range(10)])
    walked: set[str] = set()  # (runs calls itself for each folder: a run passes twice)
    seen_at_read: list[int] = []
    runs, read = turnkey.runs, xml_batch.read_packed

    def counting_runs(folder, top=None):
        for found in runs(folder, top):
            walked.update(found.paths)
            yield found

    def counting_read(paths):
        seen_at_read.append(len(walked))
        return read(paths)

    monkeypatch.setattr(turnkey, "runs", counting_runs)
    monkeypatch.setattr(xml_batch, "read_packed", counting_read)  # imported where XML is read
    monkeypatch.setattr(turnkey, "BATCH_FILES", 2)
    result = turnkey.read_folder(str(tmp_path), "test")
    assert result.files == 10
    # each batch is read as soon as the walk has listed its folder (of three files), not
    # after the whole walk
    assert seen_at_read == [3, 6, 6, 9, 10]


def issues_each_once(messages: pl.LazyFrame) -> bool:
    """The rule, plainly: every message an issue, no digest twice."""
    counts = messages.select(messages=pl.len(), distinct=pl.col("digest").n_unique(),
                             others=(pl.col("action") != "issue").sum()).collect().row(0)
    return counts[0] == counts[1] and counts[2] == 0


@pytest.mark.parametrize("spill_rows", [None, 1, 2, 1000])
@pytest.mark.parametrize("copy", [None, "BAK/0/n0.xml", "BAK/2/n5.xml"])
def test_the_digests_are_checked_across_every_spilled_file(tmp_path, monkeypatch, spill_rows,
                                                           copy):
    # each_once is worked out after the read from the spilled files: a copy of a message
    # in the first or the last of them is found, whether kept in memory or spilled
    folder = tmp_path / "turnkey"
    names = [f"BAK/{n % 3}/n{n}.xml" for n in range(7)]
    _tree(folder, names)
    if copy is not None:
        (folder / "ZZ").mkdir()
        (folder / "ZZ" / "copy.xml").write_bytes((folder / copy).read_bytes())
    if spill_rows is not None:
        monkeypatch.setattr(turnkey, "SPILL_ROWS", spill_rows)
        monkeypatch.setattr(turnkey, "BATCH_FILES", 1)
    spill = tmp_path / "spill" if spill_rows is not None else None
    read = turnkey.read_folder(str(folder), "test", spill=spill)
    assert read.messages.collect().height == 7 + (copy is not None)
    assert read.issues_once is (copy is None)
    assert read.issues_once is issues_each_once(read.messages)


def test_the_same_message_twice_counts_once_by_its_digest(tmp_path):
    alloc = write_allocations(tmp_path)
    folder = tmp_path / "turnkey"
    for sub in ("SRC", "BAK/20141105/10"):
        (folder / sub).mkdir(parents=True)
        (folder / sub / "a.xml").write_bytes(ISSUE)
        (folder / sub / "pack.xml").write_bytes(PACK)
    # the same invoice in another message (another time): a second issue, not a copy
    (folder / "SRC" / "again.xml").write_bytes(ISSUE.replace(b"12:00:00", b"12:00:01"))
    read = turnkey.read_folder(str(folder), "test")
    messages = read.messages.collect()
    assert messages.height == 2 * (1 + 2) + 1
    assert messages["digest"].n_unique() == 1 + 2 + 1
    assert read.issues_once is False  # every message an issue: the digests tell
    assert not issues_each_once(read.messages)
    rows = turnkey.fold(read)[0].collect()
    assert sorted(rows["invoice_number"]) == ["AB00000001", "AB00000001", "AB00000004",
                                              "AB00000005"]
    # the copy kept is the first in the walk: BAK before SRC
    assert "/BAK/" in rows.filter(pl.col("invoice_number") == "AB00000004")["source"][0]
    result = run(alloc, [folder])
    assert "duplicate-number" in {r["code"] for r in result.findings.iter_rows(named=True)}


def test_a_folder_of_distinct_issues_folds_as_the_general_way(tmp_path, monkeypatch):
    folder = tmp_path / "turnkey"
    _tree(folder, [f"BAK/{n % 3}/{n}.xml" for n in range(7)] + ["ERR/x.xml"])
    read = turnkey.read_folder(str(folder), "test")
    assert read.issues_once is True and issues_each_once(read.messages)
    streamed = turnkey.fold(read)
    read.issues_once = False  # the general way
    general = turnkey.fold(read)
    order = ["invoice_number", "source"]
    assert streamed[0].collect().sort(order).equals(general[0].collect().sort(order))
    assert streamed[1].equals(general[1])
    assert streamed[0].collect()["upload_status"].to_list().count("failed") == 1


def test_a_cancel_among_the_issues_is_not_the_streamed_case(tmp_path):
    folder = tmp_path / "turnkey"
    _tree(folder, [f"BAK/{n}.xml" for n in range(3)])
    (folder / "BAK" / "x.xml").write_bytes(CANCEL)
    read = turnkey.read_folder(str(folder), "test")
    assert read.issues_once is False  # found as the batches came back
    assert not issues_each_once(read.messages)


def test_a_bad_file_read_by_a_worker_is_named_with_file_and_line(tmp_path, monkeypatch):
    alloc = write_allocations(tmp_path)
    folder = tmp_path / "turnkey"
    _tree(folder, [f"BAK/{n:02d}.xml" for n in range(9)])
    bad = folder / "BAK" / "07.xml"
    bad.write_bytes(ISSUE.replace(b"</Main>", b"</Mian>"))
    monkeypatch.setattr(turnkey, "POOL_MIN_BYTES", 1)
    monkeypatch.setattr(turnkey, "BATCH_FILES", 2)
    with pytest.raises(InputError) as err:
        run(alloc, [folder])
    problem = err.value.problems[0]
    assert (problem.file, problem.line) == (str(bad), 2)
    assert problem.message.startswith("malformed XML:")
    bad.write_bytes(ISSUE.replace(b"AB00000001", b"AB0000000X"))  # read, then refused by value
    with pytest.raises(InputError) as err:
        run(alloc, [folder])
    problem = err.value.problems[0]
    assert (problem.file, problem.line, problem.field) == (str(bad), 2, "invoice_number")


def test_a_folder_read_by_workers_gives_the_same_report(tmp_path, monkeypatch):
    alloc = write_allocations(tmp_path)
    folder = tmp_path / "turnkey"
    _tree(folder, [f"BAK/{n:02d}.xml" for n in range(9)])
    (folder / "BAK" / "pack.xml").write_bytes(PACK)
    alone = run(alloc, [folder])
    monkeypatch.setattr(turnkey, "POOL_MIN_BYTES", 1)
    monkeypatch.setattr(turnkey, "BATCH_FILES", 3)
    pooled = run(alloc, [folder])
    assert blanks(pooled) == blanks(alone)
    assert pooled.findings.equals(alone.findings)
    assert pooled.input_kinds[-1] == alone.input_kinds[-1]


def test_a_folder_of_few_large_envelopes_is_read_by_the_pool(tmp_path, monkeypatch):
    # The pool is chosen by the bytes to read: a Turnkey folder of envelopes holds few files.
    alloc = write_allocations(tmp_path)
    folder = tmp_path / "turnkey"
    folder.mkdir()
    for n in range(3):
        (folder / f"pack-{n}.xml").write_bytes(PACK.replace(b"AB000000", f"AB0000{n}0".encode()))
    pooled: list[int] = []
    in_workers = turnkey._in_workers

    def counted(batches, workers, take):
        pooled.append(workers)
        return in_workers(batches, workers, take)

    monkeypatch.setattr(turnkey, "_in_workers", counted)
    monkeypatch.setattr(turnkey, "POOL_MIN_BYTES", len(PACK))
    monkeypatch.setattr(turnkey, "BATCH_BYTES", len(PACK))
    result = run(alloc, [folder])
    assert pooled == [2]
    assert result.input_kinds[-1].rows == 3 * 2
    pooled.clear()
    run(alloc, [folder / "pack-0.xml"])  # one file: read here, no pool to start
    assert pooled == []
