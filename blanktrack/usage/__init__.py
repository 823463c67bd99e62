"""Usage behind one door: `of_period` reduces a period's invoices to a BookletUsage, whichever
path computed it (engine.py chooses); the domain steps read only that.

Modules: `engine` (the choice, and the door), `result` (BookletUsage, built by a join or by
position), `reduction` (the one grouping, normalisation and reduction of both polars paths),
`one_pass` (its front for plainly clean raw text), `validated` (its front that validates every
row first), `by_position` (a dense scan's usage per allocation booklet), `named_invoices` (the few
invoices findings name), `read_ahead` and `parquet_plan` (the dense scan's first reads, started
before polars is loaded).

The names below are loaded on first use, so that `read_ahead` and `parquet_plan` import without
polars.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .engine import of_period, warm_up
    from .result import BookletUsage

__all__ = ["BookletUsage", "of_period", "warm_up"]
_HOMES = {"BookletUsage": ".result", "of_period": ".engine", "warm_up": ".engine"}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name], __name__), name)
    try:  # a module of the package, as `usage.engine` (imported on first use too)
        return importlib.import_module(f".{name}", __name__)
    except ModuleNotFoundError as exc:
        if exc.name != f"{__name__}.{name}":
            raise  # a module it imports is missing: say so
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
