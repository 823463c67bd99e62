"""Small generated periods for the reference tests, written in every shape blanktrack reads, and
the reconciliation read back as upload rows and finding counts (to compare with tests/reference.py).

Period 11302 (2024-01/02). A head office with a branch it reports for, an independent BAN, and
a seller holding no allocation; three tracks (two of type 07, one of 08) over numbers 0..299.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
from hypothesis import strategies as st
from reference import Allocation, Finding, Invoice, Row

import blanktrack.reconcile as rec
from blanktrack import usage
from blanktrack.reconcile import Reconciliation
from blanktrack.sources.mig_write import cancel, document, envelope, issue, void

PERIOD = "11302"
REPORT_DATE = dt.date(2024, 3, 5)  # inside the report window: no late-report
HEAD, BRANCH, OTHER, STRANGER = "53567686", "04595257", "10458575", "22099131"
TYPE_OF = {"AB": "07", "CD": "07", "XA": "08"}
START = dt.date(2024, 1, 1)  # first day of P
FAR = (dt.date(1970, 1, 1), dt.date(2099, 12, 31))  # a reset clock, a wrong century
INVOICE_CODES = ("outside-allocation", "duplicate-number", "void-not-reissued",
                 "dated-outside-period", "dated-far-from-period", "upload-failed")
ENGINES = ("dense", "dense-in-small-batches", "dense-read-ahead", "one-pass",
           "validate-then-aggregate")


def in_period(shift: int, day: int) -> dt.date:
    """Day `day` (0..60, clipped to the period's end) of the period `shift` periods from P."""
    month = START.month - 1 + 2 * shift
    first = dt.date(START.year + month // 12, month % 12 + 1, 1)
    nxt = dt.date(first.year + (first.month + 1) // 12, (first.month + 1) % 12 + 1, 1)
    return min(first + dt.timedelta(days=day), nxt - dt.timedelta(days=1))


# ---------------------------------------------------------------------------------------------
# Generation


@st.composite
def allocations(draw: st.DrawFn) -> list[Allocation]:
    out = []
    for k in range(draw(st.integers(1, 5))):
        ban = draw(st.sampled_from((HEAD, BRANCH, OTHER)))
        track = draw(st.sampled_from(tuple(TYPE_OF)))
        if draw(st.booleans()):  # whole booklets
            begin = 50 * draw(st.integers(0, 4))
            end = begin + 50 * draw(st.integers(1, 2)) - 1
        else:  # misaligned
            begin = draw(st.integers(0, 280))
            end = min(begin + draw(st.integers(0, 70)), 299)
        out.append(Allocation(
            ban, TYPE_OF[track],
            PERIOD if k == 0 else draw(st.sampled_from((PERIOD, PERIOD, PERIOD, "11304"))),
            track, begin, end, HEAD if ban == BRANCH else None,
            draw(st.sampled_from((None, None, None, "VAC-2")))))
    return out


@st.composite
def invoices(draw: st.DrawFn, tidy: list[Allocation] | None = None) -> list[Invoice]:
    """Invoices of every status, dated in P, P±1, P±2 and far years, with duplicates, voids and
    re-issues. `tidy`: every number in its seller's own allocation of these, one till per
    booklet (the input the dense scan's by-slot shortcut takes)."""
    rows = []
    for _ in range(draw(st.integers(1, 30))):
        shift = draw(st.sampled_from((0, 0, 0, 0, 1, -1, 2, -2, 9)))
        date = (draw(st.sampled_from(FAR)) if shift == 9
                else in_period(shift, draw(st.sampled_from((0, 1, 30, 59, 60)))))
        if tidy:
            a = draw(st.sampled_from(tidy))
            n = draw(st.integers(a.begin, a.end))
            track, seller, machine = a.track, a.ban, f"POS-{n // 50}"
        else:
            track, n = draw(st.sampled_from(tuple(TYPE_OF))), draw(st.integers(0, 299))
            seller = draw(st.sampled_from((HEAD, HEAD, BRANCH, OTHER, STRANGER)))
            machine = draw(st.sampled_from(("POS-1", "POS-2", "POS-3")))
        rows.append(Invoice(
            f"{track}{n:08d}", date, seller,
            draw(st.sampled_from(("issued", "issued", "cancelled", "voided"))),
            draw(st.sampled_from((None, "accepted", "accepted", "failed"))), machine))
    # the same numbers again: duplicates, voids and their re-issues
    for i in draw(st.lists(st.integers(0, len(rows) - 1), max_size=4)):
        rows.append(Invoice(rows[i].number, in_period(0, draw(st.integers(0, 59))),
                            rows[i].seller_ban, draw(st.sampled_from(("issued", "voided"))),
                            None, rows[i].machine))
    return settle(rows)


@st.composite
def periods(draw: st.DrawFn) -> tuple[list[Allocation], list[Invoice]]:
    """Allocations and invoices (numbers 0..299), all moved up by one base: the low numbers,
    the middle, the last booklets of the 8-digit range."""
    base = draw(st.sampled_from((0, 0, 12_345_600, 99_999_700)))
    allocs = draw(allocations())
    own = [a for a in allocs if a.period == PERIOD]
    rows = draw(invoices(own if draw(st.booleans()) else None))
    return ([Allocation(a.ban, a.invoice_type, a.period, a.track, a.begin + base, a.end + base,
                        a.head_ban, a.reported_by) for a in allocs],
            [Invoice(f"{r.number[:2]}{int(r.number[2:]) + base:08d}", r.date, r.seller_ban,
                     r.status, r.upload_status, r.machine) for r in rows])


def settle(rows: list[Invoice]) -> list[Invoice]:
    """A re-issue comes after its void: per seller and number, the issued rows take the latest
    dates (the order in which MIG messages replace one another, §5.2)."""
    groups: dict[tuple[str, str], list[int]] = {}
    for k, row in enumerate(rows):
        groups.setdefault((row.seller_ban, row.number), []).append(k)
    out = list(rows)
    for ks in groups.values():
        dates = sorted(rows[k].date for k in ks)
        statuses = sorted((rows[k].status for k in ks), key=lambda s: s == "issued")
        for k, date, status in zip(ks, dates, statuses, strict=True):
            out[k] = Invoice(rows[k].number, date, rows[k].seller_ban, status,
                             rows[k].upload_status, rows[k].machine)
    return out


def ordered(rows: list[Invoice], order: str, seed: int) -> list[Invoice]:
    """Rows in each till's issuing order, in date order across tills, or in no order."""
    if order == "till":
        return sorted(rows, key=lambda r: (r.machine or "", r.number, r.date))
    if order == "date":
        return sorted(rows, key=lambda r: (r.date, r.number))
    shuffled = list(rows)
    random.Random(seed).shuffle(shuffled)
    return shuffled


def chunks(rows: list[Invoice], parts: int) -> list[list[Invoice]]:
    parts = max(1, min(parts, len(rows)))
    size = -(-len(rows) // parts)
    return [rows[k:k + size] for k in range(0, len(rows), size)]


# ---------------------------------------------------------------------------------------------
# Writing


def write_allocations(folder: Path, rows: list[Allocation]) -> Path:
    path = folder / "allocations.csv"
    path.write_text("ban,invoice_type,period,track,begin_no,end_no,head_ban,reported_by\n" + "".join(
        f"{a.ban},{a.invoice_type},{a.period},{a.track},{a.begin:08d},{a.end:08d},"
        f"{a.head_ban or ''},{a.reported_by or ''}\n" for a in rows), encoding="utf-8")
    return path


CHINESE = {"issued": "開立", "cancelled": "作廢", "voided": "註銷"}


def canonical_frame(rows: list[Invoice], dates: str, optional: bool, chinese: bool,
                    categorical: bool = False) -> pl.DataFrame:
    """`dates`: iso / compact (text), date (a Date column), datetime (a Datetime column);
    `categorical`: every text column a Categorical (a dictionary column in Parquet)."""
    text = {"iso": "%Y-%m-%d", "compact": "%Y%m%d"}
    frame = pl.DataFrame({
        "invoice_number": [r.number for r in rows],
        "invoice_date": ([r.date.strftime(text[dates]) for r in rows] if dates in text else
                         pl.Series([r.date for r in rows], dtype=pl.Date)),
        "seller_ban": [r.seller_ban for r in rows],
        "status": [CHINESE[r.status] if chinese else r.status for r in rows],
        "machine": pl.Series([r.machine for r in rows], dtype=pl.String),
        "upload_status": pl.Series([r.upload_status for r in rows], dtype=pl.String),
    })
    if dates == "datetime":
        frame = frame.with_columns(pl.col("invoice_date").cast(pl.Datetime("us"))
                                   + pl.duration(hours=12))
    if categorical:
        frame = frame.with_columns(pl.col(pl.String).cast(pl.Categorical))
    return frame if optional else frame.drop("machine", "upload_status")


def write_canonical(folder: Path, parts: list[list[Invoice]], fmt: str, dates: str,
                    optional: bool, chinese: bool, categorical: bool = False) -> list[Path]:
    paths = []
    for k, part in enumerate(parts):
        frame = canonical_frame(part, dates, optional, chinese, categorical and fmt == "parquet")
        path = folder / f"invoices_{k}.{fmt}"
        if fmt == "csv":
            frame.write_csv(path)
        else:
            frame.write_parquet(path, row_group_size=8)  # several row groups
        paths.append(path)
    return paths


def messages(rows: list[Invoice]) -> list[tuple[Invoice, str]]:
    """Each row as its MIG 4.1 messages (an issue; then its cancel or void), every message
    distinct (a message found twice counts once, §5.2)."""
    out = []
    for k, r in enumerate(rows):
        date = r.date.strftime("%Y%m%d")
        stamp = f"{k // 3600 % 24:02d}:{k // 60 % 60:02d}:{k % 60:02d}"
        out.append((r, issue(r.number, date, r.seller_ban, stamp)))
        if r.status != "issued":
            after = (cancel if r.status == "cancelled" else void)(r.number, date, r.seller_ban)
            out.append((r, after.replace("18:00:00", stamp)))
    return out


def write_bare(folder: Path, rows: list[Invoice]) -> list[Path]:
    """One message a file, in a folder."""
    (folder / "mig").mkdir()
    for k, (_, message) in enumerate(messages(rows)):
        (folder / "mig" / f"{k:05d}.xml").write_bytes(document(message))
    return [folder / "mig"]


def write_envelopes(folder: Path, parts: list[list[Invoice]]) -> list[Path]:
    paths = []
    for k, part in enumerate(parts):
        paths.append(folder / f"pack_{k}.xml")
        paths[-1].write_bytes(envelope(m for _, m in messages(part)))
    return paths


def write_turnkey(folder: Path, rows: list[Invoice]) -> list[Path]:
    """A Turnkey data folder: sent files under BAK, refused ones (upload failed) under ERR."""
    root = folder / "turnkey"
    for k, (row, message) in enumerate(messages(rows)):
        mig = {"Invoice": "F0401", "CancelInvoice": "F0501", "VoidInvoice": "F0701"}[
            message[1:message.index(" ")]]
        kept = "ERR" if row.upload_status == "failed" else "BAK"
        path = root / "UpCast" / "B2SSTORAGE" / mig / kept / row.date.strftime("%Y%m%d") / "10"
        path.mkdir(parents=True, exist_ok=True)
        (path / f"{row.number}-{k}.xml").write_bytes(document(message))
    return [root]


def write_platform(folder: Path, rows: list[Invoice]) -> list[Path]:
    """The MOF platform's download: M rows (a buyer name with an unquoted comma)."""
    word = {"issued": "開立已確認", "cancelled": "作廢已確認"}
    lines = [",".join(["M", r.number, "", "07", word[r.status], r.date.strftime("%Y/%m/%d"), "",
                       "客,戶", r.seller_ban, "賣方", "", *["0"] * 6, "1", "", "", "", "", "", "",
                       "", "F0401", r.seller_ban, "賣方"]) for r in rows]
    path = folder / "download.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return [path]


def write_erp(folder: Path, rows: list[Invoice]) -> list[Path]:
    """An ERP export: Chinese headers, split 字軌/號碼, ROC dates, 機台 and 上傳狀態."""
    upload = {None: None, "accepted": "成功", "failed": "失敗"}
    frame = pl.DataFrame({
        "字軌": [r.number[:2] for r in rows], "號碼": [r.number[2:] for r in rows],
        "發票日期": [f"{r.date.year - 1911}/{r.date.month:02d}/{r.date.day:02d}" for r in rows],
        "賣方統編": [r.seller_ban for r in rows], "發票狀態": [CHINESE[r.status] for r in rows],
        "機台": [r.machine for r in rows],
        "上傳狀態": pl.Series([upload[r.upload_status] for r in rows], dtype=pl.String),
    })
    path = folder / "erp.csv"
    frame.write_csv(path)
    return [path]


def as_read(rows: list[Invoice], source: str, optional: bool = True) -> list[Invoice]:
    """The rows as a source can state them: the platform's download has no void wording (voided
    rows are left out of it) and, like MIG messages outside a Turnkey folder, no upload status;
    a canonical file without the optional columns has neither machine nor upload status."""
    if source == "platform":
        rows = [r for r in rows if r.status != "voided"]
    if source in ("platform", "bare", "envelope") or not optional:
        rows = [Invoice(r.number, r.date, r.seller_ban, r.status) for r in rows]
    return rows


# ---------------------------------------------------------------------------------------------
# Reconciling and reading back


def reconciled(allocation_path: Path, invoice_paths: list[Path], engine: str,
               split: str = "none", ban: str | None = None) -> Reconciliation:
    """Reconcile with the engine forced: the dense scan (taken whatever the size; in batches
    of 7 rows, a row group a task, on two threads), the one-pass polars path (no dense scan),
    or validate-then-aggregate (neither)."""
    with pytest.MonkeyPatch.context() as mp:
        if engine.startswith("dense"):
            mp.setattr(usage.engine, "DENSE_MIN_ROWS", 0)
        if engine in ("dense-in-small-batches", "dense-read-ahead"):
            from blanktrack.usage import dense

            for name, value in (("BATCH_ROWS", 7), ("CSV_BATCH_ROWS", 7), ("ISSUING_START", 2),
                                ("ROW_GROUPS_PER_TASK", 1), ("THREADS", 2)):
                mp.setattr(dense, name, value)
        if engine == "dense-read-ahead":
            return _read_ahead_first(mp, allocation_path, invoice_paths, split, ban)
        if not engine.startswith("dense"):
            mp.setattr(usage.engine, "dense_scan", lambda *args, **kwargs: None)
        if engine == "validate-then-aggregate":
            mp.setattr(usage.engine, "fast_usage", lambda *args, **kwargs: None)
        return rec.reconcile(PERIOD, [allocation_path], invoice_paths, ban=ban,
                             split=split, report_date=REPORT_DATE)  # type: ignore[arg-type]


def _read_ahead_first(mp: pytest.MonkeyPatch, allocation_path: Path, invoice_paths: list[Path],
                      split: str, ban: str | None) -> Reconciliation:
    """The dense scan in small batches, the first row groups of the first two Parquet files
    read ahead (usage/read_ahead.py) before reconcile begins, however small the period."""
    from blanktrack.usage import read_ahead

    mp.setattr(read_ahead, "DENSE_MIN_ROWS", 0)
    mp.setattr(read_ahead, "READ_AHEAD_ROWS", 10**9)
    mp.setattr(read_ahead, "Thread", InCallThread)  # read ahead now, wholly
    read_ahead.start(invoice_paths)
    try:
        return rec.reconcile(PERIOD, [allocation_path], invoice_paths, ban=ban, split=split,
                             report_date=REPORT_DATE)  # type: ignore[arg-type]
    finally:
        read_ahead.discard()


class InCallThread:
    """A stand-in for threading.Thread whose start() runs the target in the caller."""

    def __init__(self, target: Callable[..., object], args: tuple[object, ...] = (),
                 **_: object) -> None:
        self.target, self.args = target, args

    def start(self) -> None:
        self.target(*self.args)


def upload_rows(result: Reconciliation) -> list[Row]:
    rows = result.exported_ranges.select("head_ban", "ban", "invoice_type", "track", "begin_no",
                                         "end_no").iter_rows()
    return sorted((h, b, t, k, int(lo), int(hi)) for h, b, t, k, lo, hi in rows)


def invoice_findings(result: Reconciliation) -> Counter[Finding]:
    rows = (result.findings.filter(pl.col("code").is_in(INVOICE_CODES))
            .select("code", "ban", "track", "begin_no").iter_rows())
    return Counter((code, ban, track + number) for code, ban, track, number in rows)
