"""Notebooks are committed thin: without outputs, with cell ids, a kernelspec and parameters."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        assert "id" in cell, f"{path.name}: a cell has no id"
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name}: cell {cell.id} has outputs: strip them"
            assert cell.execution_count is None, f"{path.name}: cell {cell.id} has a count"
    assert nb.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_thin_with_one_parameters_cell(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and tagged[0] is code[0]
    for cell in code:
        assert "def " not in cell.source and "class " not in cell.source, (
            f"{path.name}: cell {cell.id} defines code; move it into blanktrack/")


def test_notebooks_exist() -> None:
    assert {p.name for p in NOTEBOOKS} >= {"reconcile.ipynb"}
