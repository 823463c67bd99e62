"""booklet_slots numbers the allocations' booklets: each slot says its track, booklet and seller,
and the table finds it from the track and booklet (checked here booklet by booklet against
allocation_booklets)."""

from __future__ import annotations

from factories import allocations
from hypothesis import given, settings
from hypothesis import strategies as st

from blanktrack.booklets import allocation_booklets, prepare_allocations
from blanktrack.usage.booklet_slots import booklet_slots

_BANS = ("53567686", "12345675")
_ALLOCATION = st.tuples(st.sampled_from(("AB", "CD", "ZZ")), st.integers(0, 40),
                        st.integers(0, 3), st.sampled_from(_BANS))


@settings(max_examples=100, deadline=None)
@given(st.lists(_ALLOCATION, min_size=1, max_size=12))
def test_every_allocation_booklet_has_its_slot(rows: list[tuple[str, int, int, str]]) -> None:
    prepared = prepare_allocations(allocations([
        {"track": track, "begin": first * 50, "end": (first + more) * 50 + 49, "ban": ban}
        for track, first, more, ban in rows]))
    slots = booklet_slots(prepared)
    assert slots is not None
    booklets = allocation_booklets(prepared)
    sellers: dict[tuple[str, int], set[str]] = {}
    for track, booklet, ban in booklets.select("track", "booklet", "ban").iter_rows():
        sellers.setdefault((track, booklet), set()).add(ban)
    assert slots.by_allocation == (len(sellers) == booklets.height)
    for k, (track, booklet, ban) in enumerate(booklets.select("track", "booklet", "ban")
                                              .iter_rows()):
        t = slots.tracks.index(track)
        slot = slots.booklet_slot[slots.track_base[t] + booklet - slots.track_first[t]]
        if slots.by_allocation:
            assert slot == k  # slot k is allocation booklet k
        assert (slots.slot_track[slot], slots.slot_booklet[slot]) == (t, booklet)
        one_seller = len(sellers[(track, booklet)]) == 1
        assert slots.slot_ban[slot] == (slots.bans.index(ban) if one_seller else -2)
    held = slots.booklet_slot[slots.booklet_slot >= 0]
    assert sorted(held.tolist()) == list(range(len(sellers)))  # one slot per booklet held
