"""Usage behind one door: `of_period` reduces a period's invoices to a BookletUsage, whichever
path computed it (engine.py chooses); the domain steps read only that.

Modules: `engine` (the choice, and the door), `result` (BookletUsage, built by a join or by
position), `reduction` (the one grouping, normalisation and reduction of both polars paths),
`one_pass` (its front for plainly clean raw text), `validated` (its front that validates every
row first), `by_position` (a dense scan's usage per allocation booklet), `named_invoices` (the few
invoices findings name).
"""

from .engine import of_period, warm_up
from .result import BookletUsage

__all__ = ["BookletUsage", "of_period", "warm_up"]
