"""usage/native_loop.py: the dense scan's loop as machine code kept on disk and loaded without numba.

The machine code must do exactly what numba's dispatcher does with the same loop (hypothesis,
on batches with every kind of row), load in a process that never imports numba, and never be
trusted when damaged; when it cannot be built the scan still runs, through numba, and says so.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import llvmlite.binding as llvm
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from blanktrack.booklets import USAGE_MASKS
from blanktrack.usage import native_loop as native

N_SLOTS = 12
TRACKS = {"AB": 0, "CD": 1}  # track → index; ZZ holds no allocation


@pytest.fixture(scope="module")
def both() -> tuple[native.Kernels, native.Kernels]:
    machine = native.kernels()
    assert machine.kind == "native", "this machine should load the native loop"
    return machine, native._numba_kernels()


def batch_arrays(draw: st.DrawFn, offsets_dtype: str) -> tuple[list[object], int]:
    """Arguments of tally_batch for one random batch, tables included (start and counters 0)."""
    n = draw(st.integers(0, 60))
    texts = []
    for _ in range(n):
        track = draw(st.sampled_from(["AB", "CD", "ZZ", "Ab"]))
        number = draw(st.integers(0, 20 * 50 + 30))
        text = f"{track}{number:08d}"
        slip = draw(st.integers(0, 12))
        if slip == 0:
            text = text[:-1]  # 9 characters
        elif slip == 1:
            text = text[:5] + "x" + text[6:]  # not a digit
        texts.append(text)
    data = np.frombuffer("".join(texts).encode() or b"", np.uint8).copy()
    offsets = np.zeros(n + 1, offsets_dtype)
    offsets[1:] = np.cumsum([len(t) for t in texts]) if texts else []
    n_dates, n_bans, n_machines, n_status, n_upload = 5, 4, 3, 3, 2

    def codes(k: int) -> np.ndarray:
        return np.array(draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n)), np.int32)

    per_row = [codes(n_dates), codes(n_bans), codes(n_machines), codes(n_status), codes(n_upload)]
    date_offset = np.array(draw(st.lists(st.integers(-3, 3), min_size=n_dates,
                                         max_size=n_dates)), np.int32)
    date_day = np.array(draw(st.lists(st.integers(0, 60), min_size=n_dates, max_size=n_dates)),
                        np.int32)
    ban_id = np.array(draw(st.lists(st.sampled_from([0, 1, -1, -3]), min_size=n_bans,
                                    max_size=n_bans)), np.int32)
    machine_id = np.arange(n_machines, dtype=np.int32)
    status_class = np.array(draw(st.lists(st.integers(0, 2), min_size=n_status,
                                          max_size=n_status)), np.int8)
    upload_failed = np.array([False, True])
    track_slot = np.full(676, -1, np.int32)
    for track, k in TRACKS.items():
        track_slot[(ord(track[0]) - 65) * 26 + ord(track[1]) - 65] = k
    track_first = np.array([0, 4], np.int64)  # AB booklets 0..7, CD booklets 4..11
    track_span = np.array([8, 8], np.int64)
    track_base = np.array([0, 8], np.int64)
    # Each slot one booklet's, of one track (as booklet_slots numbers them); some booklets none.
    places = np.array(draw(st.permutations(range(16))), np.int32)
    unheld = np.array(draw(st.lists(st.booleans(), min_size=16, max_size=16)))
    booklet_slot = np.where((places < N_SLOTS) & ~unheld, places, -1).astype(np.int32)
    slot_ban = np.array(draw(st.lists(st.sampled_from([0, 1, -2]), min_size=N_SLOTS,
                                      max_size=N_SLOTS)), np.int32)
    slot_owner = np.stack([slot_ban, np.full(N_SLOTS, -1, np.int32)], axis=1).ravel()
    slot_state = np.zeros(N_SLOTS * (len(USAGE_MASKS) + 1), np.uint64)  # masks, live rows
    args: list[object] = [
        n, False, offsets, data, *per_row,
        date_offset, date_day, ban_id, machine_id, status_class, upload_failed,
        track_slot, track_first, track_base, track_span, booklet_slot, slot_owner, slot_state,
    ]
    return args, n


def finished(slot_owner: np.ndarray, slot_state: np.ndarray, counts: native.IssuingCounts,
             exceptions: np.ndarray, left: int) -> list[object]:
    """What a thread's tally says once done, whatever numbers its issuing groups got: each
    slot's till, the masks, the issuing counts by (seller, till, track, day) key, the
    exceptions, the rows left out."""
    keyed = counts.keyed()
    order = np.argsort(keyed[0::2])
    return [counts.tills(slot_owner[1::2]), slot_state, keyed[0::2][order], keyed[1::2][order],
            counts.groups, exceptions, left]


def run(kernels: native.Kernels, args: list[object], n: int) -> list[object]:
    """A scanning thread's calls of tally_batch for one batch (the table of issuing groups
    starts tiny and grows): what finished() says, and how many calls it took."""
    args = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    counts = native.IssuingCounts.empty(4)
    exceptions = np.zeros(max(n, 1), np.int64)
    done = ne = left = 0
    calls = 0
    while True:
        done, ne, counts.groups, out = kernels.tally_batch(*args, *counts.arguments(), exceptions,
                                                           ne, done)
        left += out
        calls += 1
        if done == n:
            break
        counts = kernels.issuing_grow(counts)
    return [*finished(args[20], args[21], counts, exceptions[:ne], left), calls]


def run_partitioned(kernels: native.Kernels, args: list[object], n: int,
                    shift: int, room: int) -> list[object]:
    """The same batch through the partitioned tally (buckets of 2**shift booklet places, room
    for `room` records each): what finished() says, and how many calls of tally_records it
    took."""
    args = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    slot_owner, slot_state = args[20], args[21]
    assert isinstance(slot_owner, np.ndarray) and isinstance(slot_state, np.ndarray)
    counts = native.IssuingCounts.empty(4)
    exceptions = np.zeros(max(n, 1), np.int64)
    booklet_slot = args[19]
    assert isinstance(booklet_slot, np.ndarray)
    seat = np.stack([booklet_slot, np.where(booklet_slot >= 0,
                                            slot_owner[0::2][np.maximum(booklet_slot, 0)], -1)],
                    axis=1).ravel().astype(np.int32)  # as booklet_slots.Slots.booklet_seat
    track_slot, track_base, track_span = args[15], args[17], args[18]
    assert isinstance(track_slot, np.ndarray) and isinstance(track_base, np.ndarray)
    assert isinstance(track_span, np.ndarray)
    track_code = np.zeros(len(slot_owner) // 2, np.int32)  # as Slots.slot_track_code
    for code in np.flatnonzero(track_slot >= 0):
        k = track_slot[code]
        held = booklet_slot[track_base[k]:track_base[k] + track_span[k]]
        track_code[held[held >= 0]] = code
    # Regions of `room` records a bucket: a full one stops the first pass, and the records so
    # far take their second pass before it goes on (as dense._partitioned does).
    buckets = (len(booklet_slot) >> shift) + 1
    ends = np.arange(1, buckets + 1, dtype=np.int64) * room
    records = np.zeros(2 * buckets * room, np.uint64)
    seen = np.zeros(max(1, (1 << shift) >> 6), np.uint64)
    done = ne = left = calls = 0
    while True:
        fill = np.concatenate([[0], ends[:-1]])
        done, m, ne, out = kernels.partition_batch(*args[:19], shift, records, fill, ends,
                                                   exceptions, ne, 0, done)
        left += out
        assert m == (fill - np.r_[0, ends[:-1]]).sum(), "the records written, counted"
        bucket = start = 0
        while True:
            bucket, start, ne, counts.groups = kernels.tally_records(
                records, fill, ends, bucket, start, shift, seen, seat, track_code, slot_owner,
                slot_state, *counts.arguments(), exceptions, ne)
            calls += 1
            if bucket == buckets:
                break
            counts = kernels.issuing_grow(counts)
        if done == n:
            break
    exceptions[:ne].sort()
    assert not seen.any(), "tally_records leaves its bits clear"
    return [*finished(slot_owner, slot_state, counts, exceptions[:ne], left), calls]


def assert_same(got: tuple, want: tuple) -> None:
    """Two kernels' results alike: arrays of one dtype and the same values, integers equal."""
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        if isinstance(w, np.ndarray):
            assert g.dtype == w.dtype and np.array_equal(g, w)
        else:
            assert g == w


@settings(max_examples=150, deadline=None)
@given(data=st.data(), offsets=st.sampled_from(["int32", "int64"]))
def test_the_machine_code_tallies_as_numba_does(
        both: tuple[native.Kernels, native.Kernels], data: st.DataObject, offsets: str) -> None:
    args, n = batch_arrays(data.draw, offsets)
    machine, dispatcher = both
    assert_same(run(machine, args, n), run(dispatcher, args, n))


@settings(max_examples=150, deadline=None)
@given(data=st.data(), offsets=st.sampled_from(["int32", "int64"]),
       shift=st.sampled_from([0, 1, 3, 31]), room=st.sampled_from([1, 2, 5, 1 << 12]))
def test_the_partitioned_tally_tallies_as_the_single_pass(
        both: tuple[native.Kernels, native.Kernels], data: st.DataObject, offsets: str,
        shift: int, room: int) -> None:
    """partition_batch and tally_records, as machine code and through numba, give what
    tally_batch gives: buckets of one booklet place each (rows of a booklet never share one
    with another's), of two, of eight, and one bucket for all; regions of one record a bucket
    (a second pass at every full bucket), of a few, and of room for all; the issuing groups'
    table grown on the way."""
    args, n = batch_arrays(data.draw, offsets)
    want = run(both[1], args, n)[:-1]
    for kernels in both:
        assert_same(run_partitioned(kernels, args, n, shift, room)[:-1], want)


def scattered_batch(rows: int, places: int, seed: int) -> tuple[list[object], int]:
    """Arguments of tally_batch for a batch of `rows` rows of one seller and till, in no order,
    over the booklets of one track (AB, `places` booklets, numbered in shuffled slots; every
    tenth booklet held by no slot): enough rows in one bucket for tally_records to ask for the
    bucket's slots first (slot_tally.WARM_RECORDS, 1024)."""
    rng = np.random.default_rng(seed)
    numbers = rng.integers(0, 50 * places, rows)
    data = np.frombuffer("".join(f"AB{k:08d}" for k in numbers).encode(), np.uint8).copy()
    offsets = np.arange(rows + 1, dtype=np.int64) * 10
    zeros = np.zeros(rows, np.int32)
    # Today, yesterday (near) and far from the period; live, void and other rows.
    dates = rng.integers(0, 3, rows).astype(np.int32)
    status = rng.integers(0, 3, rows).astype(np.int32)
    track_slot = np.full(676, -1, np.int32)
    track_slot[1] = 0  # AB
    booklet_slot = rng.permutation(places).astype(np.int32)
    booklet_slot[::10] = -1
    slot_owner = np.stack([np.zeros(places, np.int32), np.full(places, -1, np.int32)],
                          axis=1).ravel()
    args: list[object] = [
        rows, False, offsets, data, dates, zeros, zeros, status, zeros,
        np.array([0, -1, 5], np.int32), np.array([3, 2, 1], np.int32), np.array([0], np.int32),
        np.array([0], np.int32), np.array([0, 1, 2], np.int8), np.array([False]),
        track_slot, np.array([0], np.int64), np.array([0], np.int64),
        np.array([places], np.int64), booklet_slot, slot_owner,
        np.zeros(places * (len(USAGE_MASKS) + 1), np.uint64),
    ]
    return args, rows


@pytest.mark.parametrize("seed", [1, 2])
def test_a_scattered_bucket_tallies_as_the_single_pass(
        both: tuple[native.Kernels, native.Kernels], seed: int) -> None:
    """Thousands of rows in no order over the 4,096 places of one bucket (the scan's bucket
    size), so that tally_records asks for the bucket's slots before it tallies them: the same
    result as tally_batch, as machine code and through numba; and with the rows in booklet
    order (few distinct places at a time: not asked for) too."""
    args, n = scattered_batch(3000, 4096, seed)
    want = run(both[1], args, n)[:-1]
    assert np.count_nonzero(want[1]) > 2000, "most slots used"
    for kernels in both:
        assert_same(run_partitioned(kernels, args, n, 12, 4096)[:-1], want)
    in_order = np.argsort(np.frombuffer(args[3], "S10"), kind="stable")  # type: ignore[arg-type]
    data = np.frombuffer(args[3], "S10")[in_order].view(np.uint8)  # type: ignore[arg-type]
    args = [*args[:3], data, *(a[in_order] for a in args[4:9]), *args[9:]]  # type: ignore[index]
    want = run(both[1], args, n)[:-1]
    for kernels in both:
        assert_same(run_partitioned(kernels, args, n, 12, 4096)[:-1], want)


def test_scattered_tells_rows_in_no_order_from_runs() -> None:
    """slot_tally._scattered: 128 records of 128 places (rows in no order) are scattered; 128
    records of 40 tills' runs (rows in date order) are not; its bits are left clear."""
    from blanktrack.usage import slot_tally

    seen = np.zeros(64, np.uint64)
    rng = np.random.default_rng(0)
    shuffled = rng.permutation(4096)[:128].astype(np.uint64) | (np.uint64(7) << np.uint64(26))
    runs = (rng.integers(0, 40, 128) * 100).astype(np.uint64)
    for places, want in ((shuffled, True), (runs, False)):
        records = np.zeros(2 * 130, np.uint64)
        records[2:2 * 129:2] = places + np.uint64(5 << 12)  # in bucket 5, from record 1
        assert slot_tally._scattered(records, 1, 12, seen) is want
        assert not seen.any()


@settings(max_examples=5, deadline=None)
@given(data=st.data())
def test_arrays_of_another_type_are_refused(both: tuple[native.Kernels, native.Kernels],
                                            data: st.DataObject) -> None:
    args, n = batch_arrays(data.draw, "int32")
    table = [*native.IssuingCounts.empty(4).arguments(), np.zeros(n + 1, np.int64), 0, 0]
    args[4] = np.asarray(args[4], np.int64)  # date codes as int64: C would read them wrong
    with pytest.raises(TypeError, match="date_codes: a contiguous 1-d int32 array"):
        both[0].tally_batch(*args, *table)
    args[4] = np.zeros(2 * n + 4, np.int32)[::2]  # the right type, not contiguous
    with pytest.raises(TypeError, match="date_codes"):
        both[0].tally_batch(*args, *table)
    args[4] = np.zeros(n, np.int32)
    args[5] = np.zeros(n, ">i4")  # int32 by name, bytes the other way round
    with pytest.raises(TypeError, match="ban_codes: a contiguous 1-d int32 array"):
        both[0].tally_batch(*args, *table)
    args[5] = np.zeros(n, np.int32)
    args[2] = np.asarray(args[2], np.int16)  # offsets neither int32 nor int64
    with pytest.raises(TypeError, match="offsets: a contiguous 1-d int32 array"):
        both[0].tally_batch(*args, *table)


def test_a_new_process_loads_it_without_numba(both: tuple[native.Kernels, native.Kernels]
                                              ) -> None:
    code = ("import sys\nfrom blanktrack.usage import native_loop as native\nk = native.kernels()\n"
            "print(k.kind, 'numba' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["native", "False"]


def use_cache(monkeypatch: pytest.MonkeyPatch, *folders: Path) -> None:
    monkeypatch.setattr(native, "cache_folders", lambda: list(folders))
    monkeypatch.setattr(native, "_kernels", None)


def test_built_once_then_loaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    unusable = tmp_path / "a-file"
    unusable.write_text("not a folder")
    use_cache(monkeypatch, unusable / "cache", tmp_path / "user")  # the first cannot be created
    assert native.kernels().kind == "native"
    [kept] = (tmp_path / "user").iterdir()
    assert kept.name.startswith("tally-native-") and kept.read_bytes().startswith(native._FORMAT)
    monkeypatch.setattr(native, "_kernels", None)
    monkeypatch.setattr(native, "_build", lambda llvm: pytest.fail("built again"))
    assert native.kernels().kind == "native"


def test_a_damaged_file_is_built_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_cache(monkeypatch, tmp_path)
    name = f"tally-native-{native._key(llvm)}.bin"
    good = native._build(llvm)
    (tmp_path / name).write_bytes(good[:-100] + b"\0" * 100)  # damaged: LLVM would crash on it
    with pytest.warns(RuntimeWarning, match="could not be loaded .*checksum"):
        assert native.kernels().kind == "native"
    assert (tmp_path / name).read_bytes()[-100:] == good[-100:]  # replaced by a good one


def test_a_new_file_removes_the_stale_ones(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A file of other sources, versions or CPU is never loaded (another name) and goes when the
    current one is written, with the partial file of a writer killed long ago; anything else in
    the folder (numba's own cache, another program's file, a partial file being written) stays."""
    use_cache(monkeypatch, tmp_path)
    stale = tmp_path / "tally-native-0123456789abcdef01234567.bin"
    stale.write_bytes(b"stale")
    killed = tmp_path / ".tally-native-0123456789abcdef01234567.bin.4242-1"
    killed.write_bytes(b"half")
    os.utime(killed, (time.time() - 7200, time.time() - 7200))
    writing = tmp_path / ".tally-native-89abcdef0123456789abcdef.bin.4243-1"
    writing.write_bytes(b"half")
    others = [tmp_path / "slot_tally.tally_batch-12.py311.nbi", tmp_path / "tally-native-notes.txt"]
    for other in others:
        other.write_bytes(b"kept")
    native.kernels()
    current = f"tally-native-{native._key(llvm)}.bin"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [current, writing.name, *(o.name for o in others)])


def test_a_file_removed_meanwhile_is_built(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Another install's run may remove this key's file between two runs: it is built again,
    without a warning (filterwarnings = error)."""
    use_cache(monkeypatch, tmp_path)
    native.kernels()
    [kept] = tmp_path.iterdir()
    kept.unlink()
    monkeypatch.setattr(native, "_kernels", None)
    assert native.kernels().kind == "native"
    assert [p.name for p in tmp_path.iterdir()] == [kept.name]


def test_when_it_cannot_be_built_numba_runs_the_loop(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    use_cache(monkeypatch, tmp_path)

    def broken(llvm: object) -> bytes:
        raise AttributeError("'JITCodeLibrary' object has no attribute '_final_module'")

    monkeypatch.setattr(native, "_build", broken)
    with pytest.warns(RuntimeWarning, match="could not be built .*_final_module"):
        assert native.kernels().kind == "numba"
    assert list(tmp_path.iterdir()) == []


def test_when_the_new_file_cannot_be_loaded_numba_runs_the_loop(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_cache(monkeypatch, tmp_path)

    def unloadable(llvm: object, data: bytes) -> native.Kernels:
        raise RuntimeError("LLVM ERROR: a relocation it does not know")

    monkeypatch.setattr(native, "_native_kernels", unloadable)
    with pytest.warns(RuntimeWarning, match="could not be built .*relocation.*loads numba"):
        assert native.kernels().kind == "numba"


@pytest.mark.parametrize(("ban", "machine", "track", "day", "key"), [
    (1, 2, "CD", 60, 4398047049532),  # 1 << 42 | 2 << 18 | (2 * 26 + 3) << 8 | 60
    # The largest of each part: BAN 2**21 - 1, till 2**24 - 1, ZZ (675), day 61.
    (2**21 - 1, 2**24 - 1, "ZZ", 61, 9223372036854686525),
])
def test_the_issuing_key_holds_ban_till_track_and_day(
        both: tuple[native.Kernels, native.Kernels], ban: int, machine: int, track: str,
        day: int, key: int) -> None:
    """One row dated in P, in its seller's booklet: one issuing key, packed as dense.py reads it
    (a non-negative int64 even at the largest BAN, till, track and day)."""
    data = np.frombuffer(f"{track}00000007".encode(), np.uint8).copy()
    offsets = np.array([0, 10], np.int32)
    zero = np.zeros(1, np.int32)
    track_slot = np.full(676, -1, np.int32)
    track_slot[(ord(track[0]) - 65) * 26 + ord(track[1]) - 65] = 0
    one = np.ones(1, np.int64)
    args: list[object] = [
        1, False, offsets, data, zero, zero, zero, zero, zero,
        np.zeros(1, np.int32), np.array([day], np.int32), np.array([ban], np.int32),
        np.array([machine], np.int32), np.array([1], np.int8), np.array([False]),
        track_slot, np.zeros(1, np.int64), np.zeros(1, np.int64), one, np.zeros(1, np.int32),
        np.array([ban, -1], np.int32), np.zeros(len(USAGE_MASKS) + 1, np.uint64),
    ]
    for kernels in both:
        _, _, keys, counts, groups, exceptions, _, _ = run(kernels, args, 1)
        assert groups == 1 and len(exceptions) == 0
        assert keys.tolist() == [key] and counts.tolist() == [1]
        _, _, keys, counts, groups, exceptions, _, _ = run_partitioned(kernels, args, 1, 0, 1)
        assert groups == 1 and len(exceptions) == 0
        assert keys.tolist() == [key] and counts.tolist() == [1]


def test_numba_cache_files_of_moved_functions_go(tmp_path: Path) -> None:
    """numba names a function's cache files by its first line, and leaves a file whose function
    has since moved: those go, with those of a function gone; every other file stays."""
    current = {("slot_tally", "tally_batch", 137), ("key_coding", "day_codes", 125)}
    kept = ["slot_tally.tally_batch-137.py311.nbi", "slot_tally.tally_batch-137.py311.1.nbc",
            "slot_tally.tally_batch-137.py311.2.nbc", "key_coding.day_codes-125.py312.nbi",
            "key_coding.day_codes-125.py312.1.nbc",  # another Python's, of the same source
            "slot_tally.cpython-311.pyc", "dense.scan-12.py311.nbi", "tally-native-0123.bin",
            "slot_tally.tally_batch-137.py311.nbi.tmp"]
    stale = ["slot_tally.tally_batch-112.py311.nbi", "slot_tally.tally_batch-112.py311.1.nbc",
             "key_coding.day_codes-124.py311.3.nbc", "key_coding._code_of-130.py311.nbi",
             "key_coding._code_of-130.py311.1.nbc", "slot_tally._flush-112.py311d.2.nbc"]
    for name in kept + stale:
        (tmp_path / name).write_bytes(b"x")
    native.remove_stale_numba_files(tmp_path, current)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(kept)
    native.remove_stale_numba_files(tmp_path / "absent", current)  # no folder: nothing to do


def test_numbas_own_cache_files_are_named_as_current(
        both: tuple[native.Kernels, native.Kernels]) -> None:
    """The names numba gave its cache files of the loop (a function run through numba's
    dispatcher is cached) are those the pruning keeps: none of the current ones is taken for
    stale, and the numba run left no file of a function's other line."""
    _, numba_run = both
    numba_run.day_codes(np.zeros(3, np.int64), 0, 0, np.zeros(3, np.int32))
    folder = native.numba_cache_folder()
    functions = native._numba_functions()
    assert ("key_coding", "day_codes") in {(m, f) for m, f, _ in functions}
    ours = [p.name for p in folder.iterdir()
            if p.name.startswith(("slot_tally.", "key_coding.")) and p.suffix in (".nbi", ".nbc")]
    version = f".py{sys.version_info[0]}{sys.version_info[1]}"
    [line] = [n for m, f, n in functions if (m, f) == ("key_coding", "day_codes")]
    assert f"key_coding.day_codes-{line}{version}.nbi" in ours
    for name in ours:
        found = native._NUMBA_FILE.match(name)
        assert found, name
        assert (found[1], found[2], int(found[3])) in functions, name
