"""strict.py: the strict cell's outcome, shown and recorded machine-readable for the runner."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from blanktrack import report
from blanktrack.strict import StrictModeError, StrictOutcome, enforce_strict

MIME = "application/vnd.blanktrack.strict-outcome+json"


def test_a_stop_shows_and_records_itself() -> None:
    bundle = StrictOutcome(strict=True, error_findings=2)._repr_mimebundle_()
    assert bundle == {
        "text/html": "<p>Strict mode: on; 2 error finding(s): the run stops here.</p>",
        "text/plain": "Strict mode: on; 2 error finding(s): the run stops here.",
        MIME: {"strict": True, "error_findings": 2, "stopped": True},
    }


def test_off_with_errors_is_a_review_not_a_stop() -> None:
    bundle = StrictOutcome(strict=False, error_findings=3)._repr_mimebundle_()
    assert bundle["text/plain"] == "Strict mode: off; 3 error finding(s) — review before upload."
    assert bundle[MIME] == {"strict": False, "error_findings": 3, "stopped": False}


@given(strict=st.booleans(), errors=st.integers(0, 10**6))
@example(strict=True, errors=0)
@example(strict=True, errors=1)
@example(strict=False, errors=1)
def test_stopped_only_when_on_with_error_findings(strict: bool, errors: int) -> None:
    outcome = StrictOutcome(strict=strict, error_findings=errors)
    assert outcome.stopped is (strict and errors >= 1)
    assert outcome._repr_mimebundle_()[MIME]["stopped"] is outcome.stopped


def test_enforce_strict_displays_its_record_then_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    shown: list[Any] = []
    monkeypatch.setattr("IPython.display.display", lambda *objs, **kw: shown.extend(objs))
    with pytest.raises(StrictModeError, match=r"^2 error finding\(s\) in strict mode"):
        enforce_strict(SimpleNamespace(error_count=2), True)  # type: ignore[arg-type]
    assert shown == [StrictOutcome(strict=True, error_findings=2)]


def test_enforce_strict_returns_its_outcome_when_it_does_not_stop() -> None:
    result = SimpleNamespace(error_count=2)
    assert enforce_strict(result, False) == StrictOutcome(  # type: ignore[arg-type]
        strict=False, error_findings=2)
    assert report.enforce_strict is enforce_strict  # the notebook's cell calls it there
