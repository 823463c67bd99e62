"""One reconciliation of a period: load, validate, compute blanks, findings and summary."""

from __future__ import annotations

import contextlib
import datetime as dt
import tempfile
import threading
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from . import findings as F
from . import invoices as inv
from .allocations import is_parquet, load_allocations
from .archive import identity, record_input_digest, sha256_file
from .blanks import (
    RUN_KEYS,
    Split,
    blank_intervals,
    blank_ranges,
    booklet_state,
    number_masks,
    number_str,
)
from .booklets import (
    allocation_booklets,
    bit,
    booklet_usage,
    foreign_usage,
    invoice_usage,
    is_one_row_a_booklet,
    keyed,
    prepare_allocations,
)
from .errors import InputError, Problem
from .frames import BOOKLET_SIZE, INVOICE_SCHEMA, SUMMARY_SCHEMA
from .invoices import normalise_invoices, scan_raw_invoices, validate_invoices
from .period import Period, period_code_expr, period_index, period_index_expr
from .raw_usage import FOREIGN_SCHEMA, fast_usage
from .skipped import segments, skipped_count, skipped_ranges

if TYPE_CHECKING:  # not imported at run time: it loads numpy and pyarrow
    from .dense import Scanned


class _Digest:
    """A file's sha256, computed in the background while the period is reconciled, or, when
    nobody asked for that, the first time it is read (a 5 GB CSV costs seconds of a core).
    The file's identity is taken before anything reads it: check_unchanged() tells whether the
    file the hash and the reconciliation read is still the one that was there."""

    def __init__(self, path: Path, pool: ThreadPoolExecutor | None) -> None:
        self._path = path
        self._identity = _identity(path)
        self._future: Future[str] | None = pool.submit(self._hash) if pool else None
        self._value: str | None = None
        self._lock = threading.Lock()

    def _hash(self) -> str:
        value = sha256_file(self._path)
        record_input_digest(self._path, value)  # for a period run's runner, if it asks
        return value

    def result(self) -> str:
        with self._lock:
            if self._value is None:
                self._value = (self._future.result() if self._future is not None
                               else self._hash())
            return self._value

    def known(self) -> str | None:
        """The hash if it was asked for (hash_inputs) or already computed; never computes it."""
        with self._lock:
            if self._value is None and self._future is not None:
                self._value = self._future.result()
            return self._value

    def check_unchanged(self) -> None:
        """InputError naming the file when it was replaced or changed since it was checked."""
        now = _identity(self._path)
        if now != self._identity:
            def show(ident: tuple[int, int, int, int] | None) -> str:
                return "gone" if ident is None else f"{ident[2]} bytes, modified {ident[3]} ns"
            raise InputError(Problem(
                str(self._path), None, None,
                f"changed while it was being reconciled (was {show(self._identity)}, now "
                f"{show(now)}; or replaced by another file)",
                "run again once the file is no longer being written"))


def _identity(path: Path) -> tuple[int, int, int, int] | None:
    try:
        return identity(path)
    except OSError:
        return None


@dataclass(frozen=True)
class InputFile:
    """An input file as the audit trail records it."""

    path: str
    role: str  # 'allocations' | 'invoices'
    size: int
    digest: _Digest = field(repr=False, compare=False)

    @property
    def sha256(self) -> str:
        return self.digest.result()

    @property
    def sha256_if_known(self) -> str | None:
        """sha256 when it was computed for the record; None rather than reading the file again."""
        return self.digest.known()


@dataclass
class Reconciliation:
    """Everything one period's reconciliation found; the writers and notebooks read from here."""

    period: Period
    split: Split
    ban: str | None
    report_date: dt.date
    inputs: list[InputFile]
    allocations: pl.DataFrame  # the period's allocations, with alloc_id, begin, end
    booklets: pl.DataFrame  # per allocation booklet: alloc_mask, used_in, blank_mask (unordered)
    blank_ranges: pl.DataFrame
    skipped: pl.DataFrame
    segments: pl.DataFrame  # stretches each till issued in order: alloc_id, machine, seg_begin, seg_end
    findings: pl.DataFrame
    summary: pl.DataFrame
    issuing: pl.DataFrame  # invoices per seller BAN, machine, track and day (for charts)
    rows_by_source: dict[str, int]  # rows read from each input file
    # what each input path held (sources.resolve.InputKind): kinds, files read, passed over, rows
    input_kinds: list = field(default_factory=list)

    @property
    def invoice_rows(self) -> int:
        paths = {f.path for f in self.inputs if f.role == "invoices"}
        return sum(n for p, n in self.rows_by_source.items() if p in paths)

    @property
    def error_count(self) -> int:
        return self.findings.filter(pl.col("severity") == "error").height

    @property
    def exported_ranges(self) -> pl.DataFrame:
        """The rows that go to the MOF: ours, not another system's."""
        return self.blank_ranges.filter(pl.col("reported_by").is_null())


def _check_files(paths: Sequence[str | Path], role: str) -> list[Path]:
    checked = []
    for p in paths:
        path = Path(p)
        try:
            regular, exists = path.is_file(), path.exists()
        except (OSError, ValueError) as exc:  # a name too long, a folder we may not read
            raise InputError(Problem(str(path), None, None, f"{role} file cannot be read ({exc})",
                                     "give the path of a CSV or Parquet file")) from exc
        if not regular:
            what = "does not exist" if not exists else "is not a regular file"
            raise InputError(Problem(str(path), None, None, f"{role} file {what}",
                                     "give the path of a CSV or Parquet file"))
        checked.append(path)
    return checked


def _describe_later(pool: ThreadPoolExecutor | None, paths: Sequence[str | Path], role: str
                    ) -> list[tuple[Path, _Digest]]:
    """Check the files now; hash them in the background if there is a pool (hashlib releases
    the GIL, so a 5 GB CSV is hashed while polars reads it), else when first asked."""
    return [(p, _Digest(p, pool)) for p in _check_files(paths, role)]


def _scope(allocations: pl.DataFrame, period: Period, ban: str | None,
           sources: Sequence[str | Path]) -> pl.DataFrame:
    """The period's allocations, of one reporting BAN when asked."""
    in_period = allocations.filter(pl.col("period") == period.code)
    if ban is not None:
        in_period = in_period.filter((pl.col("ban") == ban) | (pl.col("head_ban") == ban))
    if in_period.is_empty():
        found = sorted(allocations["period"].unique().to_list())
        whose = f" for BAN {ban}" if ban else ""
        raise InputError(Problem(
            ", ".join(str(s) for s in sources), None, "period",
            f"no allocation of period {period.code}{whose} (periods present: "
            f"{', '.join(found) or 'none'})",
            "pass the allocation file of this period or the right --period/--ban",
        ))
    return in_period


# Below this many invoice rows the polars path is faster: the dense scan's numba and pyarrow take
# about 0.35 s to load (measured: 1M rows 0.75 s by polars, 1.1 s dense; 10M 1.9 s vs 1.4 s).
DENSE_MIN_ROWS = 4_000_000
_CSV_BYTES_PER_ROW = 50  # a canonical invoice row is about 50-55 bytes of CSV


def _large(paths: Sequence[Path]) -> bool:
    """Whether the invoices are enough for the dense scan to gain (Parquet rows from the
    metadata, CSV rows estimated from the size)."""
    rows = sum(inv.parquet_rows(p, str(p)) if is_parquet(p) else p.stat().st_size // _CSV_BYTES_PER_ROW
               for p in paths)
    return rows >= DENSE_MIN_ROWS


def _warm_dense(paths: Sequence[Path]) -> None:
    """Import the dense scan and load its compiled loop in the background, while the
    allocations are read (a second of the two cores is free then). The first run after an
    install compiles the loop here (native.py), a few seconds."""

    def warm() -> None:
        with contextlib.suppress(Exception):  # whatever fails here fails again, and is seen, later
            from . import dense

            dense.warm_up(paths[0])

    threading.Thread(target=warm, name="blanktrack-warm-up", daemon=True).start()


def dense_scan(paths: Sequence[str | Path], period: Period, allocations: pl.DataFrame,
               bans: pl.Series | None) -> Scanned | None:
    """dense.scan, loaded on first use; None where it is not installed."""
    try:
        from . import dense  # pyarrow and the compiled loop are loaded only here

        dense.native.kernels()
    except ImportError as exc:  # a broken install: slower, but the same report
        warnings.warn(f"the dense scan is not available ({exc}); using the polars path, which "
                      "is slower on a large period: reinstall blanktrack", RuntimeWarning,
                      stacklevel=2)
        return None
    return dense.scan(paths, period, allocations, bans)


def reconcile(
    period: str | Period,
    allocation_paths: Sequence[str | Path],
    invoice_paths: Sequence[str | Path] = (),
    *,
    ban: str | None = None,
    split: Split = "none",
    report_date: dt.date | None = None,
    hash_inputs: bool = True,
    on_blank_ranges: Callable[[pl.DataFrame], None] | None = None,
    columns: dict[str, str] | None = None,
) -> Reconciliation:
    """Reconcile one period from any input paths: files or folders, each known by its content
    (sources/: MIG XML, Turnkey folders, the platform download, ERP exports, E0501). `columns`
    maps canonical invoice columns to an ERP export's headers. See _reconcile_files."""
    from .sources import resolve  # lxml is loaded only here

    with tempfile.TemporaryDirectory(prefix="blanktrack-inputs-") as work:
        read = resolve.read_inputs(allocation_paths, invoice_paths, Path(work), columns)
        result = _reconcile_files(
            period, read.allocation_paths, read.invoice_paths, ban=ban, split=split,
            report_date=report_date, hash_inputs=hash_inputs, on_blank_ranges=on_blank_ranges)
        return resolve.finish(result, read, allocation_paths, invoice_paths, hash_inputs)


def _reconcile_files(
    period: str | Period,
    allocation_paths: Sequence[str | Path],
    invoice_paths: Sequence[str | Path],
    *,
    ban: str | None = None,
    split: Split = "none",
    report_date: dt.date | None = None,
    hash_inputs: bool = True,
    on_blank_ranges: Callable[[pl.DataFrame], None] | None = None,
) -> Reconciliation:
    """Reconcile one period from canonical files. Raises InputError for input that cannot be used.

    The inputs' sha256 (`inputs[k].sha256`, for the audit trail) are computed while the period
    is reconciled; with hash_inputs False only if and when they are read. `on_blank_ranges` is
    called with the result's blank_ranges as soon as they are known, before the findings and
    summary (exports.Exports.start writes the upload files meanwhile).
    """
    period = period if isinstance(period, Period) else Period.parse(period)
    report_date = report_date or dt.date.today()
    with ThreadPoolExecutor(max_workers=1) as threads:
        pool = threads if hash_inputs else None
        hashing = (_describe_later(pool, allocation_paths, "allocations")
                   + _describe_later(pool, invoice_paths, "invoices"))
        n_alloc = len(allocation_paths)
        invoice_files = [p for p, _ in hashing[n_alloc:]]
        large = bool(invoice_files) and _large(invoice_files)
        if large:
            _warm_dense(invoice_files)
        allocations_all = load_allocations(allocation_paths)
        scoped = _scope(allocations_all, period, ban, allocation_paths)
        allocations = prepare_allocations(scoped)
        bans = allocations["ban"].unique() if ban is not None else None

        # One streaming pass over the invoices does validation and aggregation together; input
        # that is not plainly clean takes the original path (validate, then aggregate), so every
        # problem is still reported with file, line and field.
        scanned = None
        if large:
            try:
                scanned = dense_scan(invoice_paths, period, allocations, bans)
            except Exception:
                scan_raw_invoices(invoice_paths)  # a file's own InputError first, if it has one
                raise
        # The file checks (encoding, header, …): after a dense scan, which needs none of them,
        # so that their metadata reads do not hold up its start.
        raw = scan_raw_invoices(invoice_paths)
        by_slot = scanned.by_slot if scanned is not None else None
        fast = None if scanned is not None else fast_usage(invoice_paths, period, bans)
        by_machine: pl.DataFrame | None = None  # not needed by slot
        if scanned is not None:
            issuing, counted, foreign = scanned.issuing, scanned.counted, scanned.foreign
            if by_slot is None:
                by_machine = scanned.by_machine
        elif fast is None:
            validate_invoices(raw)
            invoices = normalise_invoices(raw)  # = invoices.load_invoices(invoice_paths)
            foreign_q = pl.LazyFrame(schema=FOREIGN_SCHEMA)
            if bans is not None:
                mine = pl.col("seller_ban").is_in(bans.implode())
                foreign_q = foreign_usage(invoices.filter(~mine), period)
                invoices = invoices.filter(mine)
            by_machine_q = invoice_usage(invoices, period)
            issuing_q = (
                invoices.filter(period_index_expr("invoice_date") == period_index(period))
                .group_by("seller_ban", "machine", "track", "invoice_date")
                .agg(invoices=pl.len())
            )
            count_q = invoices.group_by("source").agg(rows=pl.len())
            by_machine, issuing, counted, foreign = pl.collect_all(
                [by_machine_q, issuing_q, count_q, foreign_q], engine="streaming"
            )
        else:
            by_machine, issuing, counted, foreign = fast
        usage = None
        if by_machine is not None:
            by_machine = keyed(by_machine, "seller_ban")  # once for the joins below
            usage = booklet_usage(by_machine).collect(engine="streaming")

        alloc_booklets = allocation_booklets(allocations)
        matched = stretches = None
        if by_slot is not None:  # every row fell in a slot: its usage by position, no joins
            matched = by_slot.matched(alloc_booklets)
            stretches = by_slot.stretches(matched)
        # Allocations of any BAN of the period that share numbers: withheld from every file.
        pairs = _overlaps(allocations_all, period, allocations, ban)
        state = booklet_state(
            alloc_booklets, usage, matched,
            # by_slot: every row in its seller's own booklet, so nobody else's use is in them.
            used_elsewhere=_used_elsewhere(None if matched is not None else usage,
                                           alloc_booklets, foreign),
            withheld=number_masks(pairs.select("track", "lo", "hi")))
        intervals = blank_intervals(state)
        ranges = blank_ranges(state, allocations, split, intervals)
        if on_blank_ranges is not None:
            on_blank_ranges(ranges)
        segs = segments(allocations, alloc_booklets, by_machine, stretches)
        skipped = skipped_ranges(state, allocations, segs, intervals)

        detail = _detail(invoice_paths, bans, usage, alloc_booklets, allocations, period,
                         clean=scanned is not None or fast is not None, matched=matched)
        findings = F.collect([
            *F.allocation_findings(allocations, pairs),
            F.duplicate_allocation_findings(scoped),
            *F.invoice_findings(detail, period),
            F.skipped_findings(skipped),
            F.reported_elsewhere_findings(ranges),
            F.late_report_findings(period, report_date),
        ])
        inputs = [InputFile(str(p), "allocations" if i < n_alloc else "invoices", p.stat().st_size,
                            digest)
                  for i, (p, digest) in enumerate(hashing)]
        if hash_inputs:
            for _, digest in hashing:
                digest.result()  # an unreadable file fails here, not later in a notebook
        for _, digest in hashing:
            digest.check_unchanged()  # what was hashed and read is what is still there
    return Reconciliation(
        period=period, split=split, ban=ban, report_date=report_date, inputs=inputs,
        allocations=allocations, booklets=state, blank_ranges=ranges, skipped=skipped,
        segments=segs,
        findings=findings, summary=_summary(state, allocations, skipped),
        issuing=_sort_issuing(issuing),
        rows_by_source={
            **dict(allocations_all.group_by("source").agg(pl.len()).iter_rows()),
            **dict(counted.iter_rows()),
        },
    )


def _overlaps(allocations_all: pl.DataFrame, period: Period, scoped: pl.DataFrame,
              ban: str | None) -> pl.DataFrame:
    """findings.overlap_pairs of the period's allocations of every BAN (another BAN's claim on
    a number withholds it from ours too), those that touch the scope's allocations."""
    in_period = allocations_all.filter(pl.col("period") == period.code)
    if ban is None or in_period.height == scoped.height:
        pairs = F.overlap_pairs(scoped)
    else:
        pairs = F.overlap_pairs(prepare_allocations(in_period))
        mine = pl.lit(False)
        for side in ("", "_b"):
            mine = mine | (pl.col(f"ban{side}") == ban) | (pl.col(f"head_ban{side}") == ban)
        pairs = pairs.filter(mine)
    return pairs


def _union(alloc_booklets: pl.DataFrame) -> pl.LazyFrame:
    """(key, alloc_union): per (BAN, track, booklet), the numbers the BAN's allocations hold."""
    alloc_booklets = keyed(alloc_booklets, "ban")
    if is_one_row_a_booklet(alloc_booklets, "ban"):  # no booklet shared by two allocations
        return alloc_booklets.lazy().select("key", alloc_union="alloc_mask")
    return alloc_booklets.lazy().group_by("key").agg(
        alloc_union=pl.col("alloc_mask").bitwise_or()
    )


def _used_elsewhere(usage: pl.DataFrame | None, alloc_booklets: pl.DataFrame,
                    foreign: pl.DataFrame) -> pl.DataFrame:
    """(track, booklet, mask): numbers sellers used outside their own allocations, and those
    sellers left out by --ban used (`foreign`): spec §3, a number any input shows used is never
    reported blank, also not by another BAN. No usage: by_slot, every row in its seller's own
    booklet."""
    parts = [foreign.lazy()]
    if usage is not None:
        parts.append(
            keyed(usage, "seller_ban").lazy().select("key", "track", "booklet", "used_mask")
            .join(_union(alloc_booklets), on="key", how="left")
            .select("track", "booklet",
                    mask=pl.col("used_mask") & ~pl.col("alloc_union").fill_null(0))
        )
    return (
        pl.concat(parts)
        .filter(pl.col("mask") != 0)
        .group_by("track", "booklet")
        .agg(pl.col("mask").bitwise_or())
        .collect(engine="streaming")
    )


# ---------------------------------------------------------------------------------------------
# The few invoices findings name.


def _wanted(usage: pl.DataFrame | None, alloc_booklets: pl.DataFrame,
            matched: pl.DataFrame | None = None) -> pl.DataFrame:
    """(seller_ban, track, number) of every number a finding may be about.

    Per booklet: numbers used in the period outside the allocations, used from an adjacent or a
    far period inside them, with a failed upload, voided and never re-issued; and every used number of a
    booklet where some number was issued twice. All rows of such a number are fetched, so the
    findings about it are the same as from all rows of its booklet. `matched`: the allocation
    booklets with their usage beside them already (by_slot: then nothing was used outside
    them, and each is one allocation's), when the caller has it.
    """
    if matched is not None:
        used = matched.lazy().with_columns(seller_ban="ban", alloc_union="alloc_mask")
    else:
        assert usage is not None, "usage, or the booklets with their usage (matched)"
        used = keyed(usage, "seller_ban").lazy().join(_union(alloc_booklets), on="key",
                                                      how="left")
    want = (
        used
        .with_columns(pl.col("alloc_union").fill_null(0))
        .select(
            "seller_ban", "track", "booklet",
            want=(pl.col("in_period_mask") & ~pl.col("alloc_union"))
            | (pl.col("adjacent_mask") & pl.col("alloc_union"))
            | (pl.col("far_mask") & pl.col("alloc_union"))
            | pl.col("failed_mask")
            | (pl.col("void_mask") & ~pl.col("live_mask"))
            | pl.when(pl.col("live_rows") > pl.col("live_mask").bitwise_count_ones())
            .then(pl.col("used_mask")).otherwise(0),
        )
        .filter(pl.col("want") != 0)
        .collect(engine="streaming")  # millions of booklets: faster than in memory
    )
    return (
        want.with_columns(k=pl.int_ranges(0, BOOKLET_SIZE))
        .explode("k")
        .filter((pl.col("want") // bit(pl.col("k"))) % 2 == 1)
        .select("seller_ban", "track", number=pl.col("booklet") * BOOKLET_SIZE + pl.col("k"))
    )


def _detail(invoice_paths: Sequence[str | Path], bans: pl.Series | None,
            usage: pl.DataFrame | None,
            alloc_booklets: pl.DataFrame, allocations: pl.DataFrame, period: Period,
            *, clean: bool, matched: pl.DataFrame | None = None) -> pl.DataFrame:
    """The few invoices that findings need to name (a second, filtered scan only when there are
    any), with their physical lines. Clean input (every number written exactly) is filtered as
    it is read."""
    wanted = _wanted(usage, alloc_booklets, matched)
    if wanted.is_empty():
        rows = pl.DataFrame(schema=INVOICE_SCHEMA)
    else:
        numbers = (
            wanted.select(pl.col("track") + number_str(pl.col("number")))
            .unique().to_series()
        )
        invoices = normalise_invoices(scan_raw_invoices(invoice_paths, numbers, exact=clean))
        if bans is not None:
            invoices = invoices.filter(pl.col("seller_ban").is_in(bans.implode()))
        rows = (
            invoices.filter(pl.col("invoice_number").is_in(numbers.implode()))
            .with_columns(n=pl.col("number").cast(pl.Int64))
            .join(wanted.lazy(), left_on=["seller_ban", "track", "n"],
                  right_on=["seller_ban", "track", "number"], how="semi")
            .drop("n")
            .collect(engine="streaming")
        )
    rows = rows.with_row_index("row").with_columns(
        n=pl.col("number").cast(pl.Int64),
        offset=period_index_expr("invoice_date") - period_index(period),
        invoice_period=period_code_expr("invoice_date"),
    )
    owner = (
        rows.join(allocations.select("ban", "track", "begin", "end", "invoice_type"),
                  left_on=["seller_ban", "track"], right_on=["ban", "track"])
        .filter(pl.col("n").is_between(pl.col("begin"), pl.col("end")))
        .group_by("row")
        .agg(pl.col("invoice_type").first())
    )
    return (
        rows.join(owner, on="row", how="left")
        .with_columns(in_allocation=pl.col("invoice_type").is_not_null(),
                      ban=pl.col("seller_ban"))
        .sort("row")
    )


def _sort_issuing(issuing: pl.DataFrame) -> pl.DataFrame:
    """Sorted by seller BAN, machine, track and day (machines and tracks without a name last),
    on one integer where it fits: a sort on four keys, even integer ones, took far longer."""
    machines = issuing["machine"].drop_nulls().unique().sort()
    tracks = issuing["track"].drop_nulls().unique().sort()
    day = pl.col("invoice_date").to_physical()
    first, last = issuing.select(day.min().alias("first"), day.max().alias("last")).row(0)
    days = (last - first + 1) if first is not None else 1
    ranks, track_ranks = len(machines) + 1, len(tracks) + 1
    if 10**8 * ranks * track_ranks * days >= 2**63 or issuing["invoice_date"].null_count():
        return issuing.sort("seller_ban", "machine", "track", "invoice_date", nulls_last=True)
    seller = pl.col("seller_ban").cast(pl.Int64)  # 8 digits, validated
    machine = (pl.col("machine").cast(pl.Enum(machines)).to_physical().cast(pl.Int64)
               .fill_null(len(machines)))
    track = (pl.col("track").cast(pl.Enum(tracks)).to_physical().cast(pl.Int64)
             .fill_null(len(tracks)))
    return issuing.sort(((seller * ranks + machine) * track_ranks + track) * days
                        + (day - (first or 0)))


def _summary(state: pl.DataFrame, allocations: pl.DataFrame, skipped: pl.DataFrame
             ) -> pl.DataFrame:
    keys = [k for k in RUN_KEYS if k != "reported_by"]
    ones = pl.Expr.bitwise_count_ones
    # Counted per allocation (an integer key) first; the text keys group the few totals.
    per_allocation = state.lazy().group_by("alloc_id").agg(
        allocated=ones(pl.col("alloc_mask")).sum().cast(pl.Int64),
        used=ones(pl.col("used_in")).sum().cast(pl.Int64),
        blank=ones(pl.col("blank_mask")).sum().cast(pl.Int64),
    )
    per = (
        per_allocation.join(allocations.lazy().select("alloc_id", *RUN_KEYS), on="alloc_id")
        .group_by(keys)
        .agg(
            pl.col("allocated").sum(),
            pl.col("used").sum(),
            # Not allocated - used: numbers two allocations claim are withheld, blank for nobody.
            pl.col("blank").sum(),
            reported_elsewhere=pl.col("blank").filter(pl.col("reported_by").is_not_null())
            .sum(),
        )
    )
    skip = skipped_count(skipped).lazy().group_by(keys).agg(pl.col("skipped").sum())
    return (
        per.join(skip, on=keys, how="left")
        .with_columns(
            pl.col("skipped").fill_null(0),
            utilisation=(pl.col("used") / pl.col("allocated")).round(4),
        )
        .select(list(SUMMARY_SCHEMA))
        .cast(SUMMARY_SCHEMA)  # type: ignore[arg-type]
        .sort("head_ban", "ban", "invoice_type", "track")
        .collect(engine="streaming")
    )


__all__ = ["InputFile", "Reconciliation", "reconcile"]
