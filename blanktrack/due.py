"""What is due: per BAN and period, how far the blank report has come and how long is left.

Every parameter file (one period, usually one reporting BAN: an accounting office keeps one per
client and period) is set against the archive. A period's status comes from its newest finished
run of the same period and BAN:

- ``not run``: no run (or no parameter file yet for the period due today, spec §6);
- ``run with errors``: the run failed, never finished, or has error findings;
- ``completed``: a clean run (no error finding); ``verified``: and its files still match its
  manifest; ``handed to Turnkey``: its E0402 files were placed in Turnkey's SRC and no answer
  came since; ``platform accepted`` / ``platform partly failed`` / ``platform failed``: the
  platform's answers attached to that run (``blanktrack results``).

The window is day 1 to day 10 of the month after the period (spec §6). A period needs attention
(the command exits non-zero) when it is late or due within three days and has no clean run, or
the platform refused part of it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from blanktrack.archive import MANIFEST, list_runs, read_manifest, verify_run
from blanktrack.errors import InputError
from blanktrack.labels import read_people_csv
from blanktrack.params import load_params
from blanktrack.period import Period, current_period, deadline_status
from blanktrack.platform_results import (
    RUN_FAILED,
    RUN_HANDED,
    RUN_PARTLY_FAILED,
    RUN_UPLOADED,
    platform_status,
)

NOT_RUN, WITH_ERRORS, COMPLETED, VERIFIED = "not run", "run with errors", "completed", "verified"
ACCEPTED, HANDED = "platform accepted", "handed to Turnkey"
PLATFORM = {RUN_UPLOADED: ACCEPTED, RUN_PARTLY_FAILED: "platform partly failed",
            RUN_FAILED: "platform failed", RUN_HANDED: HANDED}
CLEAN = frozenset({COMPLETED, VERIFIED, HANDED, ACCEPTED})
ALERT_DAYS = 3  # due within this many days and no clean run: exit non-zero


@dataclass(frozen=True)
class DueRow:
    ban: str  # '' when the parameter file names no BAN (every BAN of its allocations)
    period: Period
    status: str
    params_file: str  # '' when there is none yet
    run_dir: Path | None
    today: dt.date
    note: str = ""

    @property
    def window(self) -> tuple[dt.date, dt.date]:
        return self.period.report_window

    @property
    def timing(self) -> str:
        d = deadline_status(self.period, self.today)
        if d.state == "early":
            return f"opens in {d.days} day(s)"
        if d.state == "open":
            return f"{d.days} day(s) left"
        return f"{d.days} day(s) late"

    @property
    def needs_attention(self) -> bool:
        d = deadline_status(self.period, self.today)
        if self.status in ("platform failed", "platform partly failed"):
            return True
        if self.status in CLEAN:
            return False
        return d.state == "late" or (d.state == "open" and d.days <= ALERT_DAYS)


def params_files(paths: Iterable[Path]) -> list[Path]:
    """The parameter files: each file given, and ``*.yaml``/``*.yml`` in each folder given."""
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found.extend(sorted(p for p in path.iterdir()
                                if p.suffix in (".yaml", ".yml") and p.is_file()))
        else:
            found.append(path)
    return found


def _error_findings(run_dir: Path) -> int:
    count = 0
    for path in run_dir.rglob("findings.csv"):
        count += sum(row.get("severity") == "error" for row in read_people_csv(path))
    return count


def run_status(run_dir: Path, status: str, uploaded: dict[Path, str]) -> str:
    """The status of one archived run (see the module docstring); ``uploaded``: platform_status
    with resolved paths."""
    if status != "completed" or _error_findings(run_dir):
        return WITH_ERRORS
    if run_dir.resolve() in uploaded:
        return PLATFORM[uploaded[run_dir.resolve()]]
    return VERIFIED if verify_run(run_dir) == [] else COMPLETED


def due(params: Iterable[Path], archive: Path, today: dt.date | None = None,
        clock: Callable[[], dt.date] = dt.date.today, base_dir: Path | None = None
        ) -> list[DueRow]:
    """One row per parameter file, plus one per BAN whose period due today has none; sorted by
    period, BAN."""
    today = today or clock()
    runs = _archived_runs(archive)
    uploaded = {Path(k).resolve(): v for k, v in platform_status(archive).items()}

    rows: list[DueRow] = []
    seen: set[tuple[str, str]] = set()
    for path in params_files(params):
        try:
            p = load_params(path, base_dir)
        except InputError as exc:
            rows.append(DueRow("?", current_period(today), "unreadable parameter file", str(path),
                               None, today, str(exc).splitlines()[0]))
            continue
        period = Period.parse(p.period)
        seen.add((p.ban or "", p.period))
        rows.append(_row(p.ban, period, str(path), runs.get((p.period, p.ban), []), uploaded,
                         today))
    current = current_period(today)
    for ban in sorted({ban for ban, _ in seen if ban}):
        if (ban, current.code) not in seen:
            rows.append(DueRow(ban, current, NOT_RUN, "", None, today,
                               "no parameter file for this period yet"))
    return sorted(rows, key=lambda r: (r.period, r.ban, r.params_file))


def _archived_runs(archive: Path) -> dict[tuple[str, str | None], list[tuple[Path, str]]]:
    """(period, BAN) → its runs (folder, status), newest first."""
    runs: dict[tuple[str, str | None], list[tuple[Path, str]]] = {}
    for record in list_runs(archive):  # newest first
        try:
            ban = read_manifest(record.run_dir).get("parameters", {}).get("ban")
        except (OSError, ValueError):
            ban = None
        runs.setdefault((record.period, ban), []).append((record.run_dir, record.status))
    return runs


def _row(ban: str | None, period: Period, params_file: str,
         candidates: list[tuple[Path, str]], uploaded: dict[Path, str], today: dt.date) -> DueRow:
    """The row of one BAN and period from its runs (newest first): the newest finished one."""
    finished = [(d, s) for d, s in candidates if s in ("completed", "failed")]
    pick = finished[0] if finished else (candidates[0] if candidates else None)
    if pick is None:
        return DueRow(ban or "", period, NOT_RUN, params_file, None, today)
    run_dir, status = pick
    return DueRow(ban or "", period, run_status(run_dir, status, uploaded), params_file, run_dir,
                  today)


def status_here(period: str, ban: str | None, today: dt.date, here: Path | None = None
                ) -> DueRow:
    """What `blanktrack due` says of this BAN and period, for the reconcile notebook: the
    window and days left or late on `today` and, when the notebook runs in a run folder of an
    archive (``{archive}/{period}/{run}``, where `blanktrack run` executes it), the status of
    the newest earlier run of the period and BAN there (this run itself is not finished yet).
    Opened elsewhere, no archive is known: the note says so."""
    here = (here or Path.cwd()).resolve()
    p = Period.parse(period)
    if not (here / MANIFEST).is_file() or here.parent.name != p.code:
        return DueRow(ban or "", p, NOT_RUN, "", None, today,
                      "not run from an archive: earlier runs unknown")
    archive = here.parent.parent
    earlier = [(d, s) for d, s in _archived_runs(archive).get((p.code, ban), [])
               if d.resolve() != here]
    uploaded = {Path(k).resolve(): v for k, v in platform_status(archive).items()}
    return _row(ban, p, "", earlier, uploaded, today)


def render(rows: list[DueRow]) -> str:
    header = ("BAN", "period", "window", "timing", "status", "parameter file / run")
    table = [header]
    for r in rows:
        start, end = r.window
        where = r.params_file or "(none)"
        if r.run_dir is not None:
            where += f" → {r.run_dir}"
        if r.note:
            where += f" ({r.note})"
        table.append((r.ban or "(all)", f"{r.period.code} {r.period.label}",
                      f"{start.isoformat()}..{end.isoformat()}", r.timing, r.status, where))
    widths = [max(len(row[i]) for row in table) for i in range(len(header) - 1)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  " + row[-1]
             for row in table]
    attention = [r for r in rows if r.needs_attention]
    for r in attention:
        lines.append(f"attention: BAN {r.ban or '(all)'} period {r.period.code}: {r.status}, "
                     f"{r.timing}")
    return "\n".join(line.rstrip() for line in lines) + "\n"
