"""Findings (spec §4): everything a person should look at before the blanks go to the MOF."""

from __future__ import annotations

import datetime as dt
from typing import TypeVar

import polars as pl

from . import labels
from .blanks import number_str
from .period import Period, deadline_status
from .schemas import FINDING_SCHEMA, SEVERITY_RANK, empty

# The catalogue: code → (severity, what it means). Severities follow the spec; `--strict` fails a
# run on any 'error'.
CATALOGUE: dict[str, tuple[str, str]] = {
    "outside-allocation": ("error", "invoice dated in the period whose number is in no allocation of its BAN"),
    "duplicate-number": ("error", "the same number issued twice"),
    "void-not-reissued": ("warning", "a voided (註銷) number with no later issue"),
    "skipped-number": ("warning", "blank numbers below the highest number used in the same segment (跳號)"),
    "dated-outside-period": ("warning", "invoice on this period's numbers dated in an adjacent period"),
    "dated-far-from-period": ("error", "invoice on this period's numbers dated more than one "
                              "period away: not counted as used"),
    "allocation-misaligned": ("warning", "allocation not made of whole booklets of 50"),
    "allocation-overlap": ("error", "two allocations of the period share numbers"),
    "upload-failed": ("error", "invoice not accepted by the MOF"),
    # An error after the window (fined since 2025); info when made before the period ended.
    "late-report": ("error", "report produced after day 10 of the next period"),
    "allocation-duplicate": ("info", "the same allocation listed more than once (counted once)"),
    "reported-elsewhere": ("info", "blank numbers another system reports (left out of these exports)"),
}


_Rows = TypeVar("_Rows", pl.DataFrame, pl.LazyFrame)


def _frame(df: _Rows, code: str, message: pl.Expr, severity: str | None = None,
           **columns: pl.Expr) -> _Rows:
    """Shape rows of `df` into the findings schema (a query stays a query)."""
    sev = severity or CATALOGUE[code][0]
    exprs = {name: pl.lit(None, dtype=dtype) for name, dtype in FINDING_SCHEMA.items()}
    # zh-TW first, then the English sentence as it is (labels.FINDINGS words it once)
    head = labels.finding_head(code)
    exprs.update(
        severity=pl.lit(sev), code=pl.lit(code),
        message=pl.concat_str(pl.lit(head), message) if head else message,
    )
    names = df.collect_schema().names()
    for name in ("period", "ban", "invoice_type", "track", "begin_no", "end_no", "machine"):
        if name in names:
            exprs[name] = pl.col(name)
    exprs.update(columns)
    return df.select(**exprs).cast(pl.Schema(FINDING_SCHEMA))


def _where(src: str = "source", line: str = "line") -> pl.Expr:
    return pl.format("{}:{}", pl.col(src), pl.col(line))


def duplicate_allocation_findings(allocations: pl.DataFrame) -> pl.DataFrame:
    """Identical allocation rows (e.g. the MOF download and the canonical table both given):
    counted once, but a person should know the inputs repeat themselves."""
    keys = [c for c in allocations.columns if c not in ("source", "line")]
    twice = (
        allocations.group_by(keys)
        .agg(n=pl.len(), where=_where().sort_by("source", "line").str.join(", "))
        .filter(pl.col("n") > 1)
    )
    return _frame(
        twice, "allocation-duplicate",
        pl.format(
            "Allocation {} {}–{} (BAN {}) is listed {} times ({}): it is counted once. Remove the "
            "repeated row or file.",
            pl.col("track"), pl.col("begin_no"), pl.col("end_no"), pl.col("ban"), pl.col("n"),
            pl.col("where"),
        ),
    )


def overlap_pairs(allocations: pl.DataFrame) -> pl.DataFrame:
    """Every two allocations of a track (any BAN) that share numbers, `allocations` as prepared
    (one period): the first's columns, the second's with suffix _b, and the shared lo..hi."""
    a = allocations.select("alloc_id", "period", "head_ban", "ban", "invoice_type", "track",
                           "begin", "end", "source", "line")
    # Only allocations of one cluster (a chain of overlapping ranges of a track, found by one
    # sort) can share numbers: pair those, not every two allocations of a track (thousands of
    # tills on one track would make millions of pairs).
    reach = pl.col("end").cum_max().shift(1).over("track")
    a = (
        a.sort("track", "begin", "end")
        .with_columns(cluster=(reach.is_null() | (pl.col("begin") > reach)).cum_sum())
    )
    a = a.filter(pl.len().over("cluster") > 1)
    return (
        a.join(a, on=["track", "cluster"], suffix="_b")
        .filter(
            (pl.col("alloc_id") < pl.col("alloc_id_b"))
            & (pl.col("begin") <= pl.col("end_b"))
            & (pl.col("begin_b") <= pl.col("end"))
        )
        .with_columns(lo=pl.max_horizontal("begin", "begin_b"),
                      hi=pl.min_horizontal("end", "end_b"))
        .drop("cluster")
    )


def allocation_findings(allocations: pl.DataFrame, pairs: pl.DataFrame) -> list[pl.DataFrame]:
    """Misaligned and overlapping allocations (`allocations` as prepared, with begin/end ints;
    `pairs`: the overlap_pairs that touch them, of every BAN of the period)."""
    mis = allocations.filter(
        (pl.col("begin") % 50 != 0) | (pl.col("end") % 50 != 49)
    )
    misaligned = _frame(
        mis, "allocation-misaligned",
        pl.format(
            "Allocation {} {}–{} ({} numbers, {}) is not whole booklets of 50: an allocation "
            "begins at …00 or …50 and ends at …49 or …99. Check the allocation file against the "
            "MOF download.",
            pl.col("track"), pl.col("begin_no"), pl.col("end_no"),
            pl.col("end") - pl.col("begin") + 1, _where(),
        ),
    )
    overlap = _frame(
        pairs.with_columns(begin_no=number_str(pl.col("lo")), end_no=number_str(pl.col("hi"))),
        "allocation-overlap",
        pl.format(
            "Allocations {} {}–{} (BAN {}, {}) and {}–{} (BAN {}, {}) share numbers {}–{}: "
            "a number can be allocated only once. Those numbers are withheld from every upload "
            "file, of either BAN, until the overlap is resolved: remove the duplicate or wrong "
            "allocation row and run again.",
            pl.col("track"), number_str(pl.col("begin")), number_str(pl.col("end")),
            pl.col("ban"), _where(), number_str(pl.col("begin_b")), number_str(pl.col("end_b")),
            pl.col("ban_b"), _where("source_b", "line_b"), pl.col("begin_no"), pl.col("end_no"),
        ),
    )
    return [misaligned, overlap]


def invoice_findings(detail: pl.DataFrame, period: Period) -> list[pl.DataFrame]:
    """Findings about single invoices. `detail` holds the few invoices of the booklets that need
    a closer look, with `in_allocation`, `invoice_type`, `offset` (period offset) and `ban`."""
    inv = pl.col("invoice_number")
    date = pl.col("invoice_date").dt.to_string("%Y-%m-%d")
    detail = detail.with_columns(begin_no=pl.col("number"), end_no=pl.col("number"),
                                 period=pl.lit(period.code))
    # Only invoices dated in P or next to it use P's numbers (spec §3); farther ones are findings.
    far_rows = detail.filter((pl.col("offset").abs() > 1) & pl.col("in_allocation"))
    detail = detail.filter(pl.col("offset").abs() <= 1)
    outside = _frame(
        detail.filter((pl.col("offset") == 0) & ~pl.col("in_allocation")),
        "outside-allocation",
        pl.format(
            "Invoice {} dated {} ({}) is in no allocation of BAN {} for period {}: a wrong "
            "track, another period's track or another BAN's numbers. Correct the invoice or add "
            "the missing allocation file.",
            inv, date, _where(), pl.col("ban"), pl.lit(period.code),
        ),
    )
    adjacent = _frame(
        detail.filter((pl.col("offset") != 0) & pl.col("in_allocation")),
        "dated-outside-period",
        pl.format(
            "Invoice {} is dated {}, in period {}, but its number belongs to the allocation of "
            "{}: it counts as used. Check the till's clock and the period the invoice was "
            "declared in ({}).",
            inv, date, pl.col("invoice_period"), pl.lit(period.code), _where(),
        ),
    )
    far = _frame(
        far_rows, "dated-far-from-period",
        pl.format(
            "Invoice {} is dated {} ({}), in period {}, more than one period from {}, but its "
            "number lies in an allocation of BAN {} for {}: it is not counted as used, so the "
            "number is reported blank unless another invoice used it. A till's clock may have "
            "been reset: correct the invoice date in the export (if the number was used in {}) "
            "and run again, or confirm it belongs to an older or later track of the same letters.",
            inv, date, _where(), pl.col("invoice_period"), pl.lit(period.code), pl.col("ban"),
            pl.lit(period.code), pl.lit(period.code),
        ),
    )
    failed = _frame(
        detail.filter((pl.col("upload_status") == "failed")
                      & (pl.col("in_allocation") | (pl.col("offset") == 0))),
        "upload-failed",
        pl.format(
            "Invoice {} dated {} ({}) was not accepted by the MOF: it stays issued and is not "
            "reported blank. Re-upload it before the blank report.",
            inv, date, _where(),
        ),
    )
    per_number = (
        detail.filter(pl.col("in_allocation"))
        .group_by("ban", "invoice_type", "track", "number")
        .agg(
            live=pl.col("status").is_in(["issued", "cancelled"]).sum(),
            voided=(pl.col("status") == "voided").sum(),
            rows=pl.len(),
            where=(
                pl.col("source") + ":" + pl.col("line").cast(pl.String)
                + " (" + pl.col("status") + ", "
                + pl.col("invoice_date").dt.to_string("%Y-%m-%d") + ")"
            ).sort_by("source", "line").str.join("; "),  # line 8 before line 10
            invoice_number=pl.col("invoice_number").first(),
            machine=pl.col("machine").drop_nulls().unique().sort().str.join(", "),
        )
        .with_columns(begin_no=pl.col("number"), end_no=pl.col("number"),
                      period=pl.lit(period.code))
    )
    duplicate = _frame(
        per_number.filter(pl.col("live") >= 2), "duplicate-number",
        pl.format(
            "{} was issued {} times — {}. One number may be issued once; a correction must void "
            "(註銷) the first invoice before the re-issue. Find out which invoice is real.",
            inv, pl.col("live"), pl.col("where"),
        ),
    )
    void = _frame(
        per_number.filter((pl.col("voided") >= 1) & (pl.col("live") == 0)), "void-not-reissued",
        pl.format(
            "{} was voided (註銷) and never re-issued — {}. The number counts as used and is not "
            "reported blank; check that the corrected invoice was issued.",
            inv, pl.col("where"),
        ),
    )
    return [outside, adjacent, far, failed, duplicate, void]


def skipped_findings(skipped: pl.DataFrame) -> pl.DataFrame:
    count = pl.col("end") - pl.col("begin") + 1
    who = pl.when(pl.col("machine").is_null()).then(pl.lit("the allocation")).otherwise(
        pl.format("till {}", pl.col("machine"))
    )
    return _frame(
        skipped.with_columns(begin_no=number_str(pl.col("begin")),
                             end_no=number_str(pl.col("end"))),
        "skipped-number",
        pl.format(
            "{}{}–{}{} ({} number(s)) were never issued although {} issued up to {}{} (跳號). "
            "They are reported blank; confirm they were not issued on paper or another system.",
            pl.col("track"), pl.col("begin_no"), pl.col("track"), pl.col("end_no"), count, who,
            pl.col("track"), number_str(pl.col("highest_used")),
        ),
    )


def reported_elsewhere_findings(ranges: pl.DataFrame) -> pl.DataFrame:
    elsewhere = (
        ranges.filter(pl.col("reported_by").is_not_null())
        .group_by("period", "ban", "invoice_type", "track", "reported_by")
        .agg(pl.col("count").sum(), pl.col("begin_no").min(), pl.col("end_no").max())
    )
    return _frame(
        elsewhere, "reported-elsewhere",
        pl.format(
            "{} blank number(s) of track {} between {} and {} are reported by {}: left out of "
            "these exports so the two uploads do not overwrite each other.",
            pl.col("count"), pl.col("track"), pl.col("begin_no"), pl.col("end_no"),
            pl.col("reported_by"),
        ),
    )


def late_report_findings(period: Period, report_date: dt.date) -> pl.DataFrame:
    status = deadline_status(period, report_date)
    if status.state == "open":  # inside the window (spec §6): nothing to say
        return empty(FINDING_SCHEMA)
    severity = "error" if status.state == "late" else "info"
    return _frame(
        pl.DataFrame({"period": [period.code]}), "late-report",
        pl.lit(status.sentence), severity=severity,
    )


def collect(parts: list[pl.DataFrame]) -> pl.DataFrame:
    """All findings, most severe first, in a stable order."""
    frames = [p for p in parts if not p.is_empty()]
    if not frames:
        return empty(FINDING_SCHEMA)
    return (
        pl.concat(frames)
        .with_columns(rank=pl.col("severity").replace_strict(SEVERITY_RANK, return_dtype=pl.Int8))
        .sort(["rank", "code", "ban", "invoice_type", "track", "begin_no", "machine", "message"],
              nulls_last=True)
        .drop("rank")
    )


# ---------------------------------------------------------------------------------------------
# What the inputs themselves show (issue 15): periods without invoices, forgotten files, unused
# allocations, rejected B2B invoices, files of no known kind.

CATALOGUE.update({
    "no-invoices": ("warning", "a BAN, till or input file with no invoice row (a forgotten file?)"),
    "allocation-unused": ("info", "an allocation (or a till's share) with no used number"),
    "invoice-rejected": ("warning", "a B2B invoice the buyer rejected (退回): its number is used"),
    "unknown-file": ("info", "files in an input folder that are of no kind blanktrack reads"),
    "unofficial-namespace": ("warning", "an E0501 in a namespace not in the MOF's schemas, read anyway"),
})
_LISTED_FILES = 10  # files named in one unknown-file finding; the rest are counted


def empty_input_findings(paths: list[str], period: str) -> pl.DataFrame:
    """One no-invoices finding per input path that held no invoice row."""
    return _frame(
        pl.DataFrame({"path": paths, "period": [period] * len(paths)},
                     schema={"path": pl.String, "period": pl.String}),
        "no-invoices",
        pl.format("Input {} holds no invoice row. If this system issued nothing in the period, "
                  "fine; if not, export its invoices again.", pl.col("path")),
    )


def no_invoice_findings(allocations: pl.DataFrame, booklets: pl.DataFrame,
                        issuing: pl.DataFrame) -> list[pl.DataFrame]:
    """no-invoices for every BAN, and every till named in the allocations, that holds
    allocations and has no invoice; allocation-unused for every allocation with no used number."""
    # One query per finding, collected together (each eager step is a collect).
    used = booklets.lazy().group_by("alloc_id").agg(
        used=(pl.col("used_in") & pl.col("alloc_mask")).bitwise_count_ones().sum())
    per = allocations.lazy().join(used, on="alloc_id", how="left").with_columns(
        pl.col("used").fill_null(0))
    issued_bans = issuing["seller_ban"].unique().implode()
    issued_tills = issuing["machine"].drop_nulls().unique().implode()
    bans = (per.group_by("period", "ban").agg(used=pl.col("used").sum(),
                                              tracks=pl.col("track").unique().sort().str.join(", "))
            .filter((pl.col("used") == 0) & ~pl.col("ban").is_in(issued_bans)))
    tills = (per.filter(pl.col("machine").is_not_null())
             .group_by("period", "ban", "machine")
             .agg(used=pl.col("used").sum(), tracks=pl.col("track").unique().sort().str.join(", "))
             .filter((pl.col("used") == 0) & ~pl.col("machine").is_in(issued_tills)))
    whose = pl.when(pl.col("machine").is_null()).then(pl.lit("")).otherwise(
        pl.format(", till {}", pl.col("machine")))
    unused = per.filter(pl.col("used") == 0)
    return pl.collect_all([
        _frame(bans, "no-invoices", pl.format(
            "BAN {} holds allocations of this period (track(s) {}) but no input has an invoice of "
            "it: every number would be reported blank. A forgotten invoice file looks exactly "
            "like this; if the BAN really issued nothing, fine.", pl.col("ban"), pl.col("tracks"))),
        _frame(tills, "no-invoices", pl.format(
            "Till {} of BAN {} was handed numbers of track(s) {} but no input has an invoice of "
            "it: its whole share would be reported blank. Was its file left out?",
            pl.col("machine"), pl.col("ban"), pl.col("tracks"))),
        _frame(unused, "allocation-unused", pl.format(
            "Allocation {} {}–{} (BAN {}{}) has no used number: it is reported blank in full. "
            "Worth a look if it was handed to a till or system.",
            pl.col("track"), pl.col("begin_no"), pl.col("end_no"), pl.col("ban"), whose)),
    ])


def invoice_rejected_findings(rejected: pl.DataFrame) -> pl.DataFrame:
    """One invoice-rejected per rejected invoice (seller_ban, invoice_number, invoice_date,
    source, line)."""
    rows = rejected.with_columns(
        ban=pl.col("seller_ban"), track=pl.col("invoice_number").str.slice(0, 2),
        begin_no=pl.col("invoice_number").str.slice(2), end_no=pl.col("invoice_number").str.slice(2))
    return _frame(rows, "invoice-rejected", pl.format(
        "Invoice {} dated {} was rejected (退回) by the buyer ({}): the number stays used and is "
        "not reported blank. Check whether a new invoice was issued for the sale.",
        pl.col("invoice_number"), pl.col("invoice_date"), _where()))


def unknown_file_findings(folder: str, files: list[str]) -> pl.DataFrame:
    listed = ", ".join(files[:_LISTED_FILES])
    more = f" and {len(files) - _LISTED_FILES} more" if len(files) > _LISTED_FILES else ""
    return _frame(pl.DataFrame({"n": [len(files)]}), "unknown-file", pl.lit(
        f"{len(files)} file(s) in {folder} are of no kind blanktrack reads and were left out: "
        f"{listed}{more}. Check none of them holds invoices."))


def unofficial_namespace_findings(file: str, namespaces: list[str]) -> pl.DataFrame:
    return _frame(pl.DataFrame({"n": [1]}), "unofficial-namespace", pl.lit(
        f"{file} is an E0501 in namespace {', '.join(namespaces)}, which is not in the MOF's "
        "schemas (urn:GEINV:E0501:4.0, 3.1, 3.2): read anyway. Check it is the allocation the "
        "platform sent."))


def with_more(findings: pl.DataFrame, parts: list[pl.DataFrame]) -> pl.DataFrame:
    """`findings` (as collect made them) with more, in collect's order."""
    return collect([findings, *parts])
