"""A folder of invoice tables (Parquet or CSV, as users give a day's files) costs what the same
files given one by one cost: the files' heads are looked at in this process, and the MIG XML
reader (its batches, its pool of workers) is not started for a folder without XML. A folder
mixing XML and tables is read as before."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from mig_factory import message_xml
from sources_period import BRANCH, CANONICAL_HEADER, HEAD, blanks, run, write_allocations

from blanktrack.reconcile import Reconciliation
from blanktrack.sources import turnkey

# (invoice_number, invoice_date, seller_ban, status, machine) per daily file
DAYS = [
    [("AB00000000", "2014-11-03", HEAD, "issued", "POS-1"),
     ("AB00000001", "2014-11-03", HEAD, "issued", "POS-1"),
     ("AB00000003", "2014-11-03", HEAD, "cancelled", "POS-1")],
    [("AB00000004", "2014-11-04", HEAD, "issued", "POS-1"),
     ("CD00000100", "2014-11-04", BRANCH, "issued", "POS-2")],
    [("AB00000050", "2014-12-01", HEAD, "issued", "POS-3"),
     ("CD00000101", "2014-12-01", BRANCH, "voided", "POS-2"),
     ("CD00000104", "2014-12-01", BRANCH, "issued", "POS-2")],
]


def _day_files(folder: Path, fmt: str) -> list[Path]:
    folder.mkdir(parents=True)
    paths = []
    for n, rows in enumerate(DAYS):
        path = folder / f"day-{n}.{fmt}"
        if fmt == "parquet":
            pl.DataFrame(rows, schema=["invoice_number", "invoice_date", "seller_ban", "status",
                                       "machine"], orient="row").write_parquet(path)
        else:
            path.write_text(CANONICAL_HEADER + "".join(f"{','.join(r)},\n" for r in rows),
                            encoding="utf-8")
        paths.append(path)
    return paths


@pytest.fixture
def no_xml_reader(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What the MIG XML reader was asked to do: batches made, pools started. Its pool is
    chosen for any folder of more than one byte (as a folder of large tables would be)."""
    asked: list[str] = []
    batches, in_workers = turnkey._batches, turnkey._in_workers

    def counted_batches(found):
        asked.append("batches")
        return batches(found)

    def counted_pool(batches, workers, take):
        asked.append("pool")
        return in_workers(batches, workers, take)

    monkeypatch.setattr(turnkey, "_batches", counted_batches)
    monkeypatch.setattr(turnkey, "_in_workers", counted_pool)
    monkeypatch.setattr(turnkey, "POOL_MIN_BYTES", 1)
    return asked


def _same_report(a: Reconciliation, b: Reconciliation) -> None:
    assert blanks(a) == blanks(b)
    for frame in ("blank_ranges", "skipped", "findings", "summary", "issuing"):
        assert getattr(a, frame).equals(getattr(b, frame)), frame
    # the booklets come in no particular order
    assert a.booklets.sort(pl.all()).equals(b.booklets.sort(pl.all()))
    assert sum(k.rows for k in a.input_kinds if k.role == "invoices") == 8
    assert sum(k.rows for k in b.input_kinds if k.role == "invoices") == 8


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_a_folder_of_tables_starts_no_xml_reader_and_reports_as_its_files(
        tmp_path, no_xml_reader, fmt):
    alloc = write_allocations(tmp_path)
    files = _day_files(tmp_path / "days", fmt)
    one_by_one = run(alloc, files)
    as_folder = run(alloc, [tmp_path / "days"])
    assert no_xml_reader == []
    _same_report(as_folder, one_by_one)
    folder = as_folder.input_kinds[-1]
    assert (folder.files_read, folder.passed_over, folder.unknown) == (3, 0, [])
    assert dict(folder.kinds) == {"canonical table": 3}
    assert folder.bytes == sum(f.stat().st_size for f in files)


def test_a_folder_without_xml_gives_what_the_xml_reader_gives(tmp_path, no_xml_reader):
    # the same XmlRead as the batches read it: every file not XML, in the walk's order
    _day_files(tmp_path / "days" / "b", "parquet")
    _day_files(tmp_path / "days" / "a", "csv")
    (tmp_path / "days" / "notes.txt").write_text("  plain words, not XML\n", encoding="utf-8")
    (tmp_path / "days" / "empty").write_bytes(b"")
    looked = turnkey.read_folder(str(tmp_path / "days"), "test")
    assert no_xml_reader == []
    read = turnkey._read(turnkey.runs(str(tmp_path / "days")), 8, "test", None, None)
    assert no_xml_reader == ["batches", "pool"]  # the XML reader, as before
    assert looked.not_xml == read.not_xml
    assert [Path(p).name for p in looked.not_xml] == [
        "day-0.csv", "day-1.csv", "day-2.csv", "day-0.parquet", "day-1.parquet",
        "day-2.parquet", "empty", "notes.txt"]
    assert (looked.files, looked.bytes, looked.kinds, looked.issues_once) == (
        read.files, read.bytes, read.kinds, read.issues_once)
    assert looked.messages.collect().equals(read.messages.collect())


def test_an_empty_folder_is_still_refused(tmp_path, no_xml_reader):
    (tmp_path / "days").mkdir()
    read = turnkey.read_folder(str(tmp_path / "days"), "test")
    assert (read.files, read.not_xml) == (0, [])
    assert no_xml_reader == []


@pytest.mark.parametrize("xml_first", [True, False])
def test_a_folder_mixing_xml_and_tables_is_read_as_before(tmp_path, no_xml_reader, xml_first):
    alloc = write_allocations(tmp_path)
    files = _day_files(tmp_path / "days", "parquet")
    xml = tmp_path / "days" / ("0-pos.xml" if xml_first else "z-pos.xml")
    xml.write_bytes(message_xml("F0401", "4.1", "AB00000060", "20141205", HEAD))
    one_by_one = run(alloc, [*files, xml])
    as_folder = run(alloc, [tmp_path / "days"])
    assert "pool" in no_xml_reader  # the XML reader, pool and all, as for any folder
    assert blanks(as_folder) == blanks(one_by_one)
    assert as_folder.findings.equals(one_by_one.findings)
    folder = as_folder.input_kinds[-1]
    assert folder.rows == 8 + 1
    assert dict(folder.kinds) == {"canonical table": 3, "F0401 4.1": 1}
