"""The command line's period-run commands: `run`, `runs`, `verify`, `register`.

Imported only when one of them runs (YAML, papermill and the archive are not needed to
reconcile); runner.py runs the period itself.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from . import archive, register
from .params import load_params
from .period import Period
from .runner import EXPORTS, RunNotRecorded, failure_reason, run_period


def cmd_run(args: argparse.Namespace) -> int:
    params = load_params(args.params)
    try:
        outcome = run_period(params, args.archive)
    except (archive.ArchiveError, RunNotRecorded, register.RegisterError) as exc:
        print(f"blanktrack: run: {printable(str(exc))}", file=sys.stderr)
        return 1
    except OSError as exc:  # the archive folder itself cannot be made (a full disk, no access)
        print(f"blanktrack: run: the archive {args.archive} cannot hold the run: {failure_reason(exc)}",
              file=sys.stderr)
        return 1
    print(outcome.run_dir)
    exports = outcome.run_dir / EXPORTS
    if exports.is_dir():  # a completed run, or one that --strict failed after writing
        from .set_workbooks import skipped_workbooks_line
        from .verdict import verdict_of_exports

        sets = [p for p in (exports / params.period).glob("[0-9]" * 8) if p.is_dir()]
        if params.workbooks == "auto" and sets and not any(any(p.glob("*.xlsx")) for p in sets):
            print(skipped_workbooks_line(len(sets), "set workbooks: always in the parameter file"))
        for line in verdict_of_exports(exports, Period.parse(params.period),
                                       params.report_date or dt.date.today()):
            print(line)
    if outcome.status != "completed":
        return 3 if outcome.stopped_by_strict else 1
    return 0


def printable(text: str) -> str:
    """text with control and other invisible characters escaped (an ANSI escape in a note must
    not drive the terminal): '\\x1b[2J' is shown, not obeyed."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii")
                   for ch in text)


def cmd_runs(args: argparse.Namespace) -> int:
    records = archive.list_runs(args.archive)[: args.limit]
    if not records:
        print(f"no runs under {printable(str(args.archive))}")
        return 0
    from .console import columns
    from .platform_results import platform_status

    try:
        answered = {p.resolve(): s for p, s in platform_status(args.archive).items()}
    except register.RegisterError:  # a damaged register: `register verify` says where
        answered = {}
    header = ("period", "run by", "started", "finished", "status", "platform", "note", "folder")
    rows = [tuple(printable(str(x)) for x in (
        r.period, r.run_by, _local(r.started), _local(r.finished), r.status,
        answered.get(Path(r.run_dir).resolve(), "—"), r.note[:60], r.run_dir))
            for r in records]
    for line in columns([header, *rows]):  # wide (CJK) characters count double
        print(line)
    return 0


def _local(stamp: object) -> str:
    """An archived ISO time in the local zone (Asia/Taipei unless TZ says otherwise); anything
    else as it is."""
    from .console import local_time

    if not isinstance(stamp, str):
        return "" if stamp is None else str(stamp)
    try:
        return local_time(dt.datetime.fromisoformat(stamp))
    except ValueError:
        return stamp


def cmd_verify(args: argparse.Namespace) -> int:
    bad = 0
    for run_dir in args.run_dirs:
        problems = archive.verify_run(Path(run_dir), args.archive, args.head)
        for p in problems:
            print(printable(f"{run_dir}: {p}"))
        if problems:
            bad += 1
        else:
            covered = " and the register" + (" up to the recorded head" if args.head else "")
            print(printable(f"{run_dir}: ok, every file matches its manifest{covered}"))
    return 1 if bad else 0


def cmd_register(args: argparse.Namespace) -> int:
    if args.action == "head":
        problems = register.check_chain(args.archive)
        for p in problems:
            print(printable(p), file=sys.stderr)
        if problems:
            return 1
        entries, _ = register.read(args.archive)
        print(register.head(args.archive))
        print(f"{len(entries)} entries in {register.register_path(args.archive)}; write the head"
              " down outside this machine, check it later with "
              "`blanktrack register verify --head HEAD`", file=sys.stderr)
        return 0
    problems = register.check_chain(args.archive, args.head)
    problems += archive.verify_archive(args.archive, args.head)
    for p in problems:
        print(printable(p))
    if problems:
        return 1
    print(printable(f"{register.register_path(args.archive)}: ok, the chain is intact"
                    + (" and leads to the recorded head" if args.head else "")
                    + " and every run on it matches its manifest"))
    return 0


__all__ = ["cmd_register", "cmd_run", "cmd_runs", "cmd_verify", "printable"]
