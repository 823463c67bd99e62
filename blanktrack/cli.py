"""The `blanktrack` command. Exit codes: 0 ok, 1 unusable input, 2 usage, 3 --strict with errors,
141 output no longer read (`blanktrack check … | head`)."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gc
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from .archive import DEFAULT_ARCHIVE
from .errors import InputError, Problem
from .period import Period
from .set_workbooks import AUTO_WORKBOOK_SETS, WORKBOOKS
from .split import SPLITS

EXIT_OK, EXIT_INPUT, EXIT_USAGE, EXIT_STRICT = 0, 1, 2, 3
EXIT_PIPE_CLOSED = 128 + 13  # as the shell reports a command that SIGPIPE ended (128 + SIGPIPE)


def _period(text: str) -> Period:
    try:
        return Period.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _ban(text: str) -> str:
    from .ban import is_valid_ban

    if not is_valid_ban(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a valid BAN (8 digits with a correct check digit)"
        )
    return text


def _columns(text: str) -> dict[str, str]:
    from .sources.erp import MAPPABLE

    mapping: dict[str, str] = {}
    for item in text.split(","):
        name, sep, header = item.partition("=")
        name, header = name.strip(), header.strip()
        if not sep or not header or name not in MAPPABLE:
            raise argparse.ArgumentTypeError(
                f"{item!r} is not NAME=HEADER with NAME one of {', '.join(MAPPABLE)}")
        mapping[name] = header
    return mapping


def _date(text: str) -> dt.date:
    from .period import parse_date

    try:
        return parse_date(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _out_dir(text: str) -> Path:
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty name is not a folder (it would be the "
                                         "working folder): give the output folder's path")
    return Path(text)


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from exc
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative: give 0 or more")
    return value


def _head(text: str) -> str:
    if len(text) != 64 or any(c not in "0123456789abcdefABCDEF" for c in text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a register head (64 hex digits)")
    return text.lower()


def cmd_reconcile(args: argparse.Namespace) -> int:
    from .usage import read_ahead  # pyarrow only: begins before polars is imported

    # The cyclic collector waits until the command is done: its work here was walking the
    # objects of every module the imports make, a fiftieth of a 20M period's run (bench/README.md,
    # "Reading ahead while the command starts"); what the command itself makes, refcounting frees.
    collecting = gc.isenabled()
    gc.disable()
    read_ahead.start(args.invoices)  # a large period's first row groups, on the idle core
    try:
        return _reconcile(args)
    finally:
        read_ahead.discard()
        if collecting:
            gc.enable()


def _reconcile(args: argparse.Namespace) -> int:
    from .exports import Exports, OutputError
    from .reconcile import reconcile

    try:
        with Exports(args.out_dir, inputs=[*args.allocations, *args.invoices]) as exports:
            result = reconcile(
                args.period, args.allocations, args.invoices,
                ban=args.ban, split=args.split, report_date=args.report_date,
                hash_inputs=False,  # nothing here records them
                columns=args.columns,
                on_blank_ranges=exports.start,  # upload files written while findings are made
            )
            written = exports.finish(result, workbooks=args.workbooks)
    except OutputError as exc:
        print(f"blanktrack: output error:\n{exc}", file=sys.stderr)
        return EXIT_INPUT
    exported = result.exported_ranges
    print(
        f"period {result.period.code} ({result.period.label}): "
        f"{result.allocations.height} allocation(s), {result.invoice_rows} invoice row(s), "
        f"{exported.height} blank range(s) / {int(exported['count'].sum())} blank number(s) "
        f"to report, {result.findings.height} finding(s) "
        f"({result.error_count} error(s))"
    )
    for path in written:
        print(f"  wrote {path}")
    if exports.skipped_workbooks:
        from .set_workbooks import skipped_workbooks_line

        print(f"  {skipped_workbooks_line(exports.skipped_workbooks)}")
    from .verdict import verdict_lines_of

    for line in verdict_lines_of(result):  # the last words a person reads
        print(line)
    if args.turnkey is not None:  # after the exports are whole: Turnkey sends what it sees
        from .turnkey_drop import drop_e0402

        for path in drop_e0402([p for p in written if Path(p).suffix == ".xml"], args.turnkey):
            print(f"  handed to Turnkey: {path}")
    if args.strict and result.error_count:
        findings = " ".join(str(p) for p in written if p.name == "findings.csv")
        print(
            f"blanktrack: --strict: {result.error_count} error finding(s); "
            f"see {findings} before uploading",
            file=sys.stderr,
        )
        return EXIT_STRICT
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    from .allocations import load_allocations
    from .mof_csv import check_file

    allocations = None
    if args.allocations:  # files and folders (E0501 folders too), as reconcile takes them
        from .sources.resolve import allocation_files

        # a file goes to load_allocations as before, which names what it is when unreadable
        files = [f for given in args.allocations for f in (
            allocation_files([given]) if Path(given).is_dir() else [Path(given)])]
        allocations = load_allocations(files)
    csv_files, xml_files, turnkey = _check_targets(args.files)
    bad = 0
    found = [*csv_files, *xml_files]
    for folder in (Path(p) for p in args.files if Path(p).is_dir()):
        if not any(f.is_relative_to(folder) for f in found):  # nothing to check is no pass
            print(f"{folder}: the folder holds no upload file ({{BAN}}_{{period}}.csv) and no XML "
                  "file — give the folder the files are in")
            bad += 1
    for path in csv_files:
        problems = check_file(Path(path), allocations)
        for p in problems:
            print(p)
        if problems:
            bad += 1
        else:
            print(f"{path}: ok")
    bad += _check_e0402(xml_files, allocations, turnkey)
    return EXIT_INPUT if bad else EXIT_OK


def _check_targets(paths: Sequence[str]) -> tuple[list[Path], list[Path], dict[Path, Path]]:
    """check's arguments as (upload CSVs, E0402 XML files, XML file → Turnkey folder)."""
    from .e0402_lint import collect

    return collect(Path(p) for p in paths)


def _check_e0402(files: list[Path], allocations: object, turnkey: dict[Path, Path]) -> int:
    """Lint E0402 files together; print each problem and each clean file; the number of files
    with a problem."""
    if not files:
        return 0
    import polars as pl

    from .e0402_lint import lint_e0402_files

    frame = allocations if isinstance(allocations, pl.DataFrame) else None
    result = lint_e0402_files(files, frame, turnkey)
    for problem in result.problems:
        print(problem)
    flagged = {p.file for p in result.problems}
    for name in result.files:
        if name not in flagged:
            print(f"{name}: ok")
    return len(flagged & set(result.files))


def cmd_results(args: argparse.Namespace) -> int:
    """The platform's answers to blank reports; attach those that match an archived run."""
    from .platform_results import ACCEPTED, attach_results, read_results

    read = read_results(args.paths)
    for problem in read.problems:
        print(problem, file=sys.stderr)
    attached = dict.fromkeys(read.results, "")
    if not args.no_attach:
        attached.update(attach_results(read, args.archive))
    for result, note in attached.items():
        counts = (f" ({result.good} good, {result.failed} failed)"
                  if result.good is not None else "")
        print(f"{result.file}:{result.line}: {result.message_type} {result.message_id or '?'}: "
              f"{result.outcome}{counts}")
        for code in result.codes:
            sentence = f"{code.zh_tw} / {code.en}" if code.zh_tw else code.description
            params = f" [{', '.join(code.parameters)}]" if code.parameters else ""
            print(f"  {code.code} {sentence}{params}")
        if note:
            print(f"  {note}")
    print(f"{len(read.results)} blank-track result(s), {read.other_messages} about other "
          "messages")
    if read.problems or any(r.outcome != ACCEPTED for r in read.results):
        return EXIT_INPUT
    return EXIT_OK


def cmd_due(args: argparse.Namespace) -> int:
    """What is due per BAN and period; exit 1 when one needs attention (for a scheduler)."""
    from .due import due, render

    rows = due(args.params, args.archive, today=args.today)
    print(render(rows), end="")
    return EXIT_INPUT if any(r.needs_attention for r in rows) else EXIT_OK


def cmd_diff(args: argparse.Namespace) -> int:
    """What a correction changes between two archived runs of a period."""
    from .run_diff import diff_runs, render

    print(render(diff_runs(args.run_a, args.run_b)), end="")
    return EXIT_OK


def _count(least: int, bound: str) -> Callable[[str], int]:
    """An argparse type: a whole number from `least` to demo's `bound` (demo, and polars with
    it, is imported only when the option is given)."""

    def parse(text: str) -> int:
        from . import demo

        most: int = getattr(demo, bound)
        try:
            value = int(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from exc
        if not least <= value <= most:
            raise argparse.ArgumentTypeError(
                f"must be between {least:,} and {most:,}, not {value:,}")
        return value

    return parse


def _rate(text: str) -> float:
    """An argparse type: a share in [0, 1) (NaN and infinity refused)."""
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from exc
    if not 0.0 <= value < 1.0:  # NaN fails this too
        raise argparse.ArgumentTypeError(f"{text!r} is not a rate from 0 up to (but not including) 1")
    return value


def _demo_out(out: str) -> Path:
    """The demo's output folder: refused (InputError) if it exists and is not a folder."""
    path = Path(out)
    try:
        exists, folder = path.exists(), path.is_dir()
    except (OSError, ValueError) as exc:
        raise InputError(Problem(out, None, None, f"cannot use the output folder ({exc})",
                                 "give a folder you may write to")) from exc
    if exists and not folder:
        raise InputError(Problem(out, None, None, "the output folder is a file",
                                 "give a folder (it is made if missing)"))
    return path


def cmd_demo(args: argparse.Namespace) -> int:
    from . import demo

    out = _demo_out(args.out)
    try:
        if args.what == "sample":
            for path in demo.write_sample(out):
                print(f"wrote {path}")
            return EXIT_OK
        if args.cancel_rate + args.void_rate >= 1.0:
            print("blanktrack: demo generate: --cancel-rate + --void-rate must be below 1",
                  file=sys.stderr)
            return EXIT_USAGE
        if args.bans * args.tills > demo.MAX_TILLS:
            print(f"blanktrack: demo generate: --bans × --tills must be at most "
                  f"{demo.MAX_TILLS:,}, not {args.bans * args.tills:,}", file=sys.stderr)
            return EXIT_USAGE
        info = demo.generate_period(
            out, period=args.period.code, n_invoices=args.invoices, n_bans=args.bans,
            tills_per_ban=args.tills, seed=args.seed, skip_rate=args.skip_rate,
            cancel_rate=args.cancel_rate, void_rate=args.void_rate, fmt=args.format,
        )
    except ValueError as exc:  # what the arguments ask for does not fit in one period
        print(f"blanktrack: demo generate: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        raise InputError(Problem(exc.filename or str(out), None, None,
                                 f"cannot write: {exc.strerror or exc}",
                                 "give a folder you may write to, on a disk with room")) from exc
    for key, value in info.items():
        print(f"{key}: {value}")
    return EXIT_OK


def cmd_lab(args: argparse.Namespace) -> int:
    from . import lab

    return lab.cmd_lab(args.work, args.fresh, args.jupyter_args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="blanktrack",
        description="Reconcile e-invoice allocations and invoices into the blank unused number "
        "report (空白未使用字軌號碼): MOF upload CSV, MIG E0402, findings and summary.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    r = sub.add_parser("reconcile", help="compute a period's blank ranges and findings")
    r.add_argument("--period", required=True, type=_period,
                   help="period: code 11302 or months 113/01~113/02")
    r.add_argument("--allocations", required=True, nargs="+", metavar="PATH",
                   help="MOF allocation download(s), canonical allocation table(s), E0501 files "
                   "or folders of them")
    r.add_argument("--invoices", nargs="*", default=[], metavar="PATH",
                   help="invoice files or folders, each known by its content: canonical table, "
                   "MIG XML, a Turnkey data folder, the platform's download, an ERP export "
                   "(leave out for a period without invoices)")
    r.add_argument("--columns", type=_columns, default=None, metavar="NAME=HEADER,…",
                   help="which header of an ERP export holds each invoice column, e.g. "
                   "invoice_number=單據號碼,invoice_date=日期")
    r.add_argument("--out-dir", required=True, type=_out_dir, metavar="DIR",
                   help="output folder; each run replaces only its own DIR/{period}/{BAN}/")
    r.add_argument("--ban", type=_ban, help="only this reporting BAN (head office or own)")
    r.add_argument("--split", choices=SPLITS, default="none",
                   help="cut blank runs at allocation or booklet edges (default: maximal runs)")
    r.add_argument("--strict", action="store_true",
                   help="exit 3 when there is an error finding (files are still written)")
    r.add_argument("--report-date", type=_date, default=None, metavar="DATE",
                   help="date the report is made, for the deadline: 114/01/06 or 2025-01-06 "
                   "(default: today)")
    r.add_argument("--workbooks", choices=WORKBOOKS, default="auto",
                   help="write each set folder's .xlsx workbook: auto (default: when the run "
                   f"has at most {AUTO_WORKBOOK_SETS} sets), always, never")
    r.add_argument("--turnkey", type=Path, default=None, metavar="DIR",
                   help="also place the E0402 files in this Turnkey data folder's "
                   "UpCast/B2PMESSAGE/E0402/SRC (never replacing a file still waiting there)")
    r.set_defaults(func=cmd_reconcile)

    c = sub.add_parser("check", help="lint MOF upload CSV and E0402 XML file(s) before upload")
    c.add_argument("files", nargs="+", metavar="FILE",
                   help="upload CSV(s), E0402 XML file(s), or folders of them (a Turnkey data "
                   "folder: also where Turnkey will not send an E0402)")
    c.add_argument("--allocations", nargs="+", metavar="PATH",
                   help="also check every range against these allocations (files or folders)")
    c.set_defaults(func=cmd_check)

    res = sub.add_parser("results", help="read Turnkey's ProcessResult / SummaryResult files "
                         "for blank reports (E0402) and attach them to the archived runs")
    res.add_argument("paths", nargs="+", type=Path, metavar="PATH",
                     help="result file(s) or a Turnkey data folder")
    res.add_argument("--archive", type=Path, default=DEFAULT_ARCHIVE, metavar="DIR")
    res.add_argument("--no-attach", action="store_true",
                     help="only list the results; record nothing in the archive")
    res.set_defaults(func=cmd_results)

    du = sub.add_parser("due", help="what is due per BAN and period: status, window, days left")
    du.add_argument("params", nargs="+", type=Path, metavar="PARAMS",
                    help="parameter file(s) or folder(s) of them")
    du.add_argument("--archive", type=Path, default=DEFAULT_ARCHIVE, metavar="DIR")
    du.add_argument("--today", type=_date, default=None, metavar="YYYY-MM-DD",
                    help="the day to judge by (default: today)")
    du.set_defaults(func=cmd_due)

    df = sub.add_parser("diff", help="what a correction changes: blank ranges per track, "
                        "findings and inputs of two archived runs of a period")
    df.add_argument("run_a", type=Path, metavar="RUN_A", help="the earlier run folder")
    df.add_argument("run_b", type=Path, metavar="RUN_B", help="the later run folder")
    df.set_defaults(func=cmd_diff)

    d = sub.add_parser("demo", help="write sample data")
    d.add_argument("what", choices=["sample", "generate"],
                   help="'sample': the small shipped period; 'generate': a large synthetic one")
    d.add_argument("--out", required=True, metavar="DIR")
    d.add_argument("--period", type=_period, default="11302")
    d.add_argument("--invoices", type=_count(0, "MAX_INVOICES"), default=1_000_000)
    d.add_argument("--bans", type=_count(1, "MAX_BANS"), default=100)
    d.add_argument("--tills", type=_count(1, "MAX_TILLS_PER_BAN"), default=10,
                   help="tills per BAN")
    d.add_argument("--seed", type=int, default=1)
    d.add_argument("--skip-rate", type=_rate, default=0.0005)
    d.add_argument("--cancel-rate", type=_rate, default=0.01)
    d.add_argument("--void-rate", type=_rate, default=0.002)
    d.add_argument("--format", choices=["csv", "parquet"], default="parquet")
    d.set_defaults(func=cmd_demo)

    run = sub.add_parser("run", help="run a period's notebook into the audit archive")
    run.add_argument("--params", required=True, type=Path, metavar="FILE",
                     help="parameter file, e.g. params/11302.yaml")
    run.add_argument("--archive", type=Path, default=DEFAULT_ARCHIVE, metavar="DIR")
    run.set_defaults(func=_runner("cmd_run"))

    runs = sub.add_parser("runs", help="list recent runs, newest first")
    runs.add_argument("--archive", type=Path, default=DEFAULT_ARCHIVE, metavar="DIR")
    runs.add_argument("--limit", type=_non_negative, default=20, help="at most this many (default 20)")
    runs.set_defaults(func=_runner("cmd_runs"))

    lab = sub.add_parser("lab", help="explore in JupyterLab on copies of the notebooks in work/")
    lab.add_argument("--work", type=Path, default=None, metavar="DIR",
                     help="the folder of the working copies, beside notebooks/ (default: work)")
    lab.add_argument("--fresh", action="store_true",
                     help="replace the working copies with the shipped notebooks")
    lab.add_argument("jupyter_args", nargs=argparse.REMAINDER, metavar="...",
                     help="passed to jupyter lab, e.g. --no-browser --port 8899")
    lab.set_defaults(func=cmd_lab)

    v = sub.add_parser("verify", help="re-hash an archived run against its manifest and the "
                       "archive's register")
    v.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    v.add_argument("--archive", type=Path, default=None, metavar="DIR",
                   help="the archive the runs are in (default: two folders up from RUN_DIR)")
    v.add_argument("--head", type=_head, default=None, metavar="HEAD",
                   help="the register head recorded earlier: the register must still lead to it")
    v.set_defaults(func=_runner("cmd_verify"))

    g = sub.add_parser("register", help="the archive's hash-chained register of runs")
    g.add_argument("action", choices=["head", "verify"],
                   help="'head': print the hash to record outside; 'verify': check the chain "
                   "and every run on it")
    g.add_argument("--archive", type=Path, default=DEFAULT_ARCHIVE, metavar="DIR")
    g.add_argument("--head", type=_head, default=None, metavar="HEAD",
                   help="(verify) the head recorded earlier")
    g.set_defaults(func=_runner("cmd_register"))
    return parser


def _runner(name: str) -> Callable[[argparse.Namespace], int]:
    """A command of run_commands.py, imported when it runs (papermill and YAML are not needed
    to reconcile)."""

    def command(args: argparse.Namespace) -> int:
        from . import run_commands

        result: int = getattr(run_commands, name)(args)
        return result

    return command


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except InputError as exc:
        print(f"blanktrack: input error:\n{exc}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("blanktrack: interrupted", file=sys.stderr)
        return 130


ALLOCATOR_SETTING = "dirty_decay_ms:5000"


def entry() -> None:
    """The `blanktrack` command: main(), then exit without tearing the interpreter down.

    Every file is written, synced and in place when main() returns; freeing the memory of a
    large period object by object would only delay the prompt. (Tests call main() itself.)

    A reader that stops reading (`| head`) ends the command quietly with EXIT_PIPE_CLOSED, as
    a command the shell's SIGPIPE ended; files are written atomically either way.
    """
    # blanktrack calls no BLAS routine, but numpy's OpenBLAS starts a thread per core at import
    # that spins for a while, on the cores the scan wants (bench/README.md). Set before numpy
    # is imported (nothing imported so far imports it); a user's own setting wins.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    # polars' allocator (jemalloc) gives memory freed more than half a second ago back to the
    # system (polars' own setting). The dense scan holds each batch longer than polars' own
    # reader, so most of what reading a CSV frees went back and was faulted in again by the next
    # read: 2.7-3.6 of a 100M CSV period's 20-23 CPU seconds were the kernel's (bench/README.md,
    # "The allocator keeps freed pages 5 s"). Set before polars is imported; polars adds this to
    # its own setting, and a user's own setting wins.
    os.environ.setdefault("_RJEM_MALLOC_CONF", ALLOCATOR_SETTING)
    try:
        try:
            code = main()
        except SystemExit as exc:  # argparse's --help and usage errors
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
            if exc.code is not None and not isinstance(exc.code, int):
                print(exc.code, file=sys.stderr)
        sys.stdout.flush()  # a reader gone shows here at the latest
    except BrokenPipeError:
        # What is still buffered can reach no one: to /dev/null, so no later flush fails.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = EXIT_PIPE_CLOSED
    with contextlib.suppress(OSError):
        sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    entry()
