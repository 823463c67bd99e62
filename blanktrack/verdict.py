"""The verdict of a period in words a person reads first: blank numbers to report, errors and
warnings to look at, the deadline with days left or late. Plain text for the terminal
(`reconcile`, `run`); report.verdict shows the same on the record's page."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .labels import read_people_csv
from .period import DeadlineStatus, Period, deadline_status, roc_date
from .schemas import SEVERITY_RANK

if TYPE_CHECKING:
    from .reconcile import Reconciliation

MAX_BANS_SHOWN = 5  # an accounting office's run of hundreds of BANs: a count, not a list


def deadline_words(status: DeadlineStatus) -> tuple[str, bool]:
    """The deadline as a person says it, and whether it is bad news."""
    window = (f"{status.window_start.isoformat()} ~ {status.window_end.isoformat()} "
              f"({roc_date(status.window_start)}~{roc_date(status.window_end)})")
    if status.state == "late":
        return f"{status.days} day(s) late 逾期 {status.days} 天 — window was {window}", True
    if status.state == "early":
        return (f"period not over yet: window {window} opens in {status.days} day(s) "
                f"(尚未截止, {status.days} 天後開始申報)"), False
    if status.days == 0:
        return f"last day today 今日截止 — window {window}", False
    return f"{status.days} day(s) left 尚餘 {status.days} 天 — window {window}", False


def verdict_lines(period: Period, reporting_bans: Sequence[str], blank_numbers: int,
                  ranges: int, errors: int, warnings: int, report_date: dt.date) -> list[str]:
    """Two lines: what goes to the MOF and what a person must look at; the deadline."""
    deadline_text, late = deadline_words(deadline_status(period, report_date))
    bans = (f"reporting BAN {', '.join(reporting_bans) or '—'}"
            if len(reporting_bans) <= MAX_BANS_SHOWN else
            f"{len(reporting_bans)} reporting BANs "
            f"({', '.join(reporting_bans[:MAX_BANS_SHOWN])}, …)")
    first = (f"verdict {period.code} ({period.label}), "
             f"{bans}: {blank_numbers} blank number(s) in {ranges} "
             f"range(s) to report; {errors} error(s), {warnings} warning(s) to look at")
    return [first, f"deadline: {'LATE — ' if late else ''}{deadline_text}"]


def verdict_of_exports(out_dir: Path, period: Period, report_date: dt.date) -> list[str]:
    """The verdict read back from the upload files and findings a run wrote under out_dir
    ({period}/{BAN}/): what a period run (whose reconciliation lives in its kernel) prints."""
    sets = sorted(p for p in (Path(out_dir) / period.code).glob("[0-9]" * 8) if p.is_dir())
    blank_numbers = ranges = 0
    for folder in sets:
        upload = folder / f"{folder.name}_{period.code}.csv"
        if upload.is_file():
            for line in upload.read_text(encoding="ascii").splitlines():
                fields = line.split(",")
                blank_numbers += int(fields[5]) - int(fields[4]) + 1
                ranges += 1
    # a finding of no BAN of the run is in every set: counted once
    findings = {tuple(row.items()) for folder in sets if (folder / "findings.csv").is_file()
                for row in read_people_csv(folder / "findings.csv")}
    severities = [dict(row).get("severity") for row in findings]
    return verdict_lines(period, [p.name for p in sets], blank_numbers, ranges,
                         severities.count("error"), severities.count("warning"), report_date)


def reporting_bans(result: Reconciliation) -> list[str]:
    """The BANs the run reports for: the one asked for (--ban), else every head BAN summed."""
    if result.ban:
        return [result.ban]
    return sorted(b for b in result.summary["head_ban"].unique().to_list() if b is not None)


def severity_counts(result: Reconciliation) -> dict[str, int]:
    """Findings per severity (every severity of the catalogue, 0 where none)."""
    counts = dict(result.findings.group_by("severity").len().iter_rows())
    return {s: int(counts.get(s, 0)) for s in SEVERITY_RANK}


def verdict_lines_of(result: Reconciliation, report_date: dt.date | None = None) -> list[str]:
    """The verdict of a reconciliation for a terminal, in two lines: blank numbers, errors and
    warnings; the deadline with days left or late (of `report_date`, else the
    reconciliation's report date)."""
    exported = result.exported_ranges
    counts = severity_counts(result)
    return verdict_lines(result.period, reporting_bans(result), int(exported["count"].sum()),
                         exported.height, counts["error"], counts["warning"],
                         report_date or result.report_date)
