"""Before the engine runs: every --invoices and --allocations path (file or folder) known by
its content and read into what the engine takes — canonical files, as they are, and a
canonical Parquet per other input, written to the reconciliation's private temporary folder
(its rows carry the original file and line, so every message names them). Validated here,
against the original files; what each path held is reported per path (InputKind)."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from .. import findings as F
from .. import invoices as inv
from ..errors import InputError, Problem
from . import turnkey
from .detect import FileKind, sniff

# The ERP and platform readers are imported where an input needs them (turnkey imports lxml
# and its process pool only where XML is read): a run of canonical Parquet or CSV files loads
# none of them on the main thread before the scan starts (tests/test_lazy_imports.py).
if TYPE_CHECKING:
    from ..reconcile import Reconciliation

_FIX_PATH = "give the path of an invoice file or folder (CSV, Excel, Parquet, MIG XML, Turnkey)"


@dataclass
class InputKind:
    """What one input path held: one row of the notebook's inputs table."""

    path: str
    role: str  # 'allocations' | 'invoices'
    kinds: Counter[str] = field(default_factory=Counter)  # 'F0401 4.1' / 'ERP CSV' → count
    files_read: int = 0
    passed_over: int = 0  # files of other messages (E0402, ProcessResult, allowances, …)
    unknown: list[str] = field(default_factory=list)  # files of no known kind (in a folder)
    rows: int = 0
    bytes: int | None = None  # of a folder's files (None: the engine measures the file)

    @property
    def kinds_text(self) -> str:
        return "; ".join(f"{k} ×{n:,}" for k, n in sorted(self.kinds.items()))


@dataclass
class ReadInputs:
    """The engine's input files, and what to put back when it is done."""

    allocation_paths: list[Path]
    invoice_paths: list[Path]
    kinds: list[InputKind]
    findings: list[pl.DataFrame]
    # engine file → index in `kinds` of its input path, for the rows the engine counts
    counted_by_engine: dict[str, int] = field(default_factory=dict)
    written: set[str] = field(default_factory=set)  # our temporary Parquet files


def _walk(folder: Path) -> Iterator[Path]:
    """Every regular file under `folder`, in a stable order (hidden files too: Turnkey's are not)."""
    return (Path(p) for p in turnkey.walk(str(folder)))


def _folder_bytes(folder: str) -> int:
    return sum(os.stat(p).st_size for p in turnkey.walk(folder))


def _missing(path: Path, role: str) -> InputError:
    return InputError(Problem(str(path), None, None, f"{role} path does not exist", _FIX_PATH))


def _what(path: Path, role: str) -> str:
    """'dir' or 'file'; InputError for a path that does not exist or cannot be looked at."""
    try:
        if path.is_dir():
            return "dir"
        if path.is_file():
            return "file"
        exists = path.exists()
    except (OSError, ValueError) as exc:  # a name too long, a folder we may not read
        raise InputError(Problem(str(path), None, None, f"{role} file cannot be read ({exc})",
                                 _FIX_PATH)) from exc
    if exists:
        raise InputError(Problem(str(path), None, None,
                                 f"{role} path is not a regular file or a folder", _FIX_PATH))
    raise _missing(path, role)


class _InvoiceReader:
    def __init__(self, columns: dict[str, str] | None, workdir: Path) -> None:
        self.columns, self.workdir = columns, workdir
        self.spills = 0  # folders of XML messages written, one per read
        self.result = ReadInputs([], [], [], [])

    def read(self, paths: Sequence[str | Path]) -> None:
        for index, given in enumerate(paths):
            path = Path(given)
            info = InputKind(str(path), "invoices")
            self.result.kinds.append(info)
            if _what(path, "invoices") == "dir":
                raws, rejects = self._folder(path, info)
            else:
                raws, rejects = self._file(path, info)
            self._write(index, raws, info)
            if rejects is not None and not rejects.is_empty():
                self.result.findings.append(F.invoice_rejected_findings(rejects))
            if info.unknown:
                self.result.findings.append(F.unknown_file_findings(str(path), info.unknown))

    def _file(self, path: Path, info: InputKind) -> tuple[list[pl.LazyFrame], pl.DataFrame | None]:
        kind = sniff(path, self.columns)
        name = str(path)
        if kind.kind in ("canonical", "empty", "unknown"):
            # the canonical reader names what is wrong, if anything, with its line and field
            # (and never quotes a line that is no table)
            self._pass_through(path, info)
            return [], None
        if kind.kind == "xml":  # parsed in full: a malformed file is named with its line
            read = turnkey.read_files([name], [False], name, spill=self._spill())
            raws, rejects, others = self._xml(read, info)
            if not others:
                return raws, rejects
        if kind.kind in ("erp", "platform"):
            return [self._table(path, kind, info)], None
        what = ("an allocation file, not invoices" if kind.kind == "allocations"
                else "of no kind blanktrack reads")
        raise InputError(Problem(name, None, None, f"the invoices file is {what}",
                                 "give the canonical invoice table, MIG XML, a Turnkey folder, "
                                 "the platform's invoice download or an ERP export (use "
                                 "--columns for other headers)"))

    def _pass_through(self, path: Path, info: InputKind) -> None:
        self.result.invoice_paths.append(path)
        self.result.counted_by_engine[str(path)] = len(self.result.kinds) - 1
        info.files_read += 1
        info.kinds["canonical table"] += 1

    def _table(self, path: Path, kind: FileKind, info: InputKind) -> pl.LazyFrame:
        info.files_read += 1
        if kind.kind == "platform":
            from .platform_download import read_platform

            info.kinds["platform download"] += 1
            return read_platform(path, str(path))
        from .erp import read_erp

        info.kinds[f"ERP {kind.detail}"] += 1
        return read_erp(path, str(path), kind.detail, self.columns)

    def _xml(self, read: turnkey.XmlRead, info: InputKind
             ) -> tuple[list[pl.LazyFrame], pl.DataFrame | None, list[str]]:
        for kind, n in read.kinds.items():
            if kind.known:
                info.kinds[kind.label] += n
        info.files_read += read.files - len(read.not_xml)
        info.passed_over += sum(n for k, n in read.kinds.items()
                                if k.known and not k.is_invoice and k.message != "InvoiceEnvelope")
        rows, rejects = turnkey.fold(read)
        return [rows], rejects, read.not_xml

    def _spill(self) -> Path:
        self.spills += 1
        return self.workdir / f"messages-{self.spills}"

    def _folder(self, folder: Path, info: InputKind
                ) -> tuple[list[pl.LazyFrame], pl.DataFrame | None]:
        read = turnkey.read_folder(str(folder), str(folder), spill=self._spill())
        if not read.files:  # a wrong folder, not a period without invoices (a Turnkey folder
            # of such a period still holds its other messages)
            raise InputError(Problem(str(folder), None, None, "the folder holds no file",
                                     "give the folder the invoice files are in; for a period "
                                     "without invoices leave --invoices out"))
        info.bytes = read.bytes
        raws, rejects, others = self._xml(read, info)
        for name in others:
            path = Path(name)
            kind = sniff(path, self.columns)
            if kind.kind == "canonical" and kind.detail != "damaged":
                self._pass_through(path, info)
            elif kind.kind in ("erp", "platform"):
                raws.append(self._table(path, kind, info))
            elif kind.kind == "allocations":
                info.passed_over += 1
                info.kinds["allocation table"] += 1
            else:
                info.unknown.append(str(path.relative_to(folder)))
        return raws, rejects

    def _write(self, index: int, raws: list[pl.LazyFrame], info: InputKind) -> None:
        """The input's rows to the engine's Parquet file, each table read in one pass (the
        engine checks the values, naming the original file and line). Rows a reader marks as
        unreadable (the platform download's) are staged and checked first."""
        if not raws:
            return
        marked = any("__problem" in r.collect_schema().names() for r in raws)
        # An ERP table's Categorical columns each have categories of their own: several
        # tables are joined as text.
        rows = pl.concat([_with_checks(r, as_text=len(raws) > 1) for r in raws])
        target = self.workdir / f"invoices-{index}.parquet"
        stage = self.workdir / f"invoices-{index}.unreadable.parquet"
        # Text (an ERP table's few-valued columns as Categorical codes), as the engine's fast
        # paths read a canonical Parquet file (the line a number); not compressed: the file
        # lives for one run, and lz4 cost more CPU, written and read, than its bytes saved.
        sinks = [rows.select(
            *inv.RAW_COLUMNS, __source="source", __line=pl.col("line").cast(pl.Int64),
        ).sink_parquet(target, compression="uncompressed", lazy=True)]
        if marked:  # the unreadable rows, in the same pass over the file
            sinks.append(rows.filter(pl.col("__problem").is_not_null()).sink_parquet(
                stage, lazy=True))
        try:
            pl.collect_all(sinks)
            if marked:
                checked(pl.scan_parquet(stage))
        except pl.exceptions.ComputeError as exc:  # a large file polars reads: a bad byte
            raise InputError(Problem(info.path, None, None, f"cannot read the file ({exc})",
                                     "save it as UTF-8 (large files are read as UTF-8)")
                             ) from exc
        finally:
            stage.unlink(missing_ok=True)
        count = pl.scan_parquet(target).select(pl.len()).collect().item()  # from the footer
        if not count:
            target.unlink()
            return
        info.rows += count
        self.result.invoice_paths.append(target)
        self.result.written.add(str(target))


CHECKS = ("__problem", "__field", "__fix")  # set on a row a reader could not read


def _with_checks(raw: pl.LazyFrame, as_text: bool) -> pl.LazyFrame:
    names = raw.collect_schema().names()
    columns = [pl.col(c).cast(pl.String) if as_text else pl.col(c) for c in inv.RAW_COLUMNS]
    return raw.select(*columns, "source", "line", *(
        pl.col(c) if c in names else pl.lit(None, pl.String).alias(c) for c in CHECKS))


def checked(staged: pl.LazyFrame) -> None:
    """InputError for the first row a reader marked as unreadable (file, line, field), with
    the count of the others."""
    bad = staged.filter(pl.col("__problem").is_not_null())
    first = bad.head(1).collect()
    if first.is_empty():
        return
    row = first.row(0, named=True)
    more = bad.select(pl.len()).collect().item() - 1
    raise InputError(Problem(row["source"], row["line"], row["__field"], row["__problem"],
                             row["__fix"]), more=more)


def _e0501_file(file: Path, info: InputKind, result: ReadInputs) -> bool:
    """Whether `file` (XML) is an E0501 allocation; if so it goes to the engine."""
    from . import e0501
    from .mig_xml import namespace
    from .safe_xml import parse_file

    root = parse_file(str(file))
    if not e0501.is_e0501(root):
        return False
    for element in e0501.assignments(root):
        info.kinds[f"E0501 {namespace(element).rsplit(':', 1)[-1]}"] += 1
    odd = e0501.unofficial_namespaces(root)
    if odd:
        result.findings.append(F.unofficial_namespace_findings(str(file), odd))
    _allocation_file(file, result)
    info.files_read += 1
    return True


def _allocation_file(file: Path, result: ReadInputs) -> None:
    result.allocation_paths.append(file)
    result.counted_by_engine[str(file)] = len(result.kinds) - 1


def _allocation_inputs(paths: Sequence[str | Path], result: ReadInputs) -> None:
    for given in paths:
        path = Path(given)
        info = InputKind(str(path), "allocations")
        result.kinds.append(info)
        if _what(path, "allocations") == "file":
            kind = sniff(path)
            if kind.kind == "xml" and not _e0501_file(path, info, result):
                raise InputError(Problem(str(path), None, None,
                                         "this XML file is no E0501 allocation",
                                         "give the MOF allocation download, the canonical "
                                         "table or E0501 files"))
            if kind.kind != "xml":  # the engine reads it and names what is wrong
                _allocation_file(path, result)
                info.files_read += 1
                info.kinds["allocation table"] += 1
            continue
        for file in _walk(path):
            kind = sniff(file)
            if kind.kind == "xml":
                if not _e0501_file(file, info, result):
                    if kind.message is not None and kind.message.known:
                        info.passed_over += 1
                    else:
                        info.unknown.append(str(file.relative_to(path)))
            elif kind.kind == "allocations":
                _allocation_file(file, result)
                info.files_read += 1
                info.kinds["allocation table"] += 1
            elif kind.kind in ("canonical", "erp", "platform"):
                info.passed_over += 1  # invoices, in a folder of allocations
            else:
                info.unknown.append(str(file.relative_to(path)))
        if info.unknown:
            result.findings.append(F.unknown_file_findings(str(path), info.unknown))
        if not info.files_read:  # a wrong folder: nothing in it is an allocation
            raise InputError(Problem(str(path), None, None,
                                     "the folder holds no allocation file (MOF download, "
                                     "canonical table or E0501)",
                                     "give the folder the allocation files are in"))


def allocation_files(paths: Sequence[str | Path]) -> list[Path]:
    """The allocation files of `paths` (files and folders: MOF download, canonical table, E0501),
    as load_allocations takes them; InputError for a path or folder that holds none."""
    result = ReadInputs([], [], [], [])
    _allocation_inputs(paths, result)
    return result.allocation_paths


def read_inputs(allocation_paths: Sequence[str | Path], invoice_paths: Sequence[str | Path],
                workdir: Path, columns: dict[str, str] | None = None) -> ReadInputs:
    """Read every input path; InputError (original file and line) for anything unusable."""
    reader = _InvoiceReader(columns, workdir)
    _allocation_inputs(allocation_paths, reader.result)
    reader.read(invoice_paths)
    return reader.result


def finish(result: Reconciliation, read: ReadInputs, allocation_paths: Sequence[str | Path],
           invoice_paths: Sequence[str | Path], hash_inputs: bool) -> Reconciliation:
    """The engine's result told in the inputs' own terms: one InputFile and one row count per
    path given (not per temporary file), what each held, and the findings about the inputs."""
    from ..reconcile import InputFile, _Digest

    engine_files = {(f.path, f.role): f for f in result.inputs}
    sizes = {(k.path, k.role): k.bytes for k in read.kinds}
    inputs = []
    for role, paths in (("allocations", allocation_paths), ("invoices", invoice_paths)):
        for given in paths:
            path = Path(given)
            entry = engine_files.get((str(path), role))
            if entry is None:
                size = sizes.get((str(path), role))
                if size is None:
                    size = (_folder_bytes(str(path)) if path.is_dir()
                            else path.stat().st_size)
                entry = InputFile(str(path), role, size, _Digest(path, None))
            inputs.append(entry)
    for engine_path, index in read.counted_by_engine.items():
        read.kinds[index].rows += result.rows_by_source.get(engine_path, 0)
    period = result.period.code
    empty = [k.path for k in read.kinds if k.role == "invoices" and k.rows == 0]
    findings = F.with_more(result.findings, [
        *read.findings,
        F.empty_input_findings(empty, period),
        *F.no_invoice_findings(result.allocations, result.booklets, result.issuing_unsorted),
    ])
    if hash_inputs:
        for entry in inputs:
            entry.sha256  # noqa: B018 — an unreadable input fails here, not later in a notebook
    return replace(
        result, inputs=inputs, findings=findings, input_kinds=read.kinds,
        rows_by_source={k.path: k.rows for k in read.kinds},
    )
