"""`blanktrack lab` works on trusted copies in work/, never on the shipped notebooks."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.sign import NotebookNotary

from blanktrack.errors import InputError
from blanktrack.lab import lab_command, prepare

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "jupyter-data"))
    root = tmp_path / "project"
    shutil.copytree(ROOT / "notebooks", root / "notebooks")
    return root


def test_copies_are_trusted_and_kept(project: Path) -> None:
    copies = prepare(project)
    assert [c.relative_to(project).as_posix() for c in copies] == ["work/explore.ipynb",
                                                                   "work/reconcile.ipynb"]
    for copy in copies:
        assert copy.read_bytes() == (project / "notebooks" / copy.name).read_bytes()
        assert NotebookNotary().check_signature(nbformat.read(copy, as_version=4))
    # someone's exploring survives the next start; --fresh starts over
    copies[0].write_text(copies[0].read_text().replace("Explore a period", "Mine"))
    prepare(project)
    assert "Mine" in copies[0].read_text()
    prepare(project, fresh=True)
    assert "Mine" not in copies[0].read_text()


def test_shipped_notebooks_are_never_written(project: Path) -> None:
    before = {p.name: p.read_bytes() for p in (project / "notebooks").iterdir()}
    for copy in prepare(project):
        nb = nbformat.read(copy, as_version=4)
        nb.cells[0].source = "explored"
        nbformat.write(nb, copy)
    prepare(project)
    assert {p.name: p.read_bytes() for p in (project / "notebooks").iterdir()} == before


def test_work_folder_must_sit_beside_notebooks(project: Path) -> None:
    with pytest.raises(InputError, match="beside notebooks/"):
        prepare(project, project / "deeper" / "work")
    with pytest.raises(InputError, match="no notebook to copy"):
        prepare(project / "notebooks")


def test_lab_serves_only_the_work_folder(project: Path) -> None:
    assert lab_command(project / "work", ["--no-browser"]) == [
        sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={project / 'work'}",
        "--no-browser"]


def test_work_is_git_ignored() -> None:
    assert "work/" in (ROOT / ".gitignore").read_text().splitlines()
