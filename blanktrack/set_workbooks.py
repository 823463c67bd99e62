"""Which set folders get their `{BAN}_{period}.xlsx` workbook (`--workbooks`, params
`workbooks:`). A workbook costs far more to write than the rest of its set together, so a run of
hundreds of reporting BANs (an accounting office's) writes them only when asked.

Kept apart from workbook.py and exports.py, which need polars, so that the command line and
period runs can read their options without loading it.
"""

from __future__ import annotations

from typing import Literal

Workbooks = Literal["auto", "always", "never"]
WORKBOOKS: tuple[Workbooks, ...] = ("auto", "always", "never")
AUTO_WORKBOOK_SETS = 20  # `auto` writes the workbooks of a run of at most this many sets


def writes_workbooks(workbooks: Workbooks, sets: int) -> bool:
    """Whether a run of `sets` set folders writes their workbooks."""
    if workbooks not in WORKBOOKS:
        raise ValueError(f"workbooks must be one of {', '.join(WORKBOOKS)}, not {workbooks!r}")
    return workbooks == "always" or (workbooks == "auto" and sets <= AUTO_WORKBOOK_SETS)


def skipped_workbooks_line(sets: int, how: str = "pass --workbooks always") -> str:
    """The one line a run prints when `auto` left the workbooks out, and how to get them."""
    return f"workbooks not written for {sets} sets (more than {AUTO_WORKBOOK_SETS}): {how}"
