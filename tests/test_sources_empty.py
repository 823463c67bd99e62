"""Periods with no invoices and forgotten files (issue 15): a header-only file is no invoices,
--invoices may be left out; no-invoices (warning) per BAN, till and empty input file;
allocation-unused (info) per allocation or till's share with no used number."""

from __future__ import annotations

import polars as pl
from corpus.checks import ROOT, findings_of
from sources_period import BRANCH, CANONICAL_HEADER, HEAD, run, write_allocations, write_canonical

from blanktrack.cli import main
from blanktrack.params import load_params


def _findings(result, code):
    return result.findings.filter(pl.col("code") == code)


def test_header_only_file_is_no_invoices(tmp_path):
    alloc = write_allocations(tmp_path)
    empty = tmp_path / "pos.csv"
    empty.write_text(CANONICAL_HEADER, encoding="utf-8")
    result = run(alloc, [empty])
    assert result.blank_ranges["count"].sum() == 150  # everything allocated is blank
    no = _findings(result, "no-invoices")
    assert no["severity"].unique().to_list() == ["warning"]
    messages = no["message"].to_list()
    assert any(f"Input {empty} holds no invoice row" in m for m in messages)
    assert sorted(no["ban"].drop_nulls().to_list()) == [BRANCH, HEAD]
    unused = _findings(result, "allocation-unused")
    assert unused["severity"].unique().to_list() == ["info"]
    assert unused.height == 3
    assert result.rows_by_source[str(empty)] == 0


def test_invoices_may_be_left_out_on_the_command_line(tmp_path, capsys):
    alloc = write_allocations(tmp_path)
    code = main(["reconcile", "--period", "10312", "--allocations", str(alloc),
                 "--out-dir", str(tmp_path / "out"), "--report-date", "2015-01-08"])
    assert code == 0
    assert "3 allocation(s), 0 invoice row(s), 2 blank range(s) / 150 blank number(s)" in (
        capsys.readouterr().out)
    findings = findings_of(tmp_path / "out")
    assert findings.filter(pl.col("code") == "no-invoices").height == 2


def test_a_forgotten_file_is_a_warning(tmp_path):
    """The branch's file left out: its BAN is named, while the head office's is not."""
    alloc = write_allocations(tmp_path)
    head = write_canonical(tmp_path / "head.csv", [("AB00000000", "2014-11-01", HEAD, "issued")])
    result = run(alloc, [head])
    no = _findings(result, "no-invoices")
    assert no["ban"].to_list() == [BRANCH]
    assert "A forgotten invoice file looks exactly like this" in no["message"][0]
    unused = _findings(result, "allocation-unused")
    assert sorted(unused["begin_no"].to_list()) == ["00000050", "00000100"]


def test_a_till_named_in_the_allocations_without_invoices(tmp_path):
    alloc = tmp_path / "alloc.csv"
    alloc.write_text(
        "ban,invoice_type,period,track,begin_no,end_no,head_ban,machine,reported_by\n"
        f"{HEAD},07,10312,AB,00000000,00000049,,POS-1,\n"
        f"{HEAD},07,10312,AB,00000050,00000099,,POS-2,\n", encoding="utf-8")
    pos1 = tmp_path / "pos1.csv"
    pos1.write_text(CANONICAL_HEADER + f"AB00000000,2014-11-01,{HEAD},issued,POS-1,\n",
                    encoding="utf-8")
    result = run(alloc, [pos1])
    no = _findings(result, "no-invoices")
    assert no["machine"].to_list() == ["POS-2"]
    assert "Till POS-2 of BAN 53567686" in no["message"][0]
    unused = _findings(result, "allocation-unused")
    assert unused["machine"].to_list() == ["POS-2"]


def test_params_without_invoices_and_with_folders(tmp_path):
    folder = tmp_path / "turnkey"
    folder.mkdir()
    alloc = write_allocations(tmp_path)
    path = tmp_path / "p.yaml"
    path.write_text(f"period: '10312'\nallocations: [{alloc}]\n", encoding="utf-8")
    assert load_params(path, base_dir=ROOT).invoices == []
    path.write_text(f"period: '10312'\nallocations: [{alloc}]\ninvoices: [{folder}]\n"
                    "columns: {invoice_number: 單據號碼}\n", encoding="utf-8")
    params = load_params(path, base_dir=ROOT)
    assert params.invoices == [folder.resolve()]
    assert params.columns == {"invoice_number": "單據號碼"}
    assert params.notebook_parameters(tmp_path, __import__("datetime").date(2015, 1, 8))[
        "columns"] == {"invoice_number": "單據號碼"}
