"""Sample data: the small hand-made period 10312 and a generator of large realistic periods.

`write_sample` writes the committed sample in `blanktrack/sample/10312/`: every case the
reconciliation must handle is planted there once, and `SAMPLE_EXPECTED` says what a correct run
finds (blank ranges and findings), so a person can check it by hand and tests can assert on it.

`generate_period` writes a period of any size, deterministic for a seed. Allocations are planned
in Python with `random.Random(seed)`; invoices are made with polars expressions (an arithmetic
hash of the invoice index gives the pseudo-random draws, stable across polars versions) and
written in chunks, so ten million invoices take seconds and bounded memory.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import random
import string
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

import polars as pl

from blanktrack.atomic import write_bytes_atomic, write_text_atomic
from blanktrack.ban import is_valid_ban
from blanktrack.period import Period
from blanktrack.schemas import BOOKLET_SIZE

__all__ = [
    "ALLOCATION_COLUMNS",
    "INVOICE_COLUMNS",
    "MOF_HEADER",
    "SAMPLE_DIR",
    "SAMPLE_EXPECTED",
    "SAMPLE_PERIOD",
    "generate_period",
    "write_sample",
]

ALLOCATION_COLUMNS: Final = (
    "ban", "invoice_type", "period", "track", "begin_no", "end_no", "head_ban", "machine",
    "reported_by",
)
INVOICE_COLUMNS: Final = (
    "invoice_number", "invoice_date", "seller_ban", "status", "machine", "upload_status",
)
MOF_HEADER: Final = "統一編號,發票類別代號,發票類別,期別,字軌,起號,迄號"
TYPE_LABELS: Final = {"07": "一般稅額計算", "08": "特種稅額計算"}

SAMPLE_PERIOD: Final = "10312"
SAMPLE_DIR: Final = Path(__file__).resolve().parent / "sample" / SAMPLE_PERIOD

HEAD_BAN: Final = "53567686"  # head office (總機構); also the BAN of the MOF's own example
BRANCH_BAN: Final = "04595257"  # branch (分支機構), reported by the head office


# ---------------------------------------------------------------------------------------------
# The hand-made sample period 10312 (Nov–Dec 2014)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Alloc:
    ban: str
    invoice_type: str
    track: str
    begin: int
    end: int
    head_ban: str = ""
    machine: str = ""
    reported_by: str = ""


# Allocations, in the canonical order (ban, type, track, begin).
_SAMPLE_ALLOCATIONS: Final = (
    # Branch: track LQ in two contiguous rows (a supplementary allocation right after the first),
    # and track LR that the branch never used.
    _Alloc(BRANCH_BAN, "07", "LQ", 500_000, 500_049, head_ban=HEAD_BAN),
    _Alloc(BRANCH_BAN, "07", "LQ", 500_050, 500_099, head_ban=HEAD_BAN),
    _Alloc(BRANCH_BAN, "07", "LR", 777_700, 777_749, head_ban=HEAD_BAN),
    # Head office: track KT shared by three tills, each given whole booklets.
    _Alloc(HEAD_BAN, "07", "KT", 47_281_100, 47_281_199, machine="POS-1"),
    _Alloc(HEAD_BAN, "07", "KT", 47_281_200, 47_281_299, machine="POS-2"),
    _Alloc(HEAD_BAN, "07", "KT", 47_281_300, 47_281_349, machine="POS-3"),
    # Head office: the MOF's own example (issued from the ERP).
    _Alloc(HEAD_BAN, "07", "MB", 2_034_200, 2_034_299),
    # Head office: one type-08 track (特種稅額計算), issued from the ERP.
    _Alloc(HEAD_BAN, "08", "XA", 12_300, 12_349),
)


@dataclass(frozen=True)
class _Run:
    """A run of invoices one system issued in number order over the period."""

    file: str
    seller_ban: str
    machine: str
    track: str
    first: int
    last: int
    skipped: frozenset[int] = frozenset()
    cancelled: frozenset[int] = frozenset()
    voided_reissued: frozenset[int] = frozenset()
    voided_only: frozenset[int] = frozenset()
    upload_failed: frozenset[int] = frozenset()
    dated: tuple[tuple[int, str], ...] = ()  # (number, date) overrides
    upload_status: str = "accepted"


_POS1: Final = "invoices_pos-1.csv"
_POS2: Final = "invoices_pos-2.csv"
_POS3: Final = "invoices_pos-3.csv"
_ERP: Final = "invoices_erp.csv"
SAMPLE_TURNKEY: Final = "turnkey_pos-3"  # POS-3's invoices as its Turnkey data folder

_SAMPLE_RUNS: Final = (
    _Run(_POS1, HEAD_BAN, "POS-1", "KT", 47_281_100, 47_281_179,
         skipped=frozenset({47_281_137}), upload_failed=frozenset({47_281_150})),
    _Run(_POS2, HEAD_BAN, "POS-2", "KT", 47_281_200, 47_281_259,
         skipped=frozenset({47_281_222, 47_281_223}), cancelled=frozenset({47_281_230}),
         voided_reissued=frozenset({47_281_240})),
    _Run(_POS3, HEAD_BAN, "POS-3", "KT", 47_281_300, 47_281_340,
         cancelled=frozenset({47_281_320}), voided_only=frozenset({47_281_315}),
         dated=((47_281_340, "2015-01-01"),)),
    # The ERP does not know whether the MOF accepted its invoices: upload_status empty.
    _Run(_ERP, HEAD_BAN, "ERP", "MB", 2_034_200, 2_034_267,
         cancelled=frozenset({2_034_210, 2_034_245}), upload_status=""),
    _Run(_ERP, HEAD_BAN, "ERP", "XA", 12_300, 12_319,
         cancelled=frozenset({12_305}), upload_status=""),
    _Run(_ERP, BRANCH_BAN, "ERP", "LQ", 500_000, 500_031,
         skipped=frozenset({500_017}), upload_status=""),
)

# An invoice on a track the head office was never allocated (a till set up with a wrong track).
_OUTSIDE: Final = ("KU47281180", "2014-12-31", HEAD_BAN, "issued", "POS-1", "accepted", _POS1)


def _blank(ban: str, itype: str, track: str, begin: str, end: str) -> dict[str, Any]:
    return {
        "head_ban": HEAD_BAN, "ban": ban, "invoice_type": itype, "track": track,
        "begin_no": begin, "end_no": end, "count": int(end) - int(begin) + 1,
    }


def _finding(
    code: str, severity: str, ban: str, itype: str | None, track: str, begin: str, end: str,
    machine: str | None,
) -> dict[str, Any]:
    return {
        "code": code, "severity": severity, "ban": ban, "invoice_type": itype, "track": track,
        "begin_no": begin, "end_no": end, "machine": machine,
    }


SAMPLE_EXPECTED: Final[dict[str, Any]] = {
    "period": SAMPLE_PERIOD,
    "reporting_bans": [HEAD_BAN],  # the branch is reported by its head office
    "upload_files": [f"{HEAD_BAN}_{SAMPLE_PERIOD}.csv"],
    # Blank ranges of the default run (maximal runs merged across adjacent allocations), sorted
    # by ban, invoice_type, track, begin_no.
    "blank_ranges": [
        _blank(BRANCH_BAN, "07", "LQ", "00500017", "00500017"),
        _blank(BRANCH_BAN, "07", "LQ", "00500032", "00500099"),  # crosses two allocation rows
        _blank(BRANCH_BAN, "07", "LR", "00777700", "00777749"),  # allocation wholly unused
        _blank(HEAD_BAN, "07", "KT", "47281137", "47281137"),
        _blank(HEAD_BAN, "07", "KT", "47281180", "47281199"),
        _blank(HEAD_BAN, "07", "KT", "47281222", "47281223"),
        _blank(HEAD_BAN, "07", "KT", "47281260", "47281299"),
        _blank(HEAD_BAN, "07", "KT", "47281341", "47281349"),
        _blank(HEAD_BAN, "07", "MB", "02034268", "02034299"),  # the MOF's own example
        _blank(HEAD_BAN, "08", "XA", "00012320", "00012349"),
    ],
    # The same with the option that splits runs at allocation edges: only LQ changes.
    "blank_ranges_split_at_allocations": [
        _blank(BRANCH_BAN, "07", "LQ", "00500017", "00500017"),
        _blank(BRANCH_BAN, "07", "LQ", "00500032", "00500049"),
        _blank(BRANCH_BAN, "07", "LQ", "00500050", "00500099"),
        _blank(BRANCH_BAN, "07", "LR", "00777700", "00777749"),
        _blank(HEAD_BAN, "07", "KT", "47281137", "47281137"),
        _blank(HEAD_BAN, "07", "KT", "47281180", "47281199"),
        _blank(HEAD_BAN, "07", "KT", "47281222", "47281223"),
        _blank(HEAD_BAN, "07", "KT", "47281260", "47281299"),
        _blank(HEAD_BAN, "07", "KT", "47281341", "47281349"),
        _blank(HEAD_BAN, "07", "MB", "02034268", "02034299"),
        _blank(HEAD_BAN, "08", "XA", "00012320", "00012349"),
    ],
    # Findings other than late-report (which depends on the report date), sorted by code, ban,
    # track, begin_no. `machine` is the till of the allocation row or of the invoice concerned
    # (None for the ERP's branch track, whose allocation has no machine); compare on code, ban,
    # track, begin_no, end_no when an engine fills it differently.
    "findings": [
        # Wholly unused allocations (info): reported blank in full, worth a look.
        _finding("allocation-unused", "info", BRANCH_BAN, "07", "LQ", "00500050", "00500099",
                 None),
        _finding("allocation-unused", "info", BRANCH_BAN, "07", "LR", "00777700", "00777749",
                 None),
        _finding("dated-outside-period", "warning", HEAD_BAN, "07", "KT", "47281340", "47281340",
                 "POS-3"),
        _finding("outside-allocation", "error", HEAD_BAN, None, "KU", "47281180", "47281180",
                 "POS-1"),
        _finding("skipped-number", "warning", BRANCH_BAN, "07", "LQ", "00500017", "00500017",
                 None),
        _finding("skipped-number", "warning", HEAD_BAN, "07", "KT", "47281137", "47281137",
                 "POS-1"),
        _finding("skipped-number", "warning", HEAD_BAN, "07", "KT", "47281222", "47281223",
                 "POS-2"),
        _finding("upload-failed", "error", HEAD_BAN, "07", "KT", "47281150", "47281150",
                 "POS-1"),
        _finding("void-not-reissued", "warning", HEAD_BAN, "07", "KT", "47281315", "47281315",
                 "POS-3"),
    ],
    "finding_codes": [
        "allocation-unused", "dated-outside-period", "outside-allocation", "skipped-number", "upload-failed",
        "void-not-reissued",
    ],
    "absent_finding_codes": ["allocation-misaligned", "allocation-overlap", "duplicate-number"],
    # The void → re-issue pair: two rows with the same number, not a duplicate.
    "void_reissue": {"invoice_number": "KT47281240", "voided": "2014-12-10",
                     "reissued": "2014-12-11"},
    # numbers allocated / used / blank; invoice rows in all files (with the void and the KU row)
    "totals": {"allocated": 550, "used": 297, "blank": 253, "invoice_rows": 299},
    "files": [
        "README.md", "allocations.csv", f"invnoapply_{SAMPLE_PERIOD}.csv", _ERP, _POS1, _POS2,
        _POS3, SAMPLE_TURNKEY,
    ],
}


def _sample_dates(run: _Run, numbers: list[int]) -> dict[int, str]:
    """Dates spread over the period in number order; overrides from the run win."""
    first = Period.parse(SAMPLE_PERIOD).first_day
    days = (Period.parse(SAMPLE_PERIOD).last_day - first).days  # 60: the last day stays free
    n = len(numbers)
    dates = {num: (first + dt.timedelta(days=(i * days) // n)).isoformat()
             for i, num in enumerate(numbers)}
    dates.update(dict(run.dated))
    return dates


def _sample_invoice_rows() -> dict[str, list[tuple[str, ...]]]:
    files: dict[str, list[tuple[str, ...]]] = {}
    for run in _SAMPLE_RUNS:
        numbers = [n for n in range(run.first, run.last + 1) if n not in run.skipped]
        dates = _sample_dates(run, numbers)
        rows = files.setdefault(run.file, [])
        for num in numbers:
            inv = f"{run.track}{num:08d}"
            day = dates[num]
            upload = "failed" if num in run.upload_failed else run.upload_status
            if num in run.voided_reissued:
                later = (dt.date.fromisoformat(day) + dt.timedelta(days=1)).isoformat()
                rows.append((inv, day, run.seller_ban, "voided", run.machine, run.upload_status))
                rows.append((inv, later, run.seller_ban, "issued", run.machine, upload))
                continue
            status = (
                "cancelled" if num in run.cancelled
                else "voided" if num in run.voided_only
                else "issued"
            )
            rows.append((inv, day, run.seller_ban, status, run.machine, upload))
    *row, file = _OUTSIDE
    files[file].append(tuple(row))
    for rows in files.values():
        rows.sort()  # invoice_number, then date: a void comes before its re-issue
    return files


def _csv_line(fields: tuple[str, ...] | list[str]) -> str:
    for f in fields:
        if any(c in f for c in ',"\r\n'):
            raise ValueError(f"sample field {f!r} would need quoting")
    return ",".join(fields) + "\n"


def _sample_allocation_csv() -> str:
    lines = [_csv_line(list(ALLOCATION_COLUMNS))]
    for a in _SAMPLE_ALLOCATIONS:
        lines.append(_csv_line([
            a.ban, a.invoice_type, SAMPLE_PERIOD, a.track, f"{a.begin:08d}", f"{a.end:08d}",
            a.head_ban, a.machine, a.reported_by,
        ]))
    return "".join(lines)


def _mof_span(period: Period) -> str:
    y = f"{period.roc_year:03d}"
    return f"{y}/{period.end_month - 1:02d} ~ {y}/{period.end_month:02d}"


def _sample_mof_csv() -> str:
    span = _mof_span(Period.parse(SAMPLE_PERIOD))
    lines = ["\ufeff" + _csv_line(MOF_HEADER.split(","))]
    for a in _SAMPLE_ALLOCATIONS:
        lines.append(_csv_line([
            a.ban, a.invoice_type, TYPE_LABELS[a.invoice_type], span, a.track,
            f"{a.begin:08d}", f"{a.end:08d}",
        ]))
    return "".join(lines)


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out) + "\n"


def _sample_readme() -> str:
    allocs = _md_table(
        ["BAN", "type", "track", "begin", "end", "numbers", "head_ban", "machine"],
        [[a.ban, a.invoice_type, a.track, f"{a.begin:08d}", f"{a.end:08d}",
          str(a.end - a.begin + 1), a.head_ban or "—", a.machine or "—"]
         for a in _SAMPLE_ALLOCATIONS],
    )
    blanks = _md_table(
        ["BAN", "type", "track", "begin", "end", "count"],
        [[b["ban"], b["invoice_type"], b["track"], b["begin_no"], b["end_no"], str(b["count"])]
         for b in SAMPLE_EXPECTED["blank_ranges"]],
    )
    findings = _md_table(
        ["code", "severity", "BAN", "track", "begin", "end", "machine"],
        [[f["code"], f["severity"], f["ban"], f["track"], f["begin_no"], f["end_no"],
          f["machine"] or "—"] for f in SAMPLE_EXPECTED["findings"]],
    )
    t = SAMPLE_EXPECTED["totals"]
    return f"""# Sample period {SAMPLE_PERIOD} (103/11~103/12, Nov–Dec 2014)

Written by `blanktrack.demo.write_sample`; do not edit by hand (a test checks that these files
are byte-identical to what the function writes). What a correct run finds is also in
`blanktrack.demo.SAMPLE_EXPECTED`.

## Files

- `allocations.csv` — canonical allocation table (§5.1). The KT rows carry `machine` (the till
  each sub-range was handed to); the branch rows carry `head_ban` {HEAD_BAN}.
- `invnoapply_{SAMPLE_PERIOD}.csv` — the same allocations, row for row, as an MOF download
  (UTF-8 with BOM, header line, period as `103/11 ~ 103/12`). It cannot carry `head_ban` or
  `machine`: loaded alone, the branch reports for itself and skipped numbers are judged per
  allocation row (here each till's row, so the findings are the same).
- `invoices_pos-1.csv`, `invoices_pos-2.csv`, `invoices_pos-3.csv` — the head office's three tills
  on track KT (`upload_status` accepted, one failed).
- `invoices_erp.csv` — the company ERP: head office tracks MB (07) and XA (08) and the branch's
  track LQ (`upload_status` empty = unknown).
- `turnkey_pos-3/` — POS-3's invoices once more, as its Turnkey data folder holds them: MIG 4.1
  F0401 (issue), F0501 (cancel) and F0701 (void) under `UpCast/B2SSTORAGE/<MIG>/BAK/yyyyMMdd/HH/`.
  `params/sample.yaml` reads this folder instead of `invoices_pos-3.csv`; the report is the same.

## Businesses

- {HEAD_BAN} head office (總機構); it reports for the branch.
- {BRANCH_BAN} branch (分支機構), `head_ban` {HEAD_BAN}.

## Allocations

{allocs}
Allocated {t["allocated"]} numbers; used {t["used"]}; blank {t["blank"]}.

## Planted cases

1. **MOF example**: {HEAD_BAN}, type 07, track MB, 02034200–02034267 used (02034210 and 02034245
   cancelled: still used) → blank exactly 02034268–02034299.
2. **Three tills sharing track KT**: POS-1 owns 47281100–47281199, POS-2 47281200–47281299,
   POS-3 47281300–47281349 (whole booklets). Each uses a prefix of its sub-range, so each till's
   unused tail is blank even though a later sub-range is in use: the tails are *not* skipped
   numbers.
3. **Skipped numbers (跳號)**: KT 47281137 (POS-1), KT 47281222–47281223 (POS-2), LQ 00500017
   (branch). Blank, and each a `skipped-number` finding.
4. **Cancellations (作廢)**: KT 47281230, KT 47281320, MB 02034210, MB 02034245, XA 00012305 —
   used, never blank.
5. **Void then re-issue (註銷 → 開立)**: KT47281240 in POS-2: voided 2014-12-10, issued again
   2014-12-11. Two rows, one number used once: no finding.
6. **Void not re-issued**: KT47281315 (POS-3): used, `void-not-reissued`.
7. **Outside any allocation**: KU47281180 (POS-1, 2014-12-31), track KU was never allocated:
   `outside-allocation`; it does not make KT47281180 used.
8. **Dated outside the period**: KT47281340 (POS-3) dated 2015-01-01 (period 10402, adjacent):
   the number is used, and `dated-outside-period`.
9. **Upload failed**: KT47281150 (POS-1), `upload_status` failed: still used, `upload-failed`.
10. **Type 08**: head office track XA 00012300–00012349, 00012300–00012319 used.
11. **Branch**: {BRANCH_BAN} track LR 00777700–00777749 entirely unused → reported in full.
12. **Adjacent allocations**: branch track LQ is two rows 00500000–00500049 and
    00500050–00500099; 00500000–00500031 used, so the blank run 00500032–00500099 crosses the
    row boundary and is one range (split at allocation edges: 00500032–00500049 and
    00500050–00500099).

No duplicate numbers, no misaligned or overlapping allocations. `late-report` depends only on the
report date (the window for {SAMPLE_PERIOD} is 2015-01-01 to 2015-01-10).

## Expected blank ranges

All in one upload file `{HEAD_BAN}_{SAMPLE_PERIOD}.csv` (the branch's rows carry its own BAN).

{blanks}
## Expected findings

{findings}"""


def _sample_files() -> dict[str, bytes]:
    files: dict[str, bytes] = {
        "README.md": _sample_readme().encode("utf-8"),
        "allocations.csv": _sample_allocation_csv().encode("utf-8"),
        f"invnoapply_{SAMPLE_PERIOD}.csv": _sample_mof_csv().encode("utf-8"),
    }
    for name, rows in _sample_invoice_rows().items():
        text = _csv_line(list(INVOICE_COLUMNS)) + "".join(_csv_line(r) for r in rows)
        files[name] = text.encode("utf-8")
    # POS-3's invoices once more, as the till's Turnkey data folder holds them (MIG 4.1):
    # params/sample.yaml reads this folder instead of invoices_pos-3.csv.
    from .sources.mig_write import turnkey_files

    pos3 = [(r[0], r[1], r[2], r[3]) for r in _sample_invoice_rows()[_POS3]]
    for name, data in turnkey_files(pos3).items():
        files[f"{SAMPLE_TURNKEY}/{name}"] = data
    return dict(sorted(files.items()))


def write_sample(out_dir: Path) -> list[Path]:
    """Write the hand-made sample period 10312 into `out_dir`; return the paths, sorted.

    The bytes never change: they equal the committed files in `blanktrack/sample/10312/`.
    What a correct reconciliation finds is in `SAMPLE_EXPECTED` and the folder's README.md.
    """
    out_dir = Path(out_dir)
    paths = []
    for name, data in _sample_files().items():
        path = write_bytes_atomic(out_dir / name, data)
        os.chmod(path, 0o644)  # plain data files, readable by all (mkstemp made them 0600)
        paths.append(path)
    return paths


# ---------------------------------------------------------------------------------------------
# The generator of large periods
# ---------------------------------------------------------------------------------------------

_P: Final = 2_147_483_647  # 2**31 - 1: products of two residues fit in Int64
_TRACK_SPACE: Final = 100_000_000  # numbers per track letters

# Bounds of a generated period. The BANs and tills are planned one by one in Python, and every
# BAN and till gets whole booklets: far beyond these the planning alone runs for hours (and the
# period could not hold their numbers anyway: 676 tracks of 100,000,000 numbers).
MAX_INVOICES: Final = 1_000_000_000
MAX_BANS: Final = 100_000
MAX_TILLS_PER_BAN: Final = 1_000
MAX_TILLS: Final = 1_000_000  # BANs × tills per BAN


def _uniform(key: pl.Expr, salts: tuple[int, ...]) -> pl.Expr:
    """A pseudo-random number in [0, 1) from an integer key: a few rounds of multiply-add
    modulo 2**31 - 1 and xor-folding. Plain integer arithmetic, so the draws are the same in
    every polars version (unlike Expr.hash)."""
    x = key.cast(pl.Int64) % _P
    for a, b in zip(salts[0::2], salts[1::2], strict=True):
        x = (x * a + b) % _P
        x = x ^ (x // 65_536)
    return x.cast(pl.Float64) / _P


def _valid_bans(rng: random.Random, n: int) -> list[str]:
    start = rng.randrange(1_000_000, 90_000_000)
    bans: list[str] = []
    candidate = start
    while len(bans) < n:
        text = f"{candidate % 100_000_000:08d}"
        if is_valid_ban(text):
            bans.append(text)
        candidate += 1
        if candidate - start > 100_000_000:
            raise ValueError(f"cannot find {n} distinct valid BANs")
    return bans


def _split(total: int, weights: list[float]) -> list[int]:
    """Split `total` into integers proportional to `weights` (largest remainder)."""
    s = sum(weights)
    raw = [total * w / s for w in weights]
    parts = [math.floor(r) for r in raw]
    rest = total - sum(parts)
    order = sorted(range(len(raw)), key=lambda i: (parts[i] - raw[i], i))
    for i in order[:rest]:
        parts[i] += 1
    return parts


def _booklets(n: int) -> int:
    return max(1, math.ceil(n / BOOKLET_SIZE)) * BOOKLET_SIZE


@dataclass
class _Till:
    index: int
    ban: str
    invoice_type: str
    machine: str
    track: str
    begin: int  # first number of the till's sub-range
    size: int  # numbers in the sub-range (whole booklets)
    n: int  # invoices it issues
    allowance: int  # at most this many skipped numbers
    g0: int = 0  # global index of its first invoice


def _plan(
    rng: random.Random, *, n_invoices: int, n_bans: int, tills_per_ban: int, skip_rate: float,
) -> tuple[list[dict[str, str | None]], list[_Till]]:
    bans = _valid_bans(rng, n_bans)
    weights = [rng.paretovariate(1.2) for _ in bans]
    per_ban = _split(n_invoices, weights)
    tracks = [a + b for a in string.ascii_uppercase for b in string.ascii_uppercase]
    rng.shuffle(tracks)
    track_i = 0
    cursor = rng.randrange(0, 1000) * BOOKLET_SIZE
    heads: list[str] = []
    allocations: list[dict[str, str | None]] = []
    tills: list[_Till] = []
    g = 0
    for ban, n_ban in zip(bans, per_ban, strict=True):
        itype = "08" if rng.random() < 0.08 else "07"
        if heads and rng.random() < 0.15:
            head = rng.choice(heads)
        else:
            head = ban
            heads.append(ban)
        per_till = _split(n_ban, [0.5 + rng.random() for _ in range(tills_per_ban)])
        plan: list[tuple[str, int, int, int]] = []  # machine, size, n, allowance
        for k, n_t in enumerate(per_till):
            allowance = math.ceil(n_t * skip_rate * 2) + 2 if skip_rate > 0 else 0
            spare = rng.choice((0, 0, 1, 1, 2, 3)) * BOOKLET_SIZE
            plan.append((f"POS-{k + 1:02d}", _booklets(n_t + allowance) + spare, n_t, allowance))
        unused = BOOKLET_SIZE * rng.randint(1, 4) if rng.random() < 0.05 else 0
        need = sum(p[1] for p in plan) + unused
        if need > _TRACK_SPACE:
            raise ValueError(f"BAN {ban} would need {need} numbers, more than one track holds")
        cursor += rng.randrange(0, 20) * BOOKLET_SIZE  # numbers of other businesses
        if cursor + need > _TRACK_SPACE:
            track_i += 1
            if track_i >= len(tracks):
                raise ValueError("the period would need more numbers than all tracks hold")
            cursor = rng.randrange(0, 1000) * BOOKLET_SIZE
        track = tracks[track_i]
        for machine, size, n_t, allowance in plan:
            tills.append(_Till(len(tills), ban, itype, machine, track, cursor, size, n_t,
                               allowance, g))
            allocations.append(_alloc_row(ban, itype, track, cursor, size, head, machine))
            cursor += size
            g += n_t
        if unused:
            allocations.append(_alloc_row(ban, itype, track, cursor, unused, head, None))
            cursor += unused
    return allocations, tills


def _alloc_row(
    ban: str, itype: str, track: str, begin: int, size: int, head: str, machine: str | None,
) -> dict[str, str | None]:
    """One canonical allocation row; null (an empty CSV field) where a field does not apply."""
    return {
        "ban": ban, "invoice_type": itype, "track": track, "begin_no": f"{begin:08d}",
        "end_no": f"{begin + size - 1:08d}", "head_ban": None if head == ban else head,
        "machine": machine, "reported_by": None,
    }


def _write_frame(df: pl.DataFrame, path: Path, fmt: str) -> Path:
    """Write a frame atomically (temporary file in the same folder, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        if fmt == "csv":
            df.write_csv(tmp, line_terminator="\n")
        else:
            df.write_parquet(tmp, statistics=True)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; these are plain data files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _invoice_chunk(
    pieces: pl.DataFrame, *, first_day: dt.date, days: int, salts: dict[str, tuple[int, ...]],
    skip_rate: float, cancel_rate: float, void_rate: float,
) -> pl.DataFrame:
    """Invoices of some tills (each piece: a till and a range [i_lo, i_hi) of its invoices)."""
    i = pl.col("i")
    g = pl.col("g0") + i  # global invoice index: the key of every draw
    raw_skip = (_uniform(g, salts["skip"]) < skip_rate) if skip_rate > 0 else pl.lit(False)
    df = (
        pieces.lazy()
        .with_columns(i=pl.int_ranges("i_lo", "i_hi"))
        .explode("i")
        .drop_nulls("i")
        .with_columns(raw_skip=raw_skip)
        .with_columns(
            cum_skip=pl.col("carry") + pl.col("raw_skip").cast(pl.Int64).cum_sum().over("till")
        )
        # a skip moves this invoice and all later ones of the till one number on
        .with_columns(skip=pl.col("raw_skip") & (pl.col("cum_skip") <= pl.col("allowance")))
        .with_columns(
            offset=i + pl.col("skip").cast(pl.Int64).cum_sum().over("till")
            + pl.col("carry_used"),
            u=_uniform(g, salts["status"]),
            date=pl.lit(first_day) + pl.duration(days=(i * (days - 1)) // pl.col("n")),
        )
        .with_columns(
            kind=pl.when(pl.col("u") < cancel_rate).then(pl.lit(1))
            .when(pl.col("u") < cancel_rate + void_rate).then(pl.lit(2))
            .otherwise(pl.lit(0)),
        )
        # a voided invoice becomes two rows: the void, and the re-issue one day later
        .with_columns(k=pl.int_ranges(0, pl.when(pl.col("kind") == 2).then(2).otherwise(1)))
        .explode("k")
        .select(
            invoice_number=pl.col("track")
            + (pl.col("begin") + pl.col("offset")).cast(pl.String).str.zfill(8),
            invoice_date=(pl.col("date") + pl.duration(days=pl.col("k"))).cast(pl.String),
            seller_ban=pl.col("ban"),
            status=pl.when(pl.col("k") == 1).then(pl.lit("issued"))
            .when(pl.col("kind") == 1).then(pl.lit("cancelled"))
            .when(pl.col("kind") == 2).then(pl.lit("voided"))
            .otherwise(pl.lit("issued")),
            machine=pl.col("machine"),
            upload_status=pl.lit("accepted"),
            skip=pl.col("skip") & (pl.col("k") == 0),
            till=pl.col("till"),
        )
    )
    return df.collect()


def generate_period(
    out_dir: Path,
    *,
    period: str,
    n_invoices: int,
    n_bans: int,
    tills_per_ban: int,
    seed: int,
    skip_rate: float,
    cancel_rate: float,
    void_rate: float,
    fmt: Literal["csv", "parquet"],
    chunk_rows: int = 5_000_000,
) -> dict[str, Any]:
    """Write a realistic period of `n_invoices` invoices, the same bytes for the same arguments.

    - `n_bans` valid BANs (sequential numbers from a seeded start, kept when they pass
      `is_valid_ban`); invoice counts per BAN are heavy-tailed; about 15 % of BANs are branches
      reported by an earlier BAN (`head_ban`), about 8 % use type 08.
    - Each BAN has `tills_per_ban` tills; each till gets a contiguous sub-range of whole booklets
      of its BAN's track (one allocation row with `machine` set) and issues a prefix of it in
      number order with dates rising over the period. About 5 % of BANs also hold an allocation
      they never use. Allocation ranges never overlap; track letters recur only across distant
      number ranges.
    - Per invoice: with probability `skip_rate` a number is skipped before it (跳號), with
      `cancel_rate` it is cancelled, with `void_rate` it is voided and re-issued the next day
      (two rows with the same number). Every invoice lies inside its BAN's allocation and is
      dated inside the period; (seller_ban, invoice_number) is unique except for the void →
      re-issue pairs.

    Writes `allocations.{fmt}` (canonical, §5.1), `invnoapply_{period}.csv` (the same rows as an
    MOF download) and `invoices/invoices_NNNN.{fmt}` with about `chunk_rows` invoices each
    (all of a till's rows are in number order; a till may continue in the next file).
    Invoice dates are `YYYY-MM-DD` strings in both formats. Returns what was written.
    """
    per = Period.parse(period)
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"fmt must be 'csv' or 'parquet', not {fmt!r}")
    if n_invoices < 0 or n_bans < 1 or tills_per_ban < 1 or chunk_rows < 1:
        raise ValueError("n_invoices must be ≥ 0; n_bans, tills_per_ban, chunk_rows ≥ 1")
    for name, value, most in (("n_invoices", n_invoices, MAX_INVOICES), ("n_bans", n_bans, MAX_BANS),
                              ("tills_per_ban", tills_per_ban, MAX_TILLS_PER_BAN),
                              ("n_bans × tills_per_ban", n_bans * tills_per_ban, MAX_TILLS)):
        if value > most:
            raise ValueError(f"{name} must be at most {most:,}, not {value:,}")
    for name, rate in (("skip_rate", skip_rate), ("cancel_rate", cancel_rate),
                       ("void_rate", void_rate)):
        if not 0.0 <= rate < 1.0:  # NaN fails this too
            raise ValueError(f"{name} must be in [0, 1), not {rate}")
    if cancel_rate + void_rate >= 1.0:
        raise ValueError("cancel_rate + void_rate must be below 1")

    out_dir = Path(out_dir)
    rng = random.Random(seed)
    allocations, tills = _plan(rng, n_invoices=n_invoices, n_bans=n_bans,
                               tills_per_ban=tills_per_ban, skip_rate=skip_rate)
    salts = {name: tuple(rng.randrange(1, _P) for _ in range(6)) for name in ("skip", "status")}

    alloc_df = pl.DataFrame(allocations, schema=dict.fromkeys(ALLOCATION_COLUMNS, pl.String))
    alloc_df = (
        alloc_df.with_columns(period=pl.lit(per.code))
        .select(ALLOCATION_COLUMNS)
        .sort("ban", "invoice_type", "track", "begin_no")
    )
    alloc_path = _write_frame(alloc_df, out_dir / f"allocations.{fmt}", fmt)
    span = _mof_span(per)
    mof_lines = ["\ufeff" + MOF_HEADER + "\n"]
    mof_lines += [
        f"{r['ban']},{r['invoice_type']},{TYPE_LABELS[r['invoice_type']]},{span},{r['track']},"
        f"{r['begin_no']},{r['end_no']}\n"
        for r in alloc_df.iter_rows(named=True)
    ]
    mof_path = write_text_atomic(out_dir / f"invnoapply_{per.code}.csv", "".join(mof_lines))

    first_day = per.first_day
    days = (per.last_day - first_day).days + 1
    carry_raw: dict[int, int] = {}  # per till: raw skip draws in earlier chunks
    carry_used: dict[int, int] = {}  # per till: skips applied in earlier chunks
    invoice_files: list[Path] = []
    counts = {"rows": 0, "skipped": 0, "cancelled": 0, "voided": 0}
    n_chunks = math.ceil(n_invoices / chunk_rows)
    till_i = 0
    for c in range(n_chunks):
        lo, hi = c * chunk_rows, min((c + 1) * chunk_rows, n_invoices)
        pieces: list[dict[str, Any]] = []
        while till_i < len(tills):
            t = tills[till_i]
            a, b = max(lo, t.g0), min(hi, t.g0 + t.n)
            if a < b:
                pieces.append({
                    "till": t.index, "ban": t.ban, "machine": t.machine, "track": t.track,
                    "begin": t.begin, "n": t.n, "allowance": t.allowance, "g0": t.g0,
                    "i_lo": a - t.g0, "i_hi": b - t.g0,
                    "carry": carry_raw.get(t.index, 0), "carry_used": carry_used.get(t.index, 0),
                })
            if t.g0 + t.n > hi:
                break  # this till continues in the next chunk
            till_i += 1
        frame = _invoice_chunk(
            pl.DataFrame(pieces), first_day=first_day, days=days, salts=salts,
            skip_rate=skip_rate, cancel_rate=cancel_rate, void_rate=void_rate,
        )
        if till_i < len(tills) and tills[till_i].g0 < hi:  # a till split at the chunk edge
            t = tills[till_i]
            part = frame.filter(pl.col("till") == t.index)
            carry_used[t.index] = carry_used.get(t.index, 0) + int(part["skip"].sum())
            raw = _invoice_chunk_raw_skips(t, lo, hi, salts["skip"], skip_rate)
            carry_raw[t.index] = carry_raw.get(t.index, 0) + raw
        counts["rows"] += frame.height
        counts["skipped"] += int(frame["skip"].sum())
        counts["cancelled"] += int((frame["status"] == "cancelled").sum())
        counts["voided"] += int((frame["status"] == "voided").sum())
        path = out_dir / "invoices" / f"invoices_{c + 1:04d}.{fmt}"
        invoice_files.append(_write_frame(frame.select(INVOICE_COLUMNS), path, fmt))
        del frame

    return {
        "period": per.code,
        "seed": seed,
        "format": fmt,
        "allocations": alloc_path,
        "mof_allocations": mof_path,
        "invoice_files": invoice_files,
        "n_bans": n_bans,
        "n_head_offices": len({r["head_ban"] or r["ban"] for r in allocations}),
        "n_tills": len(tills),
        "n_allocations": alloc_df.height,
        "allocated_numbers": int(
            (alloc_df["end_no"].cast(pl.Int64) - alloc_df["begin_no"].cast(pl.Int64) + 1).sum()
        ),
        "n_invoices": n_invoices,
        "n_rows": counts["rows"],
        "n_skipped": counts["skipped"],
        "n_cancelled": counts["cancelled"],
        "n_voided": counts["voided"],
    }


def _invoice_chunk_raw_skips(
    till: _Till, lo: int, hi: int, salts: tuple[int, ...], skip_rate: float,
) -> int:
    """How many skip draws (before the allowance cap) fell on this till's invoices in [lo, hi)."""
    if skip_rate <= 0:
        return 0
    a, b = max(lo, till.g0), min(hi, till.g0 + till.n)
    return int(
        pl.select((_uniform(pl.int_range(a, b, dtype=pl.Int64), salts) < skip_rate).sum())
        .item()
    )
