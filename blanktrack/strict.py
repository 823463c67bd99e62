"""Strict mode: a period with error findings must not be uploaded as it is.

The notebook's strict cell shows its outcome and records it, machine-readable, beside the HTML
(STRICT_OUTCOME_MIME): a period run reads it from the executed notebook (runner.py) to tell a
run strict mode stopped from one that failed, without parsing an error message. Kept apart
from report.py so that the runner reads it without importing polars.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .reconcile import Reconciliation


class StrictModeError(RuntimeError):
    """--strict and at least one error finding: the report must not be uploaded as it is."""


# The strict cell's outcome, machine-readable beside its HTML in the executed notebook: the
# runner reads it there (runner.strict_outcomes) instead of parsing an error message.
STRICT_OUTCOME_MIME = "application/vnd.blanktrack.strict-outcome+json"


@dataclass(frozen=True)
class StrictOutcome:
    """What strict mode decided: `stopped` when it is on and there are error findings."""

    strict: bool
    error_findings: int

    @property
    def stopped(self) -> bool:
        return self.strict and self.error_findings > 0

    def as_record(self) -> dict[str, object]:
        return {"strict": self.strict, "error_findings": self.error_findings,
                "stopped": self.stopped}

    def _repr_mimebundle_(self, include: object = None,
                          exclude: object = None) -> dict[str, object]:
        if self.stopped:
            text = (f"Strict mode: on; {self.error_findings} error finding(s): the run stops "
                    "here.")
        else:
            verdict = ("no error finding" if not self.error_findings
                       else f"{self.error_findings} error finding(s) — review before upload")
            text = f"Strict mode: {'on' if self.strict else 'off'}; {verdict}."
        return {"text/html": f"<p>{html.escape(text)}</p>", "text/plain": text,
                STRICT_OUTCOME_MIME: self.as_record()}


def enforce_strict(result: Reconciliation, strict: bool) -> StrictOutcome:
    """The strict cell: its outcome, shown (and recorded for the runner) before StrictModeError
    stops the run when strict mode is on and there are error findings."""
    outcome = StrictOutcome(strict=strict, error_findings=result.error_count)
    if outcome.stopped:
        from IPython.display import display

        display(outcome)
        raise StrictModeError(
            f"{result.error_count} error finding(s) in strict mode: resolve them before upload"
        )
    return outcome


__all__ = ["STRICT_OUTCOME_MIME", "StrictModeError", "StrictOutcome", "enforce_strict"]
