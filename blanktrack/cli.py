"""The `blanktrack` command. Exit codes: 0 ok, 1 unusable input, 2 usage, 3 --strict with errors."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from .errors import InputError
from .layout import SPLITS
from .period import Period

EXIT_OK, EXIT_INPUT, EXIT_USAGE, EXIT_STRICT = 0, 1, 2, 3
DEFAULT_ARCHIVE = Path("archive")  # where `blanktrack run` keeps its runs


def _period(text: str) -> str:
    try:
        return Period.parse(text).code
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
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from exc


def cmd_reconcile(args: argparse.Namespace) -> int:
    from .exports import Exports
    from .reconcile import reconcile

    with Exports(args.out_dir) as exports:
        result = reconcile(
            args.period, args.allocations, args.invoices,
            ban=args.ban, split=args.split, report_date=args.report_date,
            hash_inputs=False,  # nothing here records them
            columns=args.columns,
            on_blank_ranges=exports.start,  # upload files written while findings are made
        )
        written = exports.finish(result)
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
    if args.strict and result.error_count:
        print(
            f"blanktrack: --strict: {result.error_count} error finding(s); "
            f"see {Path(args.out_dir) / 'findings.csv'} before uploading",
            file=sys.stderr,
        )
        return EXIT_STRICT
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    from .allocations import load_allocations
    from .mof_csv import check_file

    allocations = load_allocations(args.allocations) if args.allocations else None
    bad = 0
    for path in args.files:
        problems = check_file(Path(path), allocations)
        for p in problems:
            print(p)
        if problems:
            bad += 1
        else:
            print(f"{path}: ok")
    return EXIT_INPUT if bad else EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from . import demo

    if args.what == "sample":
        for path in demo.write_sample(Path(args.out)):
            print(f"wrote {path}")
        return EXIT_OK
    info = demo.generate_period(
        Path(args.out), period=args.period, n_invoices=args.invoices, n_bans=args.bans,
        tills_per_ban=args.tills, seed=args.seed, skip_rate=args.skip_rate,
        cancel_rate=args.cancel_rate, void_rate=args.void_rate, fmt=args.format,
    )
    for key, value in info.items():
        print(f"{key}: {value}")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="blanktrack",
        description="Reconcile e-invoice allocations and invoices into the blank unused number "
        "report (空白未使用字軌號碼): MOF upload CSV, MIG E0402, findings and summary.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    r = sub.add_parser("reconcile", help="compute a period's blank ranges and findings")
    r.add_argument("--period", required=True, type=_period, help="period code, e.g. 11302")
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
    r.add_argument("--out-dir", required=True, type=Path, metavar="DIR")
    r.add_argument("--ban", type=_ban, help="only this reporting BAN (head office or own)")
    r.add_argument("--split", choices=SPLITS, default="none",
                   help="cut blank runs at allocation or booklet edges (default: maximal runs)")
    r.add_argument("--strict", action="store_true",
                   help="exit 3 when there is an error finding (files are still written)")
    r.add_argument("--report-date", type=_date, default=None, metavar="YYYY-MM-DD",
                   help="date the report is made, for the deadline (default: today)")
    r.set_defaults(func=cmd_reconcile)

    c = sub.add_parser("check", help="lint MOF upload CSV file(s) before upload")
    c.add_argument("files", nargs="+", metavar="FILE.csv")
    c.add_argument("--allocations", nargs="+", metavar="FILE",
                   help="also check every range against these allocations")
    c.set_defaults(func=cmd_check)

    d = sub.add_parser("demo", help="write sample data")
    d.add_argument("what", choices=["sample", "generate"],
                   help="'sample': the small shipped period; 'generate': a large synthetic one")
    d.add_argument("--out", required=True, metavar="DIR")
    d.add_argument("--period", type=_period, default="11302")
    d.add_argument("--invoices", type=int, default=1_000_000)
    d.add_argument("--bans", type=int, default=100)
    d.add_argument("--tills", type=int, default=10, help="tills per BAN")
    d.add_argument("--seed", type=int, default=1)
    d.add_argument("--skip-rate", type=float, default=0.0005)
    d.add_argument("--cancel-rate", type=float, default=0.01)
    d.add_argument("--void-rate", type=float, default=0.002)
    d.add_argument("--format", choices=["csv", "parquet"], default="parquet")
    d.set_defaults(func=cmd_demo)

    run = sub.add_parser("run", help="run a period's notebook into the audit archive")
    run.add_argument("--params", required=True, type=Path, metavar="FILE",
                     help="parameter file, e.g. params/11302.yaml")
    run.add_argument("--archive", type=Path, default=DEFAULT_ARCHIVE, metavar="DIR")
    run.set_defaults(func=_runner("cmd_run"))

    runs = sub.add_parser("runs", help="list recent runs, newest first")
    runs.add_argument("--archive", type=Path, default=DEFAULT_ARCHIVE, metavar="DIR")
    runs.add_argument("--limit", type=int, default=20)
    runs.set_defaults(func=_runner("cmd_runs"))

    v = sub.add_parser("verify", help="re-hash an archived run against its manifest")
    v.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    v.set_defaults(func=_runner("cmd_verify"))
    return parser


def _runner(name: str) -> Callable[[argparse.Namespace], int]:
    """A command of runner.py, imported when it runs (papermill, YAML and the archive are not
    needed to reconcile)."""

    def command(args: argparse.Namespace) -> int:
        from . import runner

        result: int = getattr(runner, name)(args)
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


def entry() -> None:
    """The `blanktrack` command: main(), then exit without tearing the interpreter down.

    Every file is written, synced and in place when main() returns; freeing the gigabytes of a
    large period object by object would only add a quarter of a second before the prompt
    returns. (Tests call main() itself.)
    """
    try:
        code = main()
    except SystemExit as exc:  # argparse's --help and usage errors
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
        if exc.code is not None and not isinstance(exc.code, int):
            print(exc.code, file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    entry()
