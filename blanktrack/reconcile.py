"""One reconciliation of a period: load, validate, compute blanks, findings and summary."""

from __future__ import annotations

import datetime as dt
import functools
import tempfile
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from . import findings, usage
from .allocations import load_allocations
from .archive import identity, record_input_digest, sha256_file
from .blanks import RUN_KEYS, blank_intervals, blank_ranges, booklet_state, number_masks
from .booklets import prepare_allocations
from .errors import InputError, Problem
from .period import Period
from .schemas import SUMMARY_SCHEMA
from .skipped import segments, skipped_count, skipped_ranges
from .split import Split, parse_split
from .usage.named_invoices import named_invoices


class _Digest:
    """A file's sha256, computed in the background while the period is reconciled, or, when
    nobody asked for that, the first time it is read (hashing a large CSV keeps a core busy).
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
    # invoices per seller BAN, machine, track and day, in no order (`issuing` sorts them)
    issuing_unsorted: pl.DataFrame = field(repr=False)
    rows_by_source: dict[str, int]  # rows read from each input file
    # what each input path held (sources.resolve.InputKind): kinds, files read, passed over, rows
    input_kinds: list = field(default_factory=list)

    @functools.cached_property
    def issuing(self) -> pl.DataFrame:
        """Invoices per seller BAN, machine, track and day (for charts), sorted by them: sorted
        when first read, so that a run that draws no chart (the command line) never sorts."""
        return _sort_issuing(self.issuing_unsorted)

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
    the GIL, so a large CSV is hashed while polars reads it), else when first asked."""
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
    maps canonical invoice columns to an ERP export's headers. See _reconcile_files.
    ValueError for a period or split that is none (the caller's edge: cli and params name
    them first)."""
    from .sources import resolve  # lxml is loaded only here

    period = period if isinstance(period, Period) else Period.parse(period)
    split = parse_split(split)
    with tempfile.TemporaryDirectory(prefix="blanktrack-inputs-") as work:
        read = resolve.read_inputs(allocation_paths, invoice_paths, Path(work), columns)
        result = _reconcile_files(
            period, read.allocation_paths, read.invoice_paths, ban=ban, split=split,
            report_date=report_date, hash_inputs=hash_inputs, on_blank_ranges=on_blank_ranges)
        return resolve.finish(result, read, allocation_paths, invoice_paths, hash_inputs)


def _reconcile_files(
    period: Period,
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
    report_date = report_date or dt.date.today()
    with ThreadPoolExecutor(max_workers=1) as threads:
        pool = threads if hash_inputs else None
        hashing = (_describe_later(pool, allocation_paths, "allocations")
                   + _describe_later(pool, invoice_paths, "invoices"))
        n_alloc = len(allocation_paths)
        invoice_files = [p for p, _ in hashing[n_alloc:]]
        usage.warm_up(invoice_files)  # the dense scan loads while the allocations are read
        allocations_all = load_allocations(allocation_paths)
        scoped = _scope(allocations_all, period, ban, allocation_paths)
        allocations = prepare_allocations(scoped)
        bans = allocations["ban"].unique() if ban is not None else None
        # What the allocations alone decide is made on a second thread while the scan runs and
        # the main thread waits (a core is free while the scan's threads start and end).
        # The findings of each branch are kept in their place in the list, and an exception of
        # a branch is raised again here by result(): same output, same messages.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="blanktrack-steps") as side:
            pairs_ = side.submit(_overlaps, allocations_all, period, allocations, ban)
            withheld_ = side.submit(
                lambda: number_masks(pairs_.result().select("track", "lo", "hi")))
            allocation_found_ = side.submit(lambda: [
                *findings.allocation_findings(allocations, pairs_.result()),
                findings.duplicate_allocation_findings(scoped)])
            used = usage.of_period(invoice_paths, period, allocations, bans)
            # Independent of the blank ranges: on the second thread while the main one makes them.
            invoice_found_ = side.submit(
                lambda: findings.invoice_findings(named_invoices(used, allocations), period))

            # Allocations of any BAN of the period that share numbers: withheld from every file.
            state = booklet_state(used, withheld=withheld_.result())
            intervals = blank_intervals(state)
            ranges = blank_ranges(intervals, allocations, split)
            if on_blank_ranges is not None:
                on_blank_ranges(ranges)
            segs = segments(allocations, used)
            skipped = skipped_ranges(intervals, allocations, segs)
            summary = _summary(state, allocations, skipped)
            found = findings.collect([
                *allocation_found_.result(),
                *invoice_found_.result(),
                findings.skipped_findings(skipped),
                findings.reported_elsewhere_findings(ranges),
                findings.late_report_findings(period, report_date),
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
        findings=found, summary=summary, issuing_unsorted=used.issuing,
        rows_by_source={
            **dict(allocations_all.group_by("source").agg(pl.len()).iter_rows()),
            **dict(used.rows_by_file.iter_rows()),
        },
    )


def _overlaps(allocations_all: pl.DataFrame, period: Period, scoped: pl.DataFrame,
              ban: str | None) -> pl.DataFrame:
    """findings.overlap_pairs of the period's allocations of every BAN (another BAN's claim on
    a number withholds it from ours too), those that touch the scope's allocations."""
    in_period = allocations_all.filter(pl.col("period") == period.code)
    if ban is None or in_period.height == scoped.height:
        pairs = findings.overlap_pairs(scoped)
    else:
        pairs = findings.overlap_pairs(prepare_allocations(in_period))
        mine = pl.lit(False)
        for side in ("", "_b"):
            mine = mine | (pl.col(f"ban{side}") == ban) | (pl.col(f"head_ban{side}") == ban)
        pairs = pairs.filter(mine)
    return pairs


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
        .cast(pl.Schema(SUMMARY_SCHEMA))
        .sort("head_ban", "ban", "invoice_type", "track")
        .collect(engine="streaming")
    )


__all__ = ["InputFile", "Reconciliation", "reconcile"]
