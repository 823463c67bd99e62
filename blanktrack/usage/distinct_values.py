"""What each distinct text value of the invoices means to the dense scan's loop: a date's period
offset and day, a seller's index among the allocations' BANs, a till's number, a status's class,
whether an upload failed. Each value is looked at once, here, and all of them again at the end by
reduction.key_map, the same polars expressions as validation, which has the last word.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

import numpy as np
import polars as pl

from ..invoice_rules import LIVE_STATUSES, day_of, status_of, upload_status_of
from ..period import Period, date_period_index, period_index
from .reduction import key_map

# What the tally's per-code tables say (slot_tally.py reads them as constants).
BAN_FILTERED = -3  # ban_id of a seller the reconciliation leaves out (--ban)
BAN_OTHER = -1  # ban_id of a seller that holds no allocation here
STATUS_LIVE, STATUS_VOID = 1, 2  # status_class values; 0 = neither

class NotClean(Exception):
    """A value the dense scan does not take as it is: the polars paths decide."""


class ValueCodes:
    """Per column, each distinct raw value seen once: its meaning for the tally."""

    def __init__(self, period: Period, bans: list[str], filtered: bool) -> None:
        self.period = period
        self.p = period_index(period)
        self.ban_index = {b: i for i, b in enumerate(bans)}
        self.filtered = filtered
        self.dates: dict[str | None, tuple[int, int, dt.date]] = {}
        self.sellers: dict[str | None, int] = {}
        self.machines: dict[str | None, int] = {}
        self.statuses: dict[str | None, tuple[int, str]] = {}
        self.uploads: dict[str | None, tuple[bool, str | None]] = {}

    def date(self, raw: str | None) -> tuple[int, int, dt.date]:
        if raw not in self.dates:
            day = day_of(raw)
            if day is None:
                raise NotClean(raw)
            offset = date_period_index(day) - self.p
            self.dates[raw] = (offset, (day - self.period.first_day).days if offset == 0 else 0,
                               day)
        return self.dates[raw]

    def seller(self, raw: str | None) -> int:
        if raw not in self.sellers:
            if raw is None:
                raise NotClean(raw)
            known = self.ban_index.get(raw)
            self.sellers[raw] = (known if known is not None
                                 else BAN_FILTERED if self.filtered else BAN_OTHER)
        return self.sellers[raw]

    def machine(self, raw: str | None) -> int:
        if raw not in self.machines:
            if raw is not None and (not raw or raw != raw.strip()):
                raise NotClean(raw)  # needs normalising: the polars path does that
            self.machines[raw] = len(self.machines)
        return self.machines[raw]

    def status(self, raw: str | None) -> int:
        if raw not in self.statuses:
            norm = status_of(raw) if raw and raw == raw.strip() else None
            if norm is None:
                raise NotClean(raw)
            klass = (STATUS_LIVE if norm in LIVE_STATUSES
                     else STATUS_VOID if norm == "voided" else 0)
            self.statuses[raw] = (klass, norm)
        return self.statuses[raw][0]

    def upload(self, raw: str | None) -> bool:
        if raw not in self.uploads:
            norm = None
            if raw is not None:
                norm = upload_status_of(raw) if raw == raw.strip() else None
                if norm is None:
                    raise NotClean(raw)
            self.uploads[raw] = (norm == "failed", norm)
        return self.uploads[raw][0]

    def confirmed(self) -> bool:
        """Whether polars' validation (reduction.key_map) agrees with every value taken here."""
        seen: dict[str, dict[str | None, object]] = {
            "invoice_date": {raw: v[2] for raw, v in self.dates.items()},
            "seller_ban": {raw: raw for raw in self.sellers},
            "machine": {raw: raw for raw in self.machines},
            "status": {raw: v[1] for raw, v in self.statuses.items()},
            "upload_status": {raw: v[1] for raw, v in self.uploads.items()},
        }
        for column, values in seen.items():
            if not values:
                continue
            frame = pl.DataFrame({column: list(values)}, schema={column: pl.String})
            mapping = key_map(frame, column)
            if mapping is None:
                return False
            for raw, norm in mapping.iter_rows():
                if raw in values and values[raw] != norm:
                    return False
        return True


def table(values: Sequence[str | None], meaning: Callable[[str | None], object],
          dtype: type) -> np.ndarray:
    return np.array([meaning(v) for v in values], dtype)
