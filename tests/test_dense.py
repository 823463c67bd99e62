"""The dense scan (dense.dense_usage) against the one-pass polars path (raw_usage.fast_usage).

dense_usage must give exactly what fast_usage gives (by_machine, issuing, counted), or None when
the input is not plainly clean; reconcile must find the same with it as without it.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from factories import allocations as allocation_frame
from hypothesis import given, settings
from hypothesis import strategies as st

import blanktrack.reconcile as rec
from blanktrack import invoices as inv
from blanktrack.booklets import USAGE_MASKS, allocation_booklets, prepare_allocations
from blanktrack.period import Period
from blanktrack.usage import dense, engine
from blanktrack.usage import native_loop as native
from blanktrack.usage.one_pass import fast_usage

P = Period.parse("11302")
BAN_A, BAN_B, BAN_X = "53567686", "04595257", "22099131"  # X: valid, but holds no allocation
COLUMNS = ("invoice_number", "invoice_date", "seller_ban", "status", "machine", "upload_status")

# Whole booklets of 50, one shared by two allocations of one BAN (AB booklet 3), one shared by two
# BANs (CD booklet 5), one track used by both BANs (AB), machines on some allocations.
ALLOCATION_ROWS = [
    {"ban": BAN_A, "track": "AB", "begin": 0, "end": 149},
    {"ban": BAN_A, "track": "AB", "begin": 150, "end": 174, "machine": "POS-1"},
    {"ban": BAN_A, "track": "AB", "begin": 175, "end": 199},
    {"ban": BAN_B, "track": "AB", "begin": 200, "end": 249},
    {"ban": BAN_B, "track": "CD", "begin": 100, "end": 249, "machine": "POS-2"},
    {"ban": BAN_B, "track": "CD", "begin": 250, "end": 274},
    {"ban": BAN_A, "track": "CD", "begin": 275, "end": 299},
    {"ban": BAN_A, "track": "CD", "begin": 1000, "end": 1049},  # a gap of booklets in the track
]


def scoped(ban: str | None) -> tuple[pl.DataFrame, pl.Series | None]:
    """(prepared allocations, bans) as reconcile passes them, for one reporting BAN or all."""
    frame = allocation_frame(ALLOCATION_ROWS)
    if ban is None:
        return prepare_allocations(frame), None
    prepared = prepare_allocations(frame.filter((pl.col("ban") == ban) | (pl.col("head_ban") == ban)))
    return prepared, prepared["ban"].unique()


DAYS = [
    dt.date(2022, 1, 15),  # far away
    dt.date(2023, 11, 30), dt.date(2023, 12, 31),  # previous period
    dt.date(2024, 1, 1), dt.date(2024, 1, 15), dt.date(2024, 2, 1), dt.date(2024, 2, 29),  # in it
    dt.date(2024, 3, 1), dt.date(2024, 4, 30),  # next period
    dt.date(2024, 5, 2),  # two periods on
]

STATUSES = st.sampled_from(["issued", "cancelled", "voided", "開立", "作廢", "註銷", "ISSUED", "Voided"])
UPLOADS = st.sampled_from(["accepted", "failed", "FAILED", None])
# Anything: numbers inside and outside the allocations, any seller, any date, any till.
any_row = st.tuples(
    st.sampled_from(["AB", "CD", "EF"]),
    st.one_of(st.integers(0, 320), st.sampled_from([1010, 99_999_999])),
    st.sampled_from(DAYS), st.booleans(),  # compact date spelling
    st.sampled_from([BAN_A, BAN_A, BAN_B, BAN_X]),
    STATUSES, st.sampled_from(["POS-1", "POS-2", None]), UPLOADS,
)
# What a till mostly writes: a number of its seller's allocation, dated in the period, one till.
allocated_row = st.sampled_from(ALLOCATION_ROWS).flatmap(lambda a: st.tuples(
    st.just(a["track"]), st.integers(a["begin"], a["end"]),
    st.one_of(st.sampled_from(DAYS[3:7]), st.sampled_from(DAYS)), st.booleans(),
    st.just(a["ban"]), STATUSES, st.sampled_from(["POS-1", "POS-1", "POS-1", "POS-2", None]), UPLOADS,
))
invoice_rows = st.lists(st.one_of(allocated_row, allocated_row, any_row), min_size=1, max_size=80)
# Runs as a till writes them (consecutive numbers, one day, one till; they may run past the end of
# the allocation), with single rows of anything between: the loop gathers a run's bits apart.
till_run = allocated_row.flatmap(lambda r: st.lists(st.tuples(STATUSES, UPLOADS), min_size=1,
                                                    max_size=60).map(
    lambda rest: [(r[0], r[1] + k, r[2], r[3], r[4], status, r[6], upload)
                  for k, (status, upload) in enumerate(rest)]))
run_rows = st.lists(st.one_of(till_run, till_run, any_row.map(lambda r: [r])), min_size=1,
                    max_size=8).map(lambda runs: [row for run in runs for row in run])
# Per file: (has a machine column, has an upload_status column, header in capitals, written as CSV)
Layout = tuple[bool, bool, bool, bool]
layouts = st.lists(st.tuples(st.booleans(), st.booleans(), st.booleans(), st.booleans()),
                   min_size=3, max_size=3)
PARQUET_ONLY: list[Layout] = [(True, True, False, False)] * 3


def text_frame(rows: Sequence[Sequence[str | None]], columns: Sequence[str] = COLUMNS) -> pl.DataFrame:
    return pl.DataFrame([list(r) for r in rows], schema={c: pl.String for c in columns}, orient="row")


def write(folder: Path, data: list[tuple], parts: int, layout: list[Layout],
          group_rows: int | None = None) -> list[Path]:
    """The rows dealt round-robin to `parts` files, each Parquet (all columns text, row groups of
    group_rows) or CSV as its layout says."""
    files = []
    for k in range(parts):
        rows = [(f"{track}{n:08d}", day.strftime("%Y%m%d" if compact else "%Y-%m-%d"), ban, status,
                 machine, upload)
                for track, n, day, compact, ban, status, machine, upload in data[k::parts]]
        if not rows:
            continue
        with_machine, with_upload, capitals, as_csv = layout[k]
        frame = text_frame(rows)
        frame = frame.select([c for c in COLUMNS if (c != "machine" or with_machine)
                              and (c != "upload_status" or with_upload)])
        if capitals:
            frame = frame.rename(str.upper)
        if as_csv:
            path = folder / f"inv{k}.csv"
            frame.write_csv(path)
        else:
            path = folder / f"inv{k}.parquet"
            frame.write_parquet(path, row_group_size=group_rows)
        files.append(path)
    return files


def canonical(df: pl.DataFrame) -> list[tuple]:
    return sorted(df.select(sorted(df.columns)).rows(), key=repr)


def on_own_booklets(by_machine: pl.DataFrame, allocations: pl.DataFrame) -> pl.DataFrame:
    """by_machine with far_mask kept only on booklets its seller holds, and rows left with no
    mark dropped. Invoices dated far from P are only findings where they fall in the seller's
    own allocations: the dense scan looks no further (a file of a whole year would otherwise
    hand it every row of the other periods), the polars paths keep them all."""
    own = allocation_booklets(allocations).select(
        seller_ban="ban", track="track", booklet="booklet", own=pl.lit(True)).unique()
    return (
        by_machine.join(own, on=["seller_ban", "track", "booklet"], how="left")
        .with_columns(far_mask=pl.when(pl.col("own")).then("far_mask").otherwise(0))
        .filter(pl.any_horizontal(pl.col(*USAGE_MASKS) != 0) | (pl.col("live_rows") != 0))
        .select(by_machine.columns)
    )


def on_booklets(foreign: pl.DataFrame, allocations: pl.DataFrame) -> pl.DataFrame:
    """The numbers sellers left out by --ban used, on the allocations' booklets only: the dense
    scan looks at no other (they cannot be blank numbers of the BANs reported)."""
    return foreign.join(allocation_booklets(allocations).select("track", "booklet").unique(),
                        on=["track", "booklet"], how="semi")


def assert_same(got: tuple[pl.DataFrame, ...] | None, want: tuple[pl.DataFrame, ...] | None,
                allocations: pl.DataFrame | None = None) -> None:
    assert want is not None, "fast_usage must take clean input"
    assert got is not None, "dense_usage must take clean input"
    held = allocations if allocations is not None else scoped(None)[0]
    got = (on_own_booklets(got[0], held), *got[1:3], on_booklets(got[3], held))
    want = (on_own_booklets(want[0], held), *want[1:3], on_booklets(want[3], held))
    for name, g, w in zip(("by_machine", "issuing", "counted", "foreign"), got, want,
                          strict=True):
        assert sorted(g.columns) == sorted(w.columns), name
        assert canonical(g.cast(w.schema)) == canonical(w), name  # type: ignore[arg-type]


@contextmanager
def progress_guard() -> Iterator[list[int]]:
    """Make a dense scan that stops making progress fail instead of spinning for ever.

    After growing its issuing table, a scanning thread calls tally_batch again from the row where
    it stopped; a call that returns its own start row twice running (in one thread) means the
    scan never moves on. Yields the rows each call returned, so a test can see the table grew."""
    kernels = native.kernels()
    original = kernels.tally_batch
    calls: list[int] = []
    last: dict[int, tuple[int, int]] = {}

    def guarded(*args):  # type: ignore[no-untyped-def]
        start = args[-1]
        result = original(*args)
        done, me = result[0], threading.get_ident()
        calls.append(done)
        if done == start and last.get(me) == (start, done):
            raise AssertionError(f"tally_batch makes no progress at row {start} of a batch: "
                                 "dense_usage would loop for ever")
        last[me] = (start, done)
        return result

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(kernels, "tally_batch", guarded)
        yield calls


def both(files: Sequence[Path], ban: str | None = None) -> tuple[object, object, pl.DataFrame]:
    allocations, bans = scoped(ban)
    with progress_guard():
        got = dense.dense_usage(files, P, allocations, bans)
    return got, fast_usage(files, P, bans), allocations


# ---------------------------------------------------------------------------------------------
# Same result as fast_usage.


@settings(max_examples=60, deadline=None)
@given(invoice_rows, st.integers(1, 3), st.sampled_from([None, BAN_A, BAN_B]))
def test_dense_equals_fast_path_parquet(data: list[tuple], parts: int, ban: str | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        files = write(Path(tmp), data, parts, PARQUET_ONLY)
        assert_same(*both(files, ban))


@settings(max_examples=60, deadline=None)
@given(invoice_rows, st.integers(1, 3), layouts, st.sampled_from([None, BAN_A, BAN_B]), st.booleans())
def test_dense_equals_fast_path_any_layout(data: list[tuple], parts: int, layout: list[Layout],
                                          ban: str | None, large_csv: bool) -> None:
    """Optional columns left out, header names in capitals, CSV files among the Parquet ones (also
    as a CSV too large to decode in memory, which both paths scan as UTF-8 with polars)."""
    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as mp:
        if large_csv:
            mp.setattr(inv, "LARGE_FILE_BYTES", 0)
        files = write(Path(tmp), data, parts, layout)
        assert_same(*both(files, ban))


@settings(max_examples=30, deadline=None)
@given(invoice_rows, st.integers(1, 3), layouts, st.sampled_from([None, BAN_A]), st.integers(1, 3),
       st.integers(1, 20))
def test_dense_equals_fast_path_in_tiny_batches(data: list[tuple], parts: int, layout: list[Layout],
                                                ban: str | None, threads: int, group_rows: int) -> None:
    """Batches of 7 rows, row groups of a few rows spread over 1-3 threads, and an issuing table
    of 2 slots that has to grow again and again."""
    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as mp:
        mp.setattr(dense, "BATCH_ROWS", 7)
        mp.setattr(dense, "CSV_BATCH_ROWS", 7)
        mp.setattr(dense, "ISSUING_START", 2)
        mp.setattr(dense, "THREADS", threads)
        mp.setattr(dense, "ROW_GROUPS_PER_TASK", 1)
        files = write(Path(tmp), data, parts, layout, group_rows)
        assert_same(*both(files, ban))


def test_clean_rows_of_one_booklet_per_till(tmp_path: Path) -> None:
    """The common case, nothing left to polars: one till per booklet, all dates in the period."""
    rows = [(f"AB{n:08d}", f"2024-01-{1 + n % 28:02d}", BAN_A, "issued", "POS-1", "accepted")
            for n in range(0, 120)]
    rows += [(f"CD{n:08d}", f"202402{1 + n % 28:02d}", BAN_B, "作廢", "POS-2", "failed")
             for n in range(100, 240, 3)]
    text_frame(rows).write_parquet(tmp_path / "a.parquet")
    assert_same(*both([tmp_path / "a.parquet"]))  # type: ignore[arg-type]


def test_a_csv_scan_keeps_its_codes_from_file_to_file(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """One thread reads two CSV files in batches of 7 rows: the second meets the first's values
    in another order, and new ones among them (a till longer than a string view holds
    inline); each value keeps the code it was first given (csv_batches.KeyCodes)."""
    monkeypatch.setattr(dense, "THREADS", 1)
    monkeypatch.setattr(dense, "CSV_BATCH_ROWS", 7)
    first = [(f"AB{n:08d}", f"2024-01-{1 + n % 3:02d}", BAN_A, "issued", f"POS-{n % 2}",
              "accepted") for n in range(20)]
    second = [(f"CD{n:08d}", f"2024-01-{3 - n % 3:02d}", BAN_B, "作廢",
               ["POS-1", "收銀機-一樓-東側", "POS-0"][n % 3], "failed") for n in range(100, 130)]
    text_frame(first).write_csv(tmp_path / "a.csv")
    text_frame(second).write_csv(tmp_path / "b.csv")
    assert_same(*both([tmp_path / "a.csv", tmp_path / "b.csv"]))  # type: ignore[arg-type]


def test_filtered_ban_rows_are_not_counted(tmp_path: Path) -> None:
    """With a reporting BAN, another seller's rows are left out of the counts, as fast_usage does."""
    rows = [("AB00000001", "2024-01-05", BAN_A, "issued", "POS-1", "accepted"),
            ("AB00000201", "2024-01-05", BAN_B, "issued", "POS-1", "accepted")]
    text_frame(rows).write_parquet(tmp_path / "a.parquet")
    assert_same(*both([tmp_path / "a.parquet"], BAN_A))  # type: ignore[arg-type]


def test_null_machine_and_upload_status(tmp_path: Path) -> None:
    """Nulls in the optional columns are one more dictionary code (and emit no warning)."""
    rows = [("AB00000001", "2024-01-05", BAN_A, "issued", None, None),
            ("AB00000002", "2024-01-05", BAN_A, "issued", "POS-1", "failed")]
    text_frame(rows).write_parquet(tmp_path / "a.parquet")
    assert_same(*both([tmp_path / "a.parquet"]))  # type: ignore[arg-type]


def test_two_threads_one_row_group_each(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each thread tallies one row group: a booklet both saw with different tills, one both saw
    with the same till, and issuing keys both counted must merge as the one group-by does."""
    monkeypatch.setattr(dense, "THREADS", 2)
    monkeypatch.setattr(dense, "ROW_GROUPS_PER_TASK", 1)
    day = ("2024-01-05", BAN_A, "issued")
    first = [("AB00000001", *day, "POS-1", "accepted"), ("AB00000051", *day, "POS-1", "accepted"),
             ("AB00000052", "2024-01-06", BAN_A, "voided", "POS-1", "failed")]
    second = [("AB00000002", *day, "POS-2", "accepted"), ("AB00000053", *day, "POS-1", "accepted"),
              ("AB00000051", "20240105", BAN_A, "開立", "POS-1", "failed")]
    path = tmp_path / "a.parquet"
    pq.write_table(text_frame(first + second).to_arrow(), path, row_group_size=3)
    assert pq.ParquetFile(path).metadata.num_row_groups == 2
    # Hold each thread at its first batch until the other has taken a row group too.
    barrier = threading.Barrier(2, timeout=10)
    started: set[int] = set()
    real = dense._Scan._parquet_batch

    def batch(self, *args):  # type: ignore[no-untyped-def]
        if threading.get_ident() not in started:
            started.add(threading.get_ident())
            barrier.wait()
        return real(self, *args)

    monkeypatch.setattr(dense._Scan, "_parquet_batch", batch)
    got, want, allocations = both([path])
    assert len(started) == 2
    assert_same(got, want, allocations)  # type: ignore[arg-type]


def test_a_thread_codes_each_batch_by_its_own_dictionaries(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """One thread reads row groups whose dictionaries hold the same sellers, tills and days in
    another order, or one value more: the per-code tables a thread keeps from its batch before
    (_Scan._tables) are used only for the same values in the same order."""
    monkeypatch.setattr(dense, "THREADS", 1)
    a = ("2024-01-05", BAN_A, "issued", "POS-1", "accepted")
    b = ("2024-01-06", BAN_B, "voided", "POS-2", "failed")
    c = ("2024-01-07", BAN_A, "開立", "POS-3", "accepted")
    groups = [[("AB00000001", *a), ("CD00000101", *b)],
              [("CD00000102", *b), ("AB00000002", *a)],  # the same values, the other order
              [("AB00000003", *a), ("CD00000103", *b)],  # the first order again
              [("AB00000004", *c), ("AB00000005", *a), ("CD00000104", *b)]]  # one more of each
    path = tmp_path / "a.parquet"
    with pq.ParquetWriter(path, text_frame(groups[0]).to_arrow().schema) as writer:
        for rows in groups:
            writer.write_table(text_frame(rows).to_arrow())
    assert pq.ParquetFile(path).metadata.num_row_groups == 4
    made: list[int] = []
    real = dense.table

    def counted(*args):  # type: ignore[no-untyped-def]
        made.append(1)
        return real(*args)

    monkeypatch.setattr(dense, "table", counted)
    got, want, allocations = both([path])
    assert_same(got, want, allocations)  # type: ignore[arg-type]
    # Six tables (two of the day) for each row group, whose values all differ from the group
    # before's (the third's are the first's, but only the thread's last are kept), but the
    # fourth: its sellers (A, B) and upload statuses (accepted, failed) are the third's.
    assert len(made) == 6 + 6 + 6 + 4


@settings(max_examples=60, deadline=None)
@given(run_rows, st.booleans(), st.integers(1, 3), st.integers(1, 3))
def test_dense_equals_fast_path_on_tills_runs(data: list[tuple], tiny: bool, threads: int,
                                              groups_per_task: int) -> None:
    """Runs of one till's numbers, in one file (else they are dealt round-robin and broken up),
    in batches of 7 rows with an issuing table that must grow inside a run, or in one batch."""
    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as mp:
        if tiny:
            mp.setattr(dense, "BATCH_ROWS", 7)
            mp.setattr(dense, "ISSUING_START", 2)
        mp.setattr(dense, "THREADS", threads)
        mp.setattr(dense, "ROW_GROUPS_PER_TASK", groups_per_task)
        files = write(Path(tmp), data, 1, PARQUET_ONLY, 13 if tiny else 40)
        assert_same(*both(files, None))


# ---------------------------------------------------------------------------------------------
# Many batches, and an issuing table that must grow.


def issuing_keys_rows(lead: int) -> list[tuple[str, ...]]:
    """35 booklets of AB, one till each, one invoice a day for the 60 days of the period: 2100
    (ban, machine, day) keys, more than the 2048 the first issuing table holds. `lead` rows dated
    outside P±1 come first, to move where the 2048th key falls against the batch boundaries."""
    rows = [("AB00000000", "2023-05-01", BAN_A, "issued", "T0", "accepted")] * lead
    for b in range(35):
        for d in range(60):
            day = P.first_day + dt.timedelta(days=d)
            rows.append((f"AB{b * 50 + d % 50:08d}", day.isoformat(), BAN_A, "issued", f"T{b}", "accepted"))
    return rows


@pytest.mark.parametrize("lead", range(7))
def test_issuing_table_grows_in_tiny_batches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             lead: int) -> None:
    monkeypatch.setattr(dense, "BATCH_ROWS", 7)
    monkeypatch.setattr(dense, "CSV_BATCH_ROWS", 7)
    path = tmp_path / "a.parquet"
    text_frame(issuing_keys_rows(lead)).write_parquet(path)
    allocations = prepare_allocations(allocation_frame([{"ban": BAN_A, "track": "AB", "begin": 0,
                                                         "end": 35 * 50 - 1}]))
    with progress_guard() as calls:
        got = dense.dense_usage([path], P, allocations, None)
    batches = -(-(lead + 2100) // 7)
    assert len(calls) > batches, "the issuing table did not grow"
    want = fast_usage([path], P, None)
    assert_same(got, want, allocations)
    assert want is not None and want[1].height == 2100


def test_issuing_table_grows_in_one_batch(tmp_path: Path) -> None:
    path = tmp_path / "a.parquet"
    rows = issuing_keys_rows(0)
    text_frame(rows[::-1] + rows).write_parquet(path)  # every key twice, two spellings
    allocations = prepare_allocations(allocation_frame([{"ban": BAN_A, "track": "AB", "begin": 0,
                                                         "end": 35 * 50 - 1}]))
    with progress_guard():
        got = dense.dense_usage([path], P, allocations, None)
    assert_same(got, fast_usage([path], P, None), allocations)


# ---------------------------------------------------------------------------------------------
# Input the dense scan leaves to the polars paths.

GOOD_ROW = ("AB00000001", "2024-01-05", BAN_A, "issued", "POS-1", "accepted")


def with_value(column: str, value: str | None) -> list[tuple[str | None, ...]]:
    bad = list(GOOD_ROW)
    bad[COLUMNS.index(column)] = value
    return [GOOD_ROW, ("AB00000002", *GOOD_ROW[1:]), tuple(bad)]


def exception_rows(n: int) -> list[tuple[str, ...]]:
    """One row inside the allocations and n the dense model leaves to polars."""
    outside = [(f"EF{k:08d}", *GOOD_ROW[1:]) for k in range(n)]
    return [GOOD_ROW, *outside]


def dense_on(files: Sequence[Path], ban: str | None = None) -> object:
    allocations, bans = scoped(ban)
    with progress_guard():
        return dense.dense_usage(files, P, allocations, bans)


def test_clean_baseline_is_taken(tmp_path: Path) -> None:
    """The refusals below differ from this input only in the value named."""
    text_frame([GOOD_ROW, ("AB00000002", *GOOD_ROW[1:])]).write_parquet(tmp_path / "a.parquet")
    assert dense_on([tmp_path / "a.parquet"]) is not None


def test_csv_among_parquet_files(tmp_path: Path) -> None:
    """CSV invoices are scanned too (text keys read as Categorical codes), next to Parquet ones."""
    rows = [*exception_rows(3), ("AB00000002", "20240105", BAN_A, "作廢", "POS-2", "FAILED"),
            ("AB00000002", "20240105", BAN_A, "作廢", "POS-1", "accepted")]
    text_frame(rows).write_csv(tmp_path / "a.csv")
    text_frame(rows[::-1]).write_parquet(tmp_path / "b.parquet")
    paths = [tmp_path / "a.csv", tmp_path / "b.parquet"]
    assert_same(*both(paths))  # type: ignore[arg-type]
    assert_same(*both(paths, BAN_B))  # type: ignore[arg-type]


def test_takes_a_date_column(tmp_path: Path) -> None:
    path = tmp_path / "a.parquet"
    text_frame([GOOD_ROW]).with_columns(pl.col("invoice_date").str.to_date()).write_parquet(path)
    assert dense_on([path]) is not None  # tests/test_shapes_dense.py holds its result


@pytest.mark.parametrize(("column", "dtype"), [
    ("invoice_date", pl.Float64), ("status", pl.Int64), ("invoice_number", pl.Int64),
    ("upload_status", pl.Boolean), ("machine", pl.Float64),
])
def test_refuses_a_column_type_the_validation_refuses(column: str, dtype: pl.DataType,
                                                      tmp_path: Path) -> None:
    """Left to the polars path, whose message names the column and its type."""
    path = tmp_path / "a.parquet"
    pl.DataFrame({**{c: ["x"] for c in COLUMNS}, column: pl.Series([1]).cast(dtype)}
                 ).write_parquet(path)
    assert dense_on([path]) is None


@pytest.mark.parametrize(("column", "value"), [
    ("status", " issued"),
    ("status", "issued "),
    ("status", "unknown"),
    ("machine", " POS-1"),
    ("machine", "POS-1 "),
    ("machine", ""),
    ("upload_status", ""),
    ("upload_status", " failed"),
    ("upload_status", "pending"),
    ("invoice_number", "AB1234567"),
    ("invoice_number", "ab00000001"),
    ("invoice_number", "AB0000000A"),
    ("invoice_number", "AB 0000001"),
    ("invoice_number", "AB000000001"),
    ("invoice_number", None),
    ("invoice_date", "2024-02-30"),
    ("invoice_date", "20240230"),
    ("invoice_date", "2024-2-3"),
    ("invoice_date", None),
    ("seller_ban", "53567687"),  # fails the check digit
    ("seller_ban", None),
    ("status", None),
])
@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_refuses_unclean_value(tmp_path: Path, column: str, value: str | None, fmt: str) -> None:
    path = tmp_path / f"a.{fmt}"
    frame = text_frame(with_value(column, value))
    if fmt == "csv":
        frame.write_csv(path)
    else:
        frame.write_parquet(path)
    assert dense_on([path]) is None
    assert dense_on([path], BAN_B) is None  # even when the row's seller is filtered out


def test_refuses_unclean_value_in_a_later_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dense, "BATCH_ROWS", 7)
    monkeypatch.setattr(dense, "CSV_BATCH_ROWS", 7)
    rows = [(f"AB{n:08d}", *GOOD_ROW[1:]) for n in range(30)]
    rows.append(("AB00000031", "2024-01-05", BAN_A, " issued", "POS-1", None))
    text_frame(rows).write_parquet(tmp_path / "a.parquet")
    assert dense_on([tmp_path / "a.parquet"]) is None


def test_refuses_more_exceptions_than_the_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dense, "MAX_EXCEPTIONS", 3)
    path = tmp_path / "a.parquet"
    text_frame(exception_rows(4)).write_parquet(path)
    assert fast_usage([path], P, None) is not None
    assert dense_on([path]) is None


@pytest.mark.parametrize("kind", ["outside", "other seller", "second till"])
def test_takes_exceptions_up_to_the_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    monkeypatch.setattr(dense, "MAX_EXCEPTIONS", 3)
    make: dict[str, Callable[[int], tuple[str, ...]]] = {
        "outside": lambda k: (f"EF{k:08d}", *GOOD_ROW[1:]),
        "other seller": lambda k: (f"AB{k:08d}", GOOD_ROW[1], BAN_X, *GOOD_ROW[3:]),
        "second till": lambda k: (f"AB{k:08d}", *GOOD_ROW[1:4], "POS-9", GOOD_ROW[5]),
    }
    path = tmp_path / "a.parquet"
    text_frame([GOOD_ROW, *[make[kind](k) for k in range(3)]]).write_parquet(path)
    assert_same(*both([path]))  # type: ignore[arg-type]
    text_frame([GOOD_ROW, *[make[kind](k) for k in range(4)]]).write_parquet(path)
    assert dense_on([path]) is None


def test_exceptions_are_counted_across_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dense, "MAX_EXCEPTIONS", 3)
    paths = [tmp_path / "a.parquet", tmp_path / "b.parquet"]
    text_frame(exception_rows(2)).write_parquet(paths[0])
    text_frame(exception_rows(2)).write_parquet(paths[1])
    assert dense_on(paths) is None


# ---------------------------------------------------------------------------------------------
# A whole reconciliation, with and without the dense scan.

ALLOCATION_CSV = "ban,invoice_type,period,track,begin_no,end_no,head_ban,machine,reported_by\n" + "".join(
    f"{r['ban']},07,11302,{r['track']},{r['begin']:08d},{r['end']:08d},{r['ban']},{r.get('machine', '')},\n"
    for r in ALLOCATION_ROWS
)


def reconcile_rows() -> list[tuple[str | None, ...]]:
    rows: list[tuple[str | None, ...]] = []
    for n in range(0, 140):  # AB booklets 0-2 partly used, a skipped stretch, a void
        if 60 <= n < 70:
            continue
        status = "voided" if n == 75 else "issued"
        rows.append((f"AB{n:08d}", f"2024-01-{1 + n % 28:02d}", BAN_A, status, "POS-1", "accepted"))
    rows += [(f"AB{n:08d}", "20240210", BAN_A, "issued", "POS-1", "accepted") for n in range(150, 160)]
    rows.append(("AB00000160", "2024-02-11", BAN_A, "issued", "POS-3", "failed"))  # a second till
    rows.append(("AB00000001", "2024-02-12", BAN_A, "issued", "POS-1", "accepted"))  # issued twice
    rows.append(("AB00000300", "2024-02-12", BAN_A, "issued", "POS-1", "accepted"))  # outside the allocations
    rows.append(("AB00000140", "2023-12-30", BAN_A, "issued", "POS-1", "accepted"))  # previous period
    rows.append(("AB00000141", "2022-12-30", BAN_A, "issued", "POS-1", "accepted"))  # far away
    rows += [(f"CD{n:08d}", "2024-02-01", BAN_B, "開立", "POS-2", "accepted") for n in range(100, 180)]
    rows += [(f"CD{n:08d}", "2024-02-02", BAN_B, "註銷", "POS-2", "accepted") for n in range(250, 255)]
    rows += [(f"CD{n:08d}", "2024-02-02", BAN_A, "issued", "POS-4", "accepted") for n in range(275, 280)]
    rows.append(("AB00000201", "2024-02-03", BAN_X, "issued", "POS-4", "accepted"))  # another seller
    return rows


@pytest.mark.parametrize("ban", [None, BAN_A])
def test_reconcile_same_with_and_without_dense(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               ban: str | None) -> None:
    allocations = tmp_path / "allocations.csv"
    allocations.write_text(ALLOCATION_CSV, encoding="utf-8")
    invoices = [tmp_path / "a.parquet", tmp_path / "b.parquet"]
    rows = reconcile_rows()
    text_frame(rows[::2]).write_parquet(invoices[0])
    text_frame(rows[1::2]).drop("upload_status").write_parquet(invoices[1])
    taken: list[bool] = []
    real = engine.dense_scan

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        out = real(*args, **kwargs)
        taken.append(out is not None)
        return out

    def run() -> rec.Reconciliation:
        return rec.reconcile("11302", [allocations], invoices, ban=ban, report_date=dt.date(2024, 3, 5))

    monkeypatch.setattr(engine, "DENSE_MIN_ROWS", 0)  # a small period takes it too
    with progress_guard():
        monkeypatch.setattr(engine, "dense_scan", spy)
        dense_run = run()
    assert taken == [True], "the dense scan was not used"
    monkeypatch.setattr(engine, "dense_scan", lambda *a, **k: None)
    polars_run = run()
    for name in ("blank_ranges", "findings", "summary", "skipped", "segments", "issuing"):
        got, want = getattr(dense_run, name), getattr(polars_run, name)
        assert got.schema == want.schema, name
        assert canonical(got) == canonical(want), name
    assert dense_run.rows_by_source == polars_run.rows_by_source
    assert not polars_run.findings.is_empty()
    # The third path: validate, then aggregate (input the one-pass polars path does not take).
    monkeypatch.setattr(engine, "fast_usage", lambda *a, **k: None)
    validated_run = run()
    for name in ("blank_ranges", "findings", "summary", "skipped", "segments", "issuing"):
        got, want = getattr(validated_run, name), getattr(polars_run, name)
        assert got.schema == want.schema, name
        assert canonical(got) == canonical(want), name
    # Sorted the same way whichever path counted it: BAN, till, track, day.
    assert dense_run.issuing.equals(polars_run.issuing)
    assert validated_run.issuing.equals(polars_run.issuing)
    assert dense_run.issuing.columns == ["seller_ban", "machine", "track", "invoice_date",
                                         "invoices"]


# ---------------------------------------------------------------------------------------------
# The issuing counts per track, and the bounds of the packed issuing key.


def test_issuing_is_per_track(tmp_path: Path) -> None:
    """One till issuing from two tracks on one day: a row per track, as fast_usage counts."""
    rows = [(f"AB{n:08d}", "2024-01-05", BAN_A, "issued", "POS-1", "accepted") for n in range(3)]
    rows += [(f"CD{n:08d}", "2024-01-05", BAN_A, "issued", "POS-1", "accepted")
             for n in range(1000, 1002)]
    # ZZ: the last track code (675), in a booklet of the seller's, so the loop packs it.
    rows += [("ZZ00000001", "2024-01-05", BAN_A, "issued", "POS-1", "accepted")]
    text_frame(rows).write_parquet(tmp_path / "a.parquet")
    allocations = prepare_allocations(allocation_frame(
        [*ALLOCATION_ROWS, {"ban": BAN_A, "track": "ZZ", "begin": 0, "end": 49}]))
    files = [tmp_path / "a.parquet"]
    with progress_guard():
        got = dense.dense_usage(files, P, allocations, None)
    want = fast_usage(files, P, None)
    assert got is not None
    issuing = got[1].select("seller_ban", "machine", "track", "invoice_date", "invoices")
    assert sorted(issuing.rows()) == [
        (BAN_A, "POS-1", "AB", dt.date(2024, 1, 5), 3),
        (BAN_A, "POS-1", "CD", dt.date(2024, 1, 5), 2),
        (BAN_A, "POS-1", "ZZ", dt.date(2024, 1, 5), 1),
    ]
    assert_same(got, want, allocations)  # type: ignore[arg-type]


def test_refuses_more_tills_than_the_issuing_key_holds(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [(f"AB{n:08d}", "2024-01-05", BAN_A, "issued", f"POS-{n}", "accepted")
            for n in range(0, 150, 50)]  # three tills, a booklet each
    text_frame(rows).write_parquet(tmp_path / "a.parquet")
    monkeypatch.setattr(dense, "MAX_ISSUING_TILLS", 3)
    assert_same(*both([tmp_path / "a.parquet"]))  # type: ignore[arg-type]
    monkeypatch.setattr(dense, "MAX_ISSUING_TILLS", 2)
    assert dense_on([tmp_path / "a.parquet"]) is None


def test_refuses_more_bans_than_the_issuing_key_holds(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    text_frame([GOOD_ROW]).write_parquet(tmp_path / "a.parquet")
    monkeypatch.setattr(dense, "MAX_ISSUING_BANS", 3)  # the allocations hold two BANs
    assert dense_on([tmp_path / "a.parquet"]) is not None
    monkeypatch.setattr(dense, "MAX_ISSUING_BANS", 2)
    assert dense_on([tmp_path / "a.parquet"]) is None


# Booklet-aligned allocations of two sellers, some handed to a till: every booklet one allocation.
# Listed out of (track, booklet) order, the order of the slots.
BY_SLOT_ALLOCATIONS = [
    (BAN_B, "CD", 100, 199, "POS-2"), (BAN_A, "AB", 100, 199, "POS-1"), (BAN_A, "AB", 0, 99, ""),
    (BAN_A, "CD", 1000, 1049, ""), (BAN_B, "AB", 200, 249, ""), (BAN_A, "CD", 300, 349, ""),
]
BY_SLOT_CSV = "ban,invoice_type,period,track,begin_no,end_no,head_ban,machine,reported_by\n" + "".join(
    f"{ban},07,11302,{track},{b:08d},{e:08d},{ban},{till},\n" for ban, track, b, e, till in BY_SLOT_ALLOCATIONS)
# Per allocation: which numbers were used (skips, the unused tail), by which till (one a
# booklet: the allocation's index picks it), when, how, and some numbers issued twice.
by_slot_use = st.tuples(
    st.lists(st.booleans(), min_size=100, max_size=100),
    st.lists(st.sampled_from(DAYS[1:]), min_size=1, max_size=3),
    st.lists(st.tuples(st.sampled_from(["issued", "cancelled", "voided"]), UPLOADS),
             min_size=100, max_size=100),
    st.lists(st.integers(0, 99), max_size=3),
    st.sampled_from(["POS-1", "POS-7", None]),
)


@settings(max_examples=25, deadline=None)
@given(st.lists(by_slot_use, min_size=len(BY_SLOT_ALLOCATIONS), max_size=len(BY_SLOT_ALLOCATIONS)),
       st.sampled_from([None, BAN_A]))
def test_reconcile_by_slot_equals_the_joins(use: list[tuple], ban: str | None) -> None:
    """Where every row falls in a slot of its seller and every booklet is one allocation's, the
    steps after the scan take the usage by position (by_slot.py): the same reconciliation as
    without the dense scan, booklet by booklet."""
    rows: list[tuple[str | None, ...]] = []
    for (seller, track, begin, end, till), (used, days, how, twice, own) in zip(
            BY_SLOT_ALLOCATIONS, use, strict=True):
        machine = till or own
        for k in [*range(end - begin + 1), *twice]:
            if k <= end - begin and used[k]:
                status, upload = how[k]
                day = days[(k // 50) % len(days)]
                rows.append((f"{track}{begin + k:08d}", day.isoformat(), seller, status, machine,
                             upload))
    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as mp:
        folder = Path(tmp)
        (folder / "allocations.csv").write_text(BY_SLOT_CSV, encoding="utf-8")
        invoices = [folder / "a.parquet", folder / "b.parquet"]
        rows = rows or [("AB00000000", "2024-01-02", BAN_A, "issued", None, None)]
        text_frame(rows[::2] or rows).write_parquet(invoices[0])
        text_frame(rows[1::2] or rows).write_parquet(invoices[1])
        by_slot: list[object] = []
        real = engine.dense_scan

        def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
            out = real(*args, **kwargs)
            by_slot.append(out.by_slot if out is not None else None)
            return out

        def run() -> rec.Reconciliation:
            return rec.reconcile("11302", [folder / "allocations.csv"], invoices, ban=ban,
                                 report_date=dt.date(2024, 3, 5))

        mp.setattr(engine, "DENSE_MIN_ROWS", 0)
        mp.setattr(engine, "dense_scan", spy)
        dense_run = run()
        assert len(by_slot) == 1 and by_slot[0] is not None, "the steps by slot were not taken"
        mp.setattr(engine, "dense_scan", lambda *a, **k: None)
        polars_run = run()
    for name in ("booklets", "blank_ranges", "findings", "summary", "skipped", "segments",
                 "issuing"):
        got, want = getattr(dense_run, name), getattr(polars_run, name)
        assert got.schema == want.schema, name
        assert canonical(got) == canonical(want), name


@pytest.mark.parametrize("writer", ["polars", "pyarrow"])  # large_string / string offsets
def test_warm_up_loads_the_loop_the_scan_then_calls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     writer: str) -> None:
    """Where the loop runs through numba's dispatcher (native_loop.py could not be used), dense.warm_up
    must give it the very argument types a scan of such a file gives it: otherwise it compiles a
    second version in the background instead of saving time."""
    import numba

    path = tmp_path / "a.parquet"
    frame = text_frame([("AB00000001", "2024-01-05", BAN_A, "issued", "POS-1", "accepted")])
    if writer == "polars":
        frame.write_parquet(path)
    else:
        pq.write_table(frame.to_arrow().cast(pa.schema([(c, pa.string()) for c in frame.columns])),
                       path)
    calls: list[tuple[object, ...]] = []
    kernels = native._numba_kernels()
    real = kernels.tally_batch

    def record(*args):  # type: ignore[no-untyped-def]
        calls.append(tuple(numba.typeof(a) for a in args))
        return real(*args)

    monkeypatch.setattr(kernels, "tally_batch", record)
    monkeypatch.setattr(native, "_kernels", kernels)
    dense.warm_up(path)
    allocations = prepare_allocations(allocation_frame([{"ban": BAN_A, "track": "AB", "begin": 0,
                                                         "end": 49}]))
    assert dense.dense_usage([path], P, allocations, None) is not None
    assert len(calls) >= 2
    assert calls[0] == calls[1], "warm_up called the loop with other types than the scan"


def test_without_the_dense_scan_a_large_period_still_reconciles(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """numba or pyarrow missing (a broken install): the polars path gives the same report, and
    says why it is slower."""
    import sys

    allocations = tmp_path / "allocations.csv"
    allocations.write_text(ALLOCATION_CSV, encoding="utf-8")
    invoices = [tmp_path / "a.parquet"]
    text_frame(reconcile_rows()).write_parquet(invoices[0])
    monkeypatch.setattr(engine, "DENSE_MIN_ROWS", 0)
    with_dense = rec.reconcile("11302", [allocations], invoices, report_date=dt.date(2024, 3, 5))
    import blanktrack.usage

    # importing it raises ImportError
    monkeypatch.setitem(sys.modules, "blanktrack.usage.dense", None)
    monkeypatch.delattr(blanktrack.usage, "dense")
    with pytest.warns(RuntimeWarning, match="dense scan is not available"):
        without = rec.reconcile("11302", [allocations], invoices, report_date=dt.date(2024, 3, 5))
    assert canonical(without.blank_ranges) == canonical(with_dense.blank_ranges)
    assert canonical(without.findings) == canonical(with_dense.findings)
