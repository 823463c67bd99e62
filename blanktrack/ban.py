"""The BAN (統一編號) check digit, under both the current and the pre-2023 rule."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # polars is loaded only where an expression is built: the CLI starts faster
    import polars as pl

_WEIGHTS = (1, 2, 1, 2, 1, 2, 4, 1)


def ban_checksum(ban: str) -> int:
    """Sum of the digit sums of each digit times its weight."""
    return sum((p // 10) + (p % 10) for p in (int(d) * w for d, w in zip(ban, _WEIGHTS, strict=True)))


@functools.lru_cache(maxsize=1 << 16)  # a file names a few hundred BANs over and over
def is_valid_ban(ban: str) -> bool:
    """True for an 8-digit BAN that passes the check.

    Since April 2023 the sum must be divisible by 5 (every BAN valid under the old
    divisible-by-10 rule still passes). When the 7th digit is 7, sum + 1 also counts.
    """
    if len(ban) != 8 or not ban.isascii() or not ban.isdigit():
        return False
    total = ban_checksum(ban)
    return total % 5 == 0 or (ban[6] == "7" and (total + 1) % 5 == 0)


def valid_ban_expr(column: str) -> pl.Expr:
    """The same check as a polars expression, so a million rows need no Python loop."""
    import polars as pl

    col = pl.col(column)
    digits = [col.str.slice(i, 1).cast(pl.Int32, strict=False) for i in range(8)]
    total = pl.sum_horizontal(
        [((d * w) // 10) + ((d * w) % 10) for d, w in zip(digits, _WEIGHTS, strict=True)]
    )
    well_formed = col.str.contains(r"^[0-9]{8}$").fill_null(False)
    return well_formed & (
        (total % 5 == 0) | ((col.str.slice(6, 1) == "7") & ((total + 1) % 5 == 0))
    ).fill_null(False)
