"""Which set folders get their workbook `{BAN}_{period}.xlsx` (issue #14): `--workbooks auto`
(the default: only when the run has at most N sets), `always`, `never`; params `workbooks:`.
A run that auto left without workbooks says so in one line; a workbook not written is not in the
set's ledger. And the sets of a run of many reporting BANs: each its own findings and summary
(findings of no BAN of the run in every set), byte-identical from run to run."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest
from corpus.checks import check_ledgers, check_outputs, exports_of
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from blanktrack import set_workbooks
from blanktrack.cli import main
from blanktrack.demo import generate_period
from blanktrack.errors import InputError
from blanktrack.exports import table_csv, write_exports
from blanktrack.params import load_params
from blanktrack.reconcile import Reconciliation, reconcile

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "blanktrack" / "sample" / "10312"
ALLOCATIONS = SAMPLE / "allocations.csv"  # one set: 53567686 reports for its branch
DOWNLOAD = SAMPLE / "invnoapply_10312.csv"  # two sets: 04595257 and 53567686
INVOICES = [str(p) for p in sorted(SAMPLE.glob("invoices_*.csv"))]
LEDGER = ".blanktrack-set.json"
SETS = ("04595257", "53567686")


def reconcile_cli(out: Path, *extra: str, allocations: Path = DOWNLOAD) -> int:
    return main(["reconcile", "--period", "10312", "--allocations", str(allocations),
                 "--invoices", *INVOICES, "--out-dir", str(out), "--report-date", "2015-01-08",
                 *extra])


def workbooks(out: Path) -> list[str]:
    return sorted(p.relative_to(out).as_posix() for p in out.rglob("*.xlsx"))


def ledgered(out: Path) -> list[str]:
    """Every file the sets' ledgers list, relative to out."""
    return sorted(f"{folder.parent.name}/{folder.name}/{rel}"
                  for folder in (out / "10312").iterdir()
                  for rel in json.loads((folder / LEDGER).read_bytes())["files"])


def test_a_one_ban_period_gets_its_workbook(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert reconcile_cli(tmp_path, allocations=ALLOCATIONS) == 0
    assert workbooks(tmp_path) == ["10312/53567686/53567686_10312.xlsx"]
    assert "10312/53567686/53567686_10312.xlsx" in ledgered(tmp_path)
    assert "workbooks not written" not in capsys.readouterr().out


@pytest.mark.parametrize(("most", "written"), [(2, True), (1, False)])
def test_auto_writes_workbooks_up_to_n_sets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str], most: int,
                                            written: bool) -> None:
    """Two sets: written when N = 2 (N sets), left out when N = 1 (N + 1 sets), and then the
    run says so in one line, just before the verdict."""
    monkeypatch.setattr(set_workbooks, "AUTO_WORKBOOK_SETS", most)
    assert reconcile_cli(tmp_path) == 0
    lines = capsys.readouterr().out.splitlines()
    expected = ["10312/04595257/04595257_10312.xlsx", "10312/53567686/53567686_10312.xlsx"]
    assert workbooks(tmp_path) == (expected if written else [])
    assert [name in ledgered(tmp_path) for name in expected] == [written, written]
    note = "  workbooks not written for 2 sets (more than 1): pass --workbooks always"
    if written:
        assert not [line for line in lines if "workbooks not written" in line]
    else:
        assert lines[-3:-2] == [note]
        assert lines[-2].startswith("verdict 10312")
    check_ledgers(tmp_path)
    check_outputs(tmp_path, [DOWNLOAD])


@pytest.mark.parametrize("option", ["always", "never"])
def test_always_and_never_whatever_the_number_of_sets(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        option: str) -> None:
    monkeypatch.setattr(set_workbooks, "AUTO_WORKBOOK_SETS", 1 if option == "always" else 2)
    assert reconcile_cli(tmp_path, "--workbooks", option) == 0
    expected = ["10312/04595257/04595257_10312.xlsx", "10312/53567686/53567686_10312.xlsx"]
    assert workbooks(tmp_path) == (expected if option == "always" else [])
    assert [n for n in ledgered(tmp_path) if n.endswith(".xlsx")] == workbooks(tmp_path)
    assert "workbooks not written" not in capsys.readouterr().out  # never: as asked, no note
    check_ledgers(tmp_path)


def test_an_unknown_workbooks_value_is_a_usage_error(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        reconcile_cli(tmp_path / "out", "--workbooks", "sometimes")
    assert info.value.code == 2
    assert "invalid choice: 'sometimes'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_run_again_drops_a_workbook_no_longer_written(tmp_path: Path) -> None:
    assert reconcile_cli(tmp_path, "--workbooks", "always") == 0
    assert len(workbooks(tmp_path)) == 2
    assert reconcile_cli(tmp_path, "--workbooks", "never") == 0  # the sets are replaced whole
    assert workbooks(tmp_path) == []
    check_ledgers(tmp_path)


# ------------------------------------------------------------------- parameter files, notebook

GOOD = """\
period: '10312'
ban: '53567686'
allocations: [blanktrack/sample/10312/allocations.csv]
invoices: [blanktrack/sample/10312/invoices_erp.csv]
"""


@pytest.mark.parametrize("value", ["auto", "always", "never"])
def test_params_take_workbooks(tmp_path: Path, value: str) -> None:
    (tmp_path / "p.yaml").write_text(GOOD + f"workbooks: {value}\n")
    params = load_params(tmp_path / "p.yaml", base_dir=ROOT)
    assert params.workbooks == value
    injected = params.notebook_parameters(tmp_path, dt.date(2015, 1, 8))
    # the notebook's own default is auto: only another value is injected
    assert injected.get("workbooks") == (None if value == "auto" else value)


@pytest.mark.parametrize(("line", "message"), [
    ("workbooks: sometimes\n", "p.yaml:5: field 'workbooks': 'sometimes' is not known"),
    ("workbooks: true\n", "p.yaml:5: field 'workbooks': has the wrong type (bool)"),
])
def test_params_refuse_other_workbooks(tmp_path: Path, line: str, message: str) -> None:
    (tmp_path / "p.yaml").write_text(GOOD + line)
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_params(tmp_path / "p.yaml", base_dir=ROOT)


def test_the_notebooks_exports_cell_says_when_auto_left_workbooks_out(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from blanktrack import report

    result = reconcile("10312", [DOWNLOAD], INVOICES, report_date=dt.date(2015, 1, 8))
    monkeypatch.setattr(set_workbooks, "AUTO_WORKBOOK_SETS", 1)
    page = report.exports(result, tmp_path / "auto").data
    assert ("workbooks not written for 2 sets (more than 1): set workbooks: always in the "
            "parameter file") in page
    assert workbooks(tmp_path / "auto") == []
    page = report.exports(result, tmp_path / "always", workbooks="always").data
    assert "workbooks not written" not in page and len(workbooks(tmp_path / "always")) == 2


# ------------------------------------------------------------- a run of many reporting BANs


@pytest.fixture(scope="module")
def many_bans(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """24 reporting BANs (30 BANs, some branches of others): more sets than auto's N."""
    folder = tmp_path_factory.mktemp("many")
    generate_period(folder, period="11302", n_invoices=3000, n_bans=30, tills_per_ban=1,
                    seed=3, skip_rate=0.001, cancel_rate=0.01, void_rate=0.0, fmt="csv")
    return folder


def many_cli(data: Path, out: Path, *extra: str) -> int:
    return main(["reconcile", "--period", "11302", "--allocations",
                 str(data / "allocations.csv"), "--invoices", str(data / "invoices"),
                 "--out-dir", str(out), "--report-date", "2024-03-05", *extra])


def test_many_sets_auto_without_workbooks_byte_identical(
        many_bans: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert many_cli(many_bans, tmp_path / "a") == 0
    out = capsys.readouterr().out
    sets = sorted(p.name for p in (tmp_path / "a" / "11302").iterdir())
    assert len(sets) == 24
    assert "  workbooks not written for 24 sets (more than 20): pass --workbooks always" in out
    assert workbooks(tmp_path / "a") == []
    check_outputs(tmp_path / "a", [many_bans / "allocations.csv"])
    assert many_cli(many_bans, tmp_path / "b") == 0
    assert exports_of(tmp_path / "a") == exports_of(tmp_path / "b")
    assert many_cli(many_bans, tmp_path / "c", "--workbooks", "always") == 0
    assert len(workbooks(tmp_path / "c")) == 24
    check_ledgers(tmp_path / "c")
    without = {k: v for k, v in exports_of(tmp_path / "c").items() if not k.endswith(".xlsx")}
    assert without == exports_of(tmp_path / "a")  # the workbooks change nothing else


def test_a_period_run_of_many_sets_says_the_workbooks_were_left_out(
        many_bans: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    params = tmp_path / "many.yaml"
    params.write_text(f"period: '11302'\nallocations: [{many_bans / 'allocations.csv'}]\n"
                      f"invoices: [{many_bans / 'invoices'}]\nreport_date: 2024-03-05\n")
    assert main(["run", "--params", str(params), "--archive", str(tmp_path / "arch")]) == 0
    lines = capsys.readouterr().out.splitlines()
    note = ("workbooks not written for 24 sets (more than 20): set workbooks: always in the "
            "parameter file")
    assert lines[1] == note and lines[2].startswith("verdict 11302")
    (run_dir,) = (tmp_path / "arch" / "11302").iterdir()
    assert not list(run_dir.rglob("*.xlsx"))
    assert note in (run_dir / "reconcile.html").read_text(encoding="utf-8")


# ------------------------------------------------- each set its findings, cut from one table


def sample_two_sets() -> Reconciliation:
    return reconcile("10312", [DOWNLOAD], INVOICES, report_date=dt.date(2015, 1, 8))


TWO_SETS = sample_two_sets()
TRICKY = st.sampled_from(["a", "=1+1", "line\nbreak", "cr\rhere", 'say "x", then', "空白 跳號",
                          "", "-2", "@sum", "\ttab"])
FINDING = st.fixed_dictionaries({
    "ban": st.sampled_from([None, "04595257", "53567686", "10458575"]),  # 10458575 owns nothing
    "message": TRICKY, "track": st.sampled_from([None, "LQ", "MB"]),
})


def model_findings(result: Reconciliation, ban: str) -> pl.DataFrame:
    """A set's findings as spec'd: those of its BANs, and those of no BAN of the run."""
    owners = result.allocations.select("ban", "head_ban").unique()
    ours = owners.filter(pl.col("head_ban") == ban).get_column("ban").to_list()
    every = owners.get_column("ban").to_list()
    return result.findings.filter(pl.col("ban").is_in(ours) | ~pl.col("ban").is_in(every)
                                  | pl.col("ban").is_null())


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(FINDING, max_size=12))
@example(rows=[])  # no finding: a header only in every set
@example(rows=[{"ban": "53567686", "message": "line\nbreak", "track": "MB"}])  # a line break
@example(rows=[{"ban": None, "message": "=1+1", "track": None}])  # no BAN: in both sets
def test_each_set_gets_exactly_its_findings(tmp_path_factory: pytest.TempPathFactory,
                                            rows: list[dict[str, str | None]]) -> None:
    findings = pl.DataFrame(
        [{"severity": "warning", "code": "skipped-numbers", "period": "10312",
          "invoice_type": "07", "begin_no": None, "end_no": None, "machine": None, **r}
         for r in rows],
        schema=TWO_SETS.findings.schema)
    result = dataclasses.replace(TWO_SETS, findings=findings)
    out = tmp_path_factory.mktemp("out")
    write_exports(result, out, workbooks="never")
    for ban in SETS:
        assert (out / "10312" / ban / "findings.csv").read_bytes() == table_csv(
            model_findings(result, ban)), ban
        assert (out / "10312" / ban / "summary.csv").read_bytes() == table_csv(
            result.summary.filter(pl.col("head_ban") == ban)), ban
    check_ledgers(out)
