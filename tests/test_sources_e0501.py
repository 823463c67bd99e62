"""--allocations reads E0501 (issue 15): 4.0, 3.1, 3.2; bare, in an envelope, or a folder;
InvoiceBooklet checked against begin and end; unofficial namespaces read with a warning."""

from __future__ import annotations

import pytest
from mig_factory import e0501_xml, envelope_xml, message_xml
from sources_period import ALLOCATIONS, HEAD, PERIOD, REPORT_DATE, blanks, codes, write_canonical

from blanktrack.errors import InputError
from blanktrack.reconcile import reconcile

ROWS = [(HEAD, "07", "10312", "AB", "00000000", "00000049"),
        (HEAD, "07", "10312", "AB", "00000050", "00000099"),
        ("04595257", "07", "10312", "CD", "00000100", "00000149")]


def _canonical_allocations(tmp_path):
    path = tmp_path / "alloc.csv"
    # the branch's head office is not in an E0501: compare with the branch reporting for itself
    path.write_text(ALLOCATIONS.replace(f",{HEAD},,\n", ",,,\n"), encoding="utf-8")
    return path


@pytest.mark.parametrize("version", ["4.0", "3.1", "3.2"])
def test_bare_e0501_files_read_as_the_allocation_table(tmp_path, version):
    files = []
    for i, row in enumerate(ROWS):
        files.append(tmp_path / f"e{i}.xml")
        files[-1].write_bytes(e0501_xml(*row, version=version))
    invoices = write_canonical(tmp_path / "i.csv", [("AB00000003", "2014-11-02", HEAD, "issued")])
    from_xml = reconcile(PERIOD, files, [invoices], report_date=REPORT_DATE)
    from_table = reconcile(PERIOD, [_canonical_allocations(tmp_path)], [invoices],
                           report_date=REPORT_DATE)
    assert blanks(from_xml) == blanks(from_table)
    assert from_xml.allocations.height == 3
    assert from_xml.input_kinds[0].kinds == {f"E0501 {version}": 1}
    assert "unofficial-namespace" not in codes(from_xml)


def test_e0501_in_an_envelope_and_in_a_turnkey_folder(tmp_path):
    folder = tmp_path / "Unpack" / "BAK" / "E0501" / "20141101"
    folder.mkdir(parents=True)
    (folder / "pack.xml").write_bytes(envelope_xml([e0501_xml(*r) for r in ROWS[:2]], "4.0"))
    (folder / "one.xml").write_bytes(e0501_xml(*ROWS[2]))
    (folder / "other.xml").write_bytes(message_xml("F0401", "4.1", "AB00000001", "20141101", HEAD))
    result = reconcile(PERIOD, [tmp_path / "Unpack"], [], report_date=REPORT_DATE)
    assert result.allocations.height == 3
    found = result.input_kinds[0]
    assert (found.files_read, found.passed_over, found.kinds["E0501 4.0"]) == (2, 1, 3)
    assert result.rows_by_source[str(tmp_path / "Unpack")] == 3


def test_booklet_count_that_does_not_match_begin_and_end_is_refused(tmp_path):
    path = tmp_path / "e.xml"
    path.write_bytes(e0501_xml(*ROWS[0], booklets=2))
    with pytest.raises(InputError) as err:
        reconcile(PERIOD, [path], [], report_date=REPORT_DATE)
    problem = err.value.problems[0]
    assert (problem.file, problem.line, problem.field) == (str(path), 2, "InvoiceBooklet")
    assert "InvoiceBooklet '2' does not match 00000000–00000049 (50 numbers = 1 booklets" in (
        problem.message)


@pytest.mark.parametrize("namespace", ["urn:GEINV:E0501:4.1", "urn:GEINV:eInvoiceMessage:E0501:3.1"])
def test_unofficial_namespaces_are_read_with_a_warning(tmp_path, namespace):
    path = tmp_path / "e.xml"
    path.write_bytes(e0501_xml(*ROWS[0], namespace=namespace))
    result = reconcile(PERIOD, [path], [], report_date=REPORT_DATE)
    assert result.allocations.height == 1
    warning = result.findings.filter(result.findings["code"] == "unofficial-namespace")
    assert warning["severity"].to_list() == ["warning"]
    assert namespace in warning["message"][0]


def test_a_bad_value_in_an_e0501_is_named_with_file_line_and_field(tmp_path):
    path = tmp_path / "e.xml"
    path.write_bytes(e0501_xml(*ROWS[0]).replace(HEAD.encode(), b"53567687"))
    with pytest.raises(InputError) as err:
        reconcile(PERIOD, [path], [], report_date=REPORT_DATE)
    problem = err.value.problems[0]
    assert (problem.file, problem.line, problem.field) == (str(path), 2, "ban")


# --------------------------------------------------------------- check --allocations FOLDER


def test_allocation_files_of_a_folder_are_its_e0501_and_tables(tmp_path):
    from blanktrack.allocations import load_allocations
    from blanktrack.sources.resolve import allocation_files

    folder = tmp_path / "Unpack" / "BAK" / "E0501"
    folder.mkdir(parents=True)
    (folder / "pack.xml").write_bytes(envelope_xml([e0501_xml(*r) for r in ROWS[:2]], "4.0"))
    (folder / "other.xml").write_bytes(message_xml("F0401", "4.1", "AB00000001", "20141101", HEAD))
    table = _canonical_allocations(tmp_path)
    found = allocation_files([tmp_path / "Unpack", table])
    assert found == [folder / "pack.xml", table]
    assert load_allocations(found[:1]).height == 2


def test_check_takes_a_folder_of_allocations(tmp_path, capsys):
    import shutil

    from corpus.checks import SAMPLE

    from blanktrack.cli import main

    out = tmp_path / "out"
    assert main(["reconcile", "--period", "10312", "--report-date", "2015-01-08",
                 "--allocations", str(SAMPLE / "allocations.csv"),
                 "--invoices", *map(str, sorted(SAMPLE.glob("invoices_*.csv"))),
                 "--out-dir", str(out)]) == 0
    folder = tmp_path / "allocations"
    folder.mkdir()
    shutil.copy(SAMPLE / "allocations.csv", folder / "allocations.csv")
    capsys.readouterr()
    e0402 = out / "10312" / "53567686" / "e0402"
    assert main(["check", str(e0402), "--allocations", str(folder)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 5 and all(line.endswith(": ok") for line in lines)
    empty = tmp_path / "nothing"
    empty.mkdir()
    (empty / "notes.txt").write_text("not an allocation\n", encoding="utf-8")
    assert main(["check", str(e0402), "--allocations", str(empty)]) != 0
    assert "the folder holds no allocation file" in capsys.readouterr().err
