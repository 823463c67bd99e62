"""What a person reads in a terminal: times in Taiwan's zone and columns that stay aligned when
a cell holds Chinese (a CJK character takes two columns of a terminal)."""

from __future__ import annotations

import datetime as dt
import os
import unicodedata
from collections.abc import Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_ZONE = "Asia/Taipei"
# Taiwan has kept UTC+8 without daylight saving since 1980: the zone when no tz database exists.
_TAIPEI_FIXED = dt.timezone(dt.timedelta(hours=8), "CST")


def local_zone() -> dt.tzinfo:
    """The zone times are shown in: the machine's TZ setting when it names one, else Asia/Taipei
    (the clocks of the people who read the report; servers often run on UTC)."""
    name = os.environ.get("TZ", "").strip().lstrip(":")
    for candidate in (name, DEFAULT_ZONE):
        if not candidate:
            continue
        try:
            return ZoneInfo(candidate)
        except (ZoneInfoNotFoundError, ValueError):
            continue
    return _TAIPEI_FIXED


def local_time(moment: dt.datetime, zone: dt.tzinfo | None = None) -> str:
    """`2026-12-05 15:21:33 CST`: a moment in the local zone (local_zone() unless given). A naive
    moment is taken as UTC, as the archive records them."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    shown = moment.astimezone(zone or local_zone())
    return shown.strftime("%Y-%m-%d %H:%M:%S ") + (shown.tzname() or shown.strftime("%z"))


def display_width(text: str) -> int:
    """Columns `text` takes in a terminal: 2 for wide and full-width characters (East Asian
    Width W or F), 0 for combining marks, 1 otherwise."""
    width = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


def pad(text: str, width: int, align: str = "left") -> str:
    """`text` padded with spaces to `width` terminal columns ('left' or 'right' aligned)."""
    fill = " " * max(0, width - display_width(text))
    return text + fill if align == "left" else fill + text


def columns(rows: Sequence[Sequence[str]], right: Sequence[int] = (), gap: str = "  ") -> list[str]:
    """Rows of cells as lines with aligned columns (by terminal width); the columns whose index
    is in `right` are right-aligned (numbers). Trailing spaces are dropped."""
    if not rows:
        return []
    n = max(len(r) for r in rows)
    widths = [max((display_width(r[i]) for r in rows if i < len(r)), default=0) for i in range(n)]
    lines = []
    for row in rows:
        cells = [pad(cell, widths[i], "right" if i in right else "left")
                 for i, cell in enumerate(row)]
        lines.append(gap.join(cells).rstrip())
    return lines
