"""`blanktrack lab`: explore in JupyterLab without ever changing a shipped notebook.

The notebooks in notebooks/ are the project's source: committed thin, run by `blanktrack run` and
by the tests. JupyterLab saves what it shows (outputs, counts) into the file it opened, two
minutes after a Run All. So the lab works on copies in a git-ignored folder, `work/`, beside
notebooks/ (the notebooks' relative paths to the sample still hold there), signed as trusted on
this machine so that their outputs show without a prompt."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from .errors import InputError, Problem

NOTEBOOKS = Path("notebooks")
WORK = Path("work")


def prepare(project: Path, work: Path | None = None, fresh: bool = False) -> list[Path]:
    """Copy project/notebooks/*.ipynb into `work` (default project/work): a copy that exists is
    kept (it holds someone's exploring) unless `fresh`. Every copy is trusted. The copies, sorted."""
    import nbformat
    from nbformat.sign import NotebookNotary

    source = project / NOTEBOOKS
    shipped = sorted(source.glob("*.ipynb"))
    if not shipped:
        raise InputError(Problem(str(source), None, None, "no notebook to copy",
                                 "start blanktrack lab in the project folder (where notebooks/ is)"))
    work = work if work is not None else project / WORK
    if work.resolve().parent != source.resolve().parent:
        raise InputError(Problem(str(work), None, None,
                                 "the work folder must sit beside notebooks/",
                                 "the notebooks find the sample as ../blanktrack/...; "
                                 f"use {project / WORK}"))
    work.mkdir(exist_ok=True)
    notary = NotebookNotary()
    copies = []
    for nb_path in shipped:
        copy = work / nb_path.name
        if fresh or not copy.exists():
            shutil.copyfile(nb_path, copy)
        nb = nbformat.read(copy, as_version=4)
        if not notary.check_signature(nb):
            notary.sign(nb)
        copies.append(copy)
    return copies


def lab_command(work: Path, jupyter_args: Sequence[str] = ()) -> list[str]:
    """JupyterLab, serving only the work folder."""
    return [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={work.resolve()}",
            *jupyter_args]


def cmd_lab(work: Path | None, fresh: bool, jupyter_args: Sequence[str]) -> int:
    project = Path.cwd()
    copies = prepare(project, work, fresh)
    folder = copies[0].parent
    for copy in copies:
        print(f"working copy {copy} (git-ignored; notebooks/ stays as shipped)")
    return subprocess.call(lab_command(folder, jupyter_args))
