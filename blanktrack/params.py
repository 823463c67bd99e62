"""Parameter files of period runs (params/*.yaml), validated before anything runs.

YAML quietly turns unquoted IDs into numbers (`ban: 01234567` is octal 342391, `0012` becomes 10),
so IDs are read from the file's own text and an ID YAML would change is refused.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import reprlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .ban import is_valid_ban
from .errors import InputError, Problem
from .period import Period, parse_date
from .set_workbooks import WORKBOOKS, Workbooks
from .split import SPLITS, Split, parse_split

NOTEBOOKS = "notebooks"  # the project's notebooks: the only ones a parameter file may run
DEFAULT_NOTEBOOK = f"{NOTEBOOKS}/reconcile.ipynb"
DEFAULT_TIMEOUT = 600  # seconds per notebook cell
MAX_TIMEOUT = 86_400  # a day: more is a typing error (and overflows some event loops)
MANIFEST = "manifest.json"  # what marks a folder as an archived run (see archive.py)
# run_folder: one folder name, placed under {archive}/{period}/; never hidden, never a path.
_FOLDER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")

# name → (required, expected python type(s), description)
_KEYS: dict[str, tuple[bool, tuple[type, ...], str]] = {
    "period": (True, (str,), "period code, e.g. '11302' (quoted)"),
    "allocations": (True, (list,), "list of allocation files"),
    "invoices": (False, (list,), "list of invoice files or folders (none: no invoices)"),
    "columns": (False, (dict, type(None)),
                "which header of an ERP export holds each invoice column, e.g. {invoice_number: 單據號碼}"),
    "ban": (False, (str, type(None)), "reporting BAN in quotes, or null for all"),
    "split": (False, (str,), f"one of {', '.join(SPLITS)}"),
    "strict": (False, (bool,), "true or false"),
    "report_date": (False, (dt.date, type(None)), "a date 2025-01-06 or 114/01/06, or null: today"),
    "note": (False, (str, type(None)), "free text shown in the run register"),
    "notebook": (False, (str,), "a notebook in the project's notebooks/ folder"),
    "timeout": (False, (int,), "seconds a notebook cell may take"),
    "run_folder": (False, (str, type(None)),
                   "name of the run's folder under {archive}/{period}/, e.g. 'first-upload'"),
    "workbooks": (False, (str,), f"one of {', '.join(WORKBOOKS)}: each set folder's .xlsx"),
    "turnkey": (False, (str, type(None)),
                "a Turnkey data folder (the one holding UpCast): a completed run hands its "
                "E0402 files to it, or null"),
}
_ID_KEYS = ("period", "ban")


@dataclass(frozen=True)
class RunParams:
    """A validated parameter file. Paths are absolute."""

    source: Path
    period: str
    allocations: list[Path]
    invoices: list[Path]
    ban: str | None = None
    split: Split = "none"
    strict: bool = False
    report_date: dt.date | None = None
    note: str = ""
    notebook: Path = field(default_factory=lambda: Path(DEFAULT_NOTEBOOK).resolve())
    timeout: int = DEFAULT_TIMEOUT
    run_folder: str | None = None  # None: a new {UTC time}-{random} folder per run
    # resolved input path → the path as the file wrote it, where they differ (a link, a
    # relative path): the manifest records both
    given: dict[str, str] = field(default_factory=dict, compare=False, repr=False)
    columns: dict[str, str] | None = None  # invoice column → header of an ERP export
    turnkey: Path | None = None  # a Turnkey data folder: a completed run's E0402 files go to it
    workbooks: Workbooks = "auto"  # which set folders get their .xlsx (set_workbooks)
    lines: dict[str, int] = field(default_factory=dict, compare=False, repr=False)  # key → line

    def notebook_parameters(self, out_dir: Path, report_date: dt.date) -> dict[str, Any]:
        """What papermill injects into the notebook's `parameters` cell."""
        return {
            "period": self.period,
            "ban": self.ban,
            "allocations": [str(p) for p in self.allocations],
            "invoices": [str(p) for p in self.invoices],
            "split": self.split,
            "strict": self.strict,
            "report_date": report_date.isoformat(),
            "out_dir": str(out_dir),
            **({"columns": self.columns} if self.columns else {}),
            **({"workbooks": self.workbooks} if self.workbooks != "auto" else {}),
        }

    def as_record(self) -> dict[str, Any]:
        record = asdict(self)
        del record["lines"], record["given"]
        for key, value in record.items():
            if isinstance(value, Path):
                record[key] = str(value)
            elif isinstance(value, list):
                record[key] = [str(v) for v in value]
            elif isinstance(value, dt.date):
                record[key] = value.isoformat()
        return record


def _problem(path: Path, node: yaml.Node | None, key: str | None, message: str, fix: str = ""
             ) -> Problem:
    line = node.start_mark.line + 1 if node is not None else None
    return Problem(str(path), line, key, message, fix)


def load_params(path: str | Path, base_dir: Path | None = None) -> RunParams:
    """Read and check a parameter file; relative paths are taken from `base_dir` (default: the
    current directory, the project root for `make run`)."""
    path = Path(path)
    base = (base_dir or Path.cwd()).resolve()
    what = _not_a_file(path)
    if what:
        raise InputError(Problem(str(path), None, None, f"parameter file {what}",
                                 "give the path of a params/*.yaml file"))
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError, OSError) as exc:
        raise InputError(Problem(str(path), None, None, f"not readable as YAML: {exc}",
                                 "fix the YAML syntax")) from exc
    if not isinstance(root, yaml.MappingNode):
        raise InputError(Problem(str(path), None, None, "must be a mapping of name: value",
                                 f"use the names {', '.join(_KEYS)}"))
    problems: list[Problem] = []
    values: dict[str, Any] = {}
    for key_node, value_node in root.value:
        if not isinstance(key_node, yaml.ScalarNode):
            problems.append(_problem(path, key_node, None, "a name must be plain text",
                                     f"known names: {', '.join(_KEYS)}"))
            continue
        key = key_node.value
        if key not in _KEYS:
            problems.append(_problem(path, key_node, key, "unknown name",
                                     f"known names: {', '.join(_KEYS)}"))
            continue
        if key in values:
            problems.append(_problem(path, key_node, key, "given twice", "keep one"))
            continue
        try:
            value = yaml.safe_load(yaml.serialize(value_node))
        except (yaml.YAMLError, ValueError, TypeError, OverflowError) as exc:
            # e.g. report_date: 2015-02-30, which YAML takes for a date that does not exist
            problems.append(_problem(path, value_node, key, f"is not a valid value ({exc})",
                                     f"expected {_KEYS[key][2]}"))
            continue
        if key in _ID_KEYS and isinstance(value_node, yaml.ScalarNode) and value is not None \
                and not isinstance(value, str):
            raw = value_node.value
            problems.append(_problem(
                path, value_node, key,
                f"{raw} is not quoted, so YAML reads it as {value!r}",
                f"write it in quotes: {key}: '{raw}'"))
            continue
        if key == "report_date" and isinstance(value, str):
            with contextlib.suppress(ValueError):
                value = parse_date(value)  # ROC 114/01/06 too
        required, types, what = _KEYS[key]
        if (isinstance(value, bool) and bool not in types) or not isinstance(value, types):
            problems.append(_problem(path, value_node, key,
                                     f"has the wrong type ({type(value).__name__})",
                                     f"expected {what}"))
            continue
        values[key] = (value, value_node)
    for key, (required, _, what) in _KEYS.items():
        if required and key not in values and not any(p.field == key for p in problems):
            problems.append(Problem(str(path), None, key, "missing", f"add {key}: {what}"))
    if problems:
        raise InputError(problems)
    return _build(path, base, {k: v for k, (v, _) in values.items()},
                  {k: n for k, (_, n) in values.items()})


def _build(path: Path, base: Path, v: dict[str, Any], nodes: dict[str, yaml.Node]) -> RunParams:
    problems: list[Problem] = []
    try:
        period = Period.parse(v["period"]).code
    except ValueError as exc:
        problems.append(_problem(path, nodes["period"], "period", str(exc)))
        period = v["period"]
    ban = v.get("ban")
    if ban is not None and not is_valid_ban(ban):
        problems.append(_problem(path, nodes["ban"], "ban", f"{ban!r} is not a valid BAN",
                                 "8 digits with a correct check digit"))
    split = v.get("split", "none")
    try:
        split = parse_split(split)
    except ValueError:
        problems.append(_problem(path, nodes["split"], "split", f"{split!r} is not known",
                                 f"use one of {', '.join(SPLITS)}"))
    workbooks = v.get("workbooks", "auto")
    if workbooks not in WORKBOOKS:
        problems.append(_problem(path, nodes["workbooks"], "workbooks",
                                 f"{workbooks!r} is not known", f"use one of {', '.join(WORKBOOKS)}"))
    timeout = v.get("timeout", DEFAULT_TIMEOUT)
    if not 0 < timeout <= MAX_TIMEOUT:
        problems.append(_problem(path, nodes["timeout"], "timeout",
                                 f"{timeout} is not between 1 and {MAX_TIMEOUT} seconds"))
    run_folder = v.get("run_folder")
    if run_folder is not None:
        issue = _run_folder_issue(run_folder)
        if issue:
            problems.append(_problem(path, nodes["run_folder"], "run_folder", *issue))
    files: dict[str, list[Path]] = {}
    given: dict[str, str] = {}
    for key in ("allocations", "invoices"):
        files[key] = []
        if key == "invoices" and key not in v:
            continue  # a period without invoices (no-invoices findings say so)
        if not v[key] and key == "allocations":
            problems.append(_problem(path, nodes[key], key, "the list is empty",
                                     "name at least one file"))
        for item in v[key]:
            if not isinstance(item, str) or not item:
                shown = reprlib.repr(item)  # an alias-built structure can be huge
                problems.append(_problem(path, nodes[key], key,
                                         f"{shown} is not a path", "write each path as text"))
                continue
            p = _resolve(base, item)
            what = _not_a_file(p)
            if what.endswith("(it is a folder)"):
                what = ""  # a folder of inputs (a Turnkey data folder, E0501 files)
            if what:
                fix = (f"paths are relative to {base}" if what == "does not exist"
                       else "name a file or a folder")
                problems.append(_problem(path, nodes[key], key, f"{item} {what}", fix))
            files[key].append(p)
            if str(p) != item:
                given[str(p)] = item
    notebook = _resolve(base, v.get("notebook", DEFAULT_NOTEBOOK))
    what = _not_a_file(notebook)
    node = nodes.get("notebook")
    allowed = _resolve(base, NOTEBOOKS)
    if not notebook.is_relative_to(allowed):
        # a parameter file names data, not code: only the project's own notebooks run
        problems.append(_problem(path, node, "notebook",
                                 f"{notebook} is outside the project's notebooks folder {allowed}",
                                 f"give a notebook in {NOTEBOOKS}/, e.g. {DEFAULT_NOTEBOOK}"))
    elif what:
        problems.append(_problem(path, node, "notebook", f"{notebook} {what}",
                                 "run from the project folder or give notebook: PATH"))
    columns = _columns(path, nodes, v, problems)
    turnkey = _turnkey(path, base, nodes, v, problems)
    if problems:
        raise InputError(problems)
    return RunParams(
        source=path.resolve(), period=period, allocations=files["allocations"],
        invoices=files["invoices"], ban=ban, split=split, strict=v.get("strict", False),
        report_date=v.get("report_date"), note=v.get("note") or "", notebook=notebook,
        timeout=timeout, run_folder=run_folder, given=given, columns=columns, turnkey=turnkey,
        lines={k: n.start_mark.line + 1 for k, n in nodes.items()}, workbooks=workbooks,
    )


def _columns(path: Path, nodes: dict, v: dict, problems: list[Problem]) -> dict[str, str] | None:
    """The `columns` mapping, checked: names of invoice columns to non-empty header text."""
    from .sources.erp import MAPPABLE

    columns = v.get("columns")
    if not columns:
        return None
    for name, header in columns.items():
        if name not in MAPPABLE or not isinstance(header, str) or not header.strip():
            problems.append(_problem(path, nodes["columns"], "columns",
                                     f"{name!r}: {header!r} is not an invoice column and a header",
                                     f"write NAME: HEADER with NAME one of {', '.join(MAPPABLE)}"))
    return {str(k): str(h) for k, h in columns.items()}


def _turnkey(path: Path, base: Path, nodes: dict, v: dict, problems: list[Problem]
             ) -> Path | None:
    """The `turnkey` folder, checked before the run: a run must not end at a wrong folder."""
    given = v.get("turnkey")
    if given is None:
        return None
    folder = _resolve(base, given)
    if not given or not (folder / "UpCast").is_dir():
        what = "does not exist" if not folder.exists() else "has no UpCast folder"
        problems.append(_problem(path, nodes["turnkey"], "turnkey",
                                 f"{given!r} is not a Turnkey data folder ({what})",
                                 "give the folder Turnkey keeps its messages in (it holds "
                                 "UpCast), or leave turnkey out"))
    return folder


def _resolve(base: Path, item: str) -> Path:
    try:
        return (base / item).resolve()
    except (OSError, ValueError, RuntimeError):  # a link loop, a NUL byte
        return base / item


def _not_a_file(path: Path) -> str:
    """'' for a regular file (or a link to one), else what it is, for a message."""
    try:
        if path.is_file():
            return ""
        if path.is_dir():
            return "is not a regular file (it is a folder)"
        if path.exists():
            return "is not a regular file (it is a device, a pipe or a socket)"
        return "does not exist"
    except (OSError, ValueError) as exc:
        return f"cannot be read ({exc})"


def _run_folder_issue(name: str) -> tuple[str, str] | None:
    """Why `name` cannot be a run folder name, or None."""
    fix = ("write one folder name of letters, digits, '.', '-' or '_', e.g. "
           "'2015-01-08-upload'; the run goes to {archive}/{period}/{run_folder}")
    if Path(name).is_absolute() or name.startswith(("/", "\\", "~")) or re.match(r"^[A-Za-z]:", name):
        return f"{name!r} is an absolute path: runs are only written inside the archive folder", fix
    if ".." in re.split(r"[/\\]", name):
        return f"{name!r} leads out of the archive folder ('..')", fix
    if not _FOLDER_NAME.match(name):
        return f"{name!r} is not a single folder name", fix
    return None


def run_folder_target(params: RunParams, archive_root: Path) -> Path | None:
    """The folder `params.run_folder` asks for under `archive_root`, checked; None without one.

    Raises InputError (the parameter file, the line and the key) when the folder would lie
    outside the archive folder (a link) or already exists: archive folders are never reused.
    """
    if params.run_folder is None:
        return None
    line = params.lines.get("run_folder")
    fix = "choose a new run_folder, or leave it out to get a new folder for every run"
    target = Path(archive_root) / params.period / params.run_folder
    root = Path(archive_root).resolve()
    if not target.resolve().is_relative_to(root):
        raise InputError(Problem(str(params.source), line, "run_folder",
                                 f"{target} resolves to {target.resolve()}, outside the archive "
                                 f"folder {root} (a link?)", fix))
    if (target / MANIFEST).exists():
        raise InputError(Problem(str(params.source), line, "run_folder",
                                 f"{target} already holds a run ({MANIFEST}): archived runs are "
                                 "never overwritten", fix))
    if target.exists() or target.is_symlink():
        raise InputError(Problem(str(params.source), line, "run_folder",
                                 f"{target} already exists: a run gets a new folder", fix))
    return target
