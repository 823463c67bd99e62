"""Parameter files are checked before a run: names, types, IDs YAML would mangle, paths."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from blanktrack.errors import InputError
from blanktrack.params import load_params

ROOT = Path(__file__).resolve().parents[1]
GOOD = """\
period: '10312'
ban: '53567686'
allocations: [blanktrack/sample/10312/allocations.csv]
invoices: [blanktrack/sample/10312/invoices_erp.csv]
"""


def load(tmp_path: Path, text: str) -> object:
    f = tmp_path / "p.yaml"
    f.write_text(text)
    return load_params(f, base_dir=ROOT)


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(InputError) as info:
        load(tmp_path, text)
    return str(info.value)


def test_good_file_with_defaults(tmp_path: Path) -> None:
    p = load(tmp_path, GOOD + "report_date: 2015-01-08\n")
    assert p.period == "10312" and p.ban == "53567686" and p.split == "none"  # type: ignore[attr-defined]
    assert p.strict is False and p.report_date == dt.date(2015, 1, 8)  # type: ignore[attr-defined]
    assert all(a.is_absolute() for a in p.allocations)  # type: ignore[attr-defined]


def test_shipped_sample_is_valid() -> None:
    assert load_params(ROOT / "params" / "sample.yaml", base_dir=ROOT).period == "10312"


def test_unknown_name(tmp_path: Path) -> None:
    msg = error_of(tmp_path, GOOD + "perod: '11302'\n")
    assert "p.yaml:5: field 'perod': unknown name" in msg


def test_missing_name(tmp_path: Path) -> None:
    msg = error_of(tmp_path, GOOD.replace("period: '10312'\n", ""))
    assert "field 'period': missing" in msg


@pytest.mark.parametrize(("line", "key"), [("strict: 'yes'\n", "strict"),
                                           ("timeout: fast\n", "timeout"),
                                           ("allocations: one.csv\n", "allocations")])
def test_wrong_type(tmp_path: Path, line: str, key: str) -> None:
    text = GOOD if key != "allocations" else GOOD.replace(
        "allocations: [blanktrack/sample/10312/allocations.csv]\n", "")
    msg = error_of(tmp_path, text + line)
    assert f"field '{key}': has the wrong type" in msg


@pytest.mark.parametrize(("raw", "read_as"), [("0012", "10"), ("01234567", "342391"),
                                              ("10312", "10312")])
def test_unquoted_ids_are_refused(tmp_path: Path, raw: str, read_as: str) -> None:
    text = GOOD.replace("ban: '53567686'", f"ban: {raw}") if raw != "10312" else \
        GOOD.replace("period: '10312'", f"period: {raw}")
    msg = error_of(tmp_path, text)
    assert f"{raw} is not quoted, so YAML reads it as {read_as}" in msg
    assert "write it in quotes" in msg


def test_bad_values(tmp_path: Path) -> None:
    msg = error_of(tmp_path, GOOD.replace("'10312'", "'10311'").replace(
        "'53567686'", "'53567687'") + "split: track\n")
    assert "field 'period'" in msg and "even end month" in msg
    assert "field 'ban'" in msg and "not a valid BAN" in msg
    assert "field 'split'" in msg


def test_paths_must_be_regular_files(tmp_path: Path) -> None:
    msg = error_of(tmp_path, GOOD.replace("blanktrack/sample/10312/invoices_erp.csv",
                                          "blanktrack/sample/10312/nope.csv").replace(
        "blanktrack/sample/10312/allocations.csv", "blanktrack/sample"))
    assert "nope.csv does not exist" in msg
    assert "field 'allocations'" not in msg  # a folder is an input now (issue 15)


def test_not_yaml(tmp_path: Path) -> None:
    assert "not readable as YAML" in error_of(tmp_path, "period: [\n")
    assert "must be a mapping" in error_of(tmp_path, "- a\n- b\n")


@pytest.mark.parametrize("notebook", ["/tmp/evil.ipynb", "../evil.ipynb", "notebooks/../x.ipynb",
                                      "blanktrack/sample/10312/allocations.csv"])
def test_a_notebook_outside_the_projects_notebooks_is_refused(tmp_path: Path,
                                                              notebook: str) -> None:
    msg = error_of(tmp_path, GOOD + f"notebook: {notebook}\n")
    assert "p.yaml:5: field 'notebook':" in msg
    assert f"is outside the project's notebooks folder {ROOT / 'notebooks'}" in msg
    assert "give a notebook in notebooks/, e.g. notebooks/reconcile.ipynb" in msg


def test_a_link_in_notebooks_that_leads_out_is_refused(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "notebooks").mkdir(parents=True)
    evil = tmp_path / "evil.ipynb"
    evil.write_text("{}")
    (project / "notebooks" / "linked.ipynb").symlink_to(evil)
    shutil.copytree(ROOT / "blanktrack" / "sample", project / "blanktrack" / "sample")
    f = tmp_path / "p.yaml"
    f.write_text(GOOD + "notebook: notebooks/linked.ipynb\n")
    with pytest.raises(InputError, match="outside the project's notebooks folder"):
        load_params(f, base_dir=project)
    (project / "notebooks" / "own.ipynb").write_text("{}")
    f.write_text(GOOD + "notebook: notebooks/own.ipynb\n")
    assert load_params(f, base_dir=project).notebook == project / "notebooks" / "own.ipynb"


def test_inputs_given_through_a_link_keep_the_path_as_written(tmp_path: Path) -> None:
    link = tmp_path / "alloc.csv"
    link.symlink_to(ROOT / "blanktrack/sample/10312/allocations.csv")
    p = load(tmp_path, GOOD.replace("blanktrack/sample/10312/allocations.csv", str(link)))
    real = str(ROOT / "blanktrack/sample/10312/allocations.csv")
    assert [str(a) for a in p.allocations] == [real]  # type: ignore[attr-defined]
    assert p.given[real] == str(link)  # type: ignore[attr-defined]
