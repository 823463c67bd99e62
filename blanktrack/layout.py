"""How the report rows are cut: the split of blank ranges (a convention of the report, spec §4).

Kept apart from blanks.py, which needs polars, so that the command line and period runs can read
their options without loading it.
"""

from __future__ import annotations

from typing import Literal

Split = Literal["none", "allocation", "booklet"]
SPLITS: tuple[Split, ...] = ("none", "allocation", "booklet")
