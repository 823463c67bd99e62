"""How the report rows are cut: the split of blank ranges (a convention of the report, spec §4).

Read once where it enters (the command line, a parameter file, a call of reconcile) into a Split;
everything after takes it as it is. Kept apart from blanks.py, which needs polars, so that the
command line and period runs can read their options without loading it.
"""

from __future__ import annotations

from typing import Literal

Split = Literal["none", "allocation", "booklet"]
SPLITS: tuple[Split, ...] = ("none", "allocation", "booklet")


def parse_split(text: str) -> Split:
    """The Split `text` names; ValueError naming the accepted ones otherwise."""
    for split in SPLITS:
        if text == split:
            return split
    raise ValueError(f"split must be one of {', '.join(SPLITS)}, not {text!r}")
