"""The dense scan's copies of slot_tally's layout constants (dense.py and native_loop.py keep
their own, so that a run need not import numba) are the originals' values: a drift would make
the loop and its caller read the slot records, owners or issuing keys differently."""

from __future__ import annotations

import pytest

from blanktrack.usage import dense, native_loop, slot_tally


@pytest.mark.parametrize(("copy", "original"), [
    (dense.SLOT_WORDS, slot_tally.SLOT_WORDS),
    (dense.OWNER_WORDS, slot_tally.OWNER_WORDS),
    (dense.RECORD_WORDS, slot_tally.RECORD_WORDS),
    (native_loop.GROUP_DAYS, slot_tally.GROUP_DAYS),
    (native_loop.TILL_SHIFT, slot_tally.TILL_SHIFT),
    (native_loop.TILL_BITS, slot_tally.TILL_BITS),
])
def test_the_copies_are_the_originals(copy, original):
    assert copy == original
