"""Load the allocations (配號): the MOF allocation download, the canonical CSV, or Parquet.

Every row is checked before anything is computed from it; a bad value stops the run with an
InputError that says where it is and what to do. Overlaps and booklet alignment are *findings*,
computed elsewhere, not load errors — except the two no report can satisfy: one BAN's track under
two head offices, and shared numbers with different invoice types. Unknown or repeated columns
are refused (a misspelt optional column would otherwise be dropped silently).

The field checks (`ban_problem`, `track_problem`, `number_problem`, …) return a message and a fix
for one value, so the invoice loader words its problems the same way.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from blanktrack import textio
from blanktrack.ban import is_valid_ban
from blanktrack.errors import InputError, Problem
from blanktrack.period import Period
from blanktrack.schemas import ALLOCATION_SCHEMA

MAX_LISTED = 20  # problems listed in one InputError; the rest are counted

REQUIRED = ("ban", "invoice_type", "period", "track", "begin_no", "end_no")
OPTIONAL = ("head_ban", "machine", "reported_by")
CANONICAL_HEADER = ",".join(REQUIRED + OPTIONAL)
# The MOF download: BAN, type code, type label (ignored), period span, track, begin, end.
MOF_COLUMNS = ("ban", "invoice_type", "type_label", "period", "track", "begin_no", "end_no")

PARQUET_MAGIC = b"PAR1"

# Widths to zero-pad Parquet integer columns to: an integer in Parquet is exact, so the only thing
# lost is the leading zeros, which padding restores. CSV text is never padded (see number_problem).
_PARQUET_INT_WIDTH = {"ban": 8, "head_ban": 8, "invoice_type": 2, "period": 5, "begin_no": 8,
                      "end_no": 8}

_DIGITS = re.compile(r"^[0-9]+$")
_SCIENTIFIC = re.compile(r"^[+-]?[0-9]+(\.[0-9]*)?[eE][+-]?[0-9]+$")
_DECIMAL = re.compile(r"^[0-9]+\.[0-9]*$")
_TRACK = re.compile(r"^[A-Z]{2}$")

Issue = tuple[str, str]  # (message, fix)

_EMPTY_FIX = "export the allocations again (the MOF download or the canonical table)"
_PARQUET_FIX = "write the file again, or give it as CSV"
_SPREADSHEET_FIX = (
    "a spreadsheet may have dropped leading zeros or converted the value to a number: "
    "format the column as text and write all {n} digits, e.g. '{example}'"
)


# --------------------------------------------------------------------------------------------
# Checks of one value, shared with the invoice loader.


def _digits_issue(value: str, what: str, n: int, example: str) -> Issue | None:
    """Common wording for fields that must be exactly n digits."""
    if _DIGITS.match(value) and len(value) == n:  # the usual case: nothing to word
        return None
    fix = _SPREADSHEET_FIX.format(n=n, example=example)
    if not value:
        return f"{what} is empty", f"write the {n}-digit {what}"
    if _SCIENTIFIC.match(value):
        return (f"{what} '{value}' is a number in scientific notation, not {n} digits", fix)
    if _DECIMAL.match(value):
        return f"{what} '{value}' is a decimal number, not {n} digits", fix
    if _DIGITS.match(value):
        if len(value) < n:
            return f"{what} '{value}' has {len(value)} digits, expected exactly {n}", fix
        if len(value) > n:
            return (
                f"{what} '{value}' has {len(value)} digits, expected exactly {n}",
                "remove the extra digit(s)",
            )
        return None
    return f"{what} '{value}' is not {n} digits", f"write the {n}-digit {what}, e.g. '{example}'"


@functools.lru_cache(maxsize=4096)  # a column holds few distinct values
def ban_problem(value: str | None, what: str = "BAN") -> Issue | None:
    """Why `value` is not a valid BAN (統一編號), or None."""
    value = value or ""
    issue = _digits_issue(value, what, 8, "04595257")
    if issue:
        return issue
    if not is_valid_ban(value):
        return (
            f"{what} '{value}' fails the check digit (統一編號檢查碼)",
            "check the BAN for a typing error",
        )
    return None


@functools.lru_cache(maxsize=4096)  # a column holds few distinct values
def invoice_type_problem(value: str | None) -> Issue | None:
    """Why `value` is not invoice type 07/08 (7/8 accepted), or None."""
    if value in ("07", "08", "7", "8"):
        return None
    if not value:
        return "invoice type is empty", "write 07 (一般稅額計算) or 08 (特種稅額計算)"
    return (
        f"invoice type '{value}' is not 07 (一般稅額計算) or 08 (特種稅額計算)",
        "write 07 or 08",
    )


@functools.lru_cache(maxsize=4096)  # a column holds few distinct values
def track_problem(value: str | None) -> Issue | None:
    """Why `value` is not a track (字軌) of exactly two upper-case letters A–Z, or None."""
    value = value or ""
    if _TRACK.match(value):
        return None
    if not value:
        return "track is empty", "write the 2 upper-case letters of the track, e.g. 'MB'"
    if value.isascii() and value.isalpha():
        if len(value) == 2:
            return (
                f"track '{value}' is not upper-case",
                f"write it in upper-case letters: '{value.upper()}'",
            )
        return (
            f"track '{value}' has {len(value)} letters; a track is exactly 2 upper-case letters",
            "write the 2 letters of the track, e.g. 'MB'",
        )
    return (
        f"track '{value}' is not 2 upper-case letters A–Z",
        "write the 2 letters of the track, e.g. 'MB'",
    )


def number_problem(value: str | None, what: str = "invoice number") -> Issue | None:
    """Why `value` is not an 8-digit invoice number (begin/end of a range), or None."""
    value = value or ""
    if len(value) == 10 and _TRACK.match(value[:2]) and _DIGITS.match(value[2:]):
        return (
            f"{what} '{value}' includes the track letters",
            f"put '{value[:2]}' in the track column and the 8 digits '{value[2:]}' here",
        )
    return _digits_issue(value, what, 8, "02034250")


@functools.lru_cache(maxsize=4096)  # a column holds few distinct values
def period_problem(value: str | None) -> tuple[str | None, Issue | None]:
    """Parse a period code `11304` or span `113/03 ~ 113/04`: (code, None) or (None, issue)."""
    value = value or ""
    if not value:
        return None, ("period is empty", "write the period code, e.g. '11304'")
    try:
        period = Period.parse_span(value) if "/" in value or "~" in value else Period.parse(value)
    except ValueError as exc:
        fix = "write the 5-digit code: 3-digit ROC year + even end month, e.g. '11304'"
        if _DIGITS.match(value) and len(value) == 4:
            fix = "a spreadsheet may have dropped the leading zero of the ROC year: " + fix
        elif _DIGITS.match(value) and len(value) == 6 and value.startswith("20"):
            fix = "the year must be the ROC year (Gregorian − 1911): " + fix
        elif "~" in value:
            fix = (
                "a period is two months of one ROC year ending on an even month, "
                "e.g. '113/03~113/04'"
            )
        return None, (str(exc), fix)
    return period.code, None


# --------------------------------------------------------------------------------------------
# Reading files into raw rows: (line, {column: text}).

RawRow = tuple[int, dict[str, str | None]]


def _limited(problems: list[Problem]) -> InputError:
    """One error for a whole load: the first MAX_LISTED problems and a count of the rest."""
    return InputError(problems[:MAX_LISTED], more=max(0, len(problems) - MAX_LISTED))


def _trim_trailing_empty(fields: list[str], width: int) -> list[str]:
    """Drop empty fields after the last expected column (a trailing comma is harmless)."""
    while len(fields) > width and fields[-1] == "":
        fields = fields[:-1]
    return fields


def _missing_columns(name: str, missing: Iterable[str], found: Sequence[str]) -> InputError:
    return InputError(
        Problem(
            name,
            1,
            None,
            f"missing column(s) {', '.join(missing)} (found: {textio.shown_names(list(found))})",
            f"the header must be '{CANONICAL_HEADER}' (head_ban, machine and reported_by are "
            "optional), or give the MOF allocation download with its 7 columns",
        )
    )


def _looks_like_mof_row(fields: list[str]) -> bool:
    """A data row of the MOF download: 7 fields, BAN-ish first field, period span in the 4th."""
    return len(fields) == len(MOF_COLUMNS) and (
        bool(_DIGITS.match(fields[0])) or "~" in fields[3] or "/" in fields[3]
    )


def _rows_from_text(name: str, rows: list[textio.Row], problems: list[Problem]) -> list[RawRow]:
    if not rows:
        raise InputError(Problem(name, None, None, "no allocation rows: the file is empty",
                                 _EMPTY_FIX))
    first = rows[0][1]
    header = [f.lower() for f in first]
    trimmed = _trim_trailing_empty(first, len(MOF_COLUMNS))
    # Names only the canonical header has: a MOF header may well say 'BAN' or 'period'.
    canonical = any(h in ("invoice_type", "begin_no", "end_no") for h in header)
    if not canonical and len(trimmed) == len(MOF_COLUMNS):
        # The MOF download: its header line, when there is one, is text; a data row has the BAN.
        body = rows if _looks_like_mof_row(trimmed) else rows[1:]
        return _table_rows(name, MOF_COLUMNS, body, problems)
    header = _trim_trailing_empty(header, len(REQUIRED))
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise _missing_columns(name, missing, first)
    _check_header(name, header, rows[0][0])
    return _table_rows(name, header, rows[1:], problems)


def _check_header(name: str, header: Sequence[str], line: int | None) -> None:
    """Refuse a column named twice or a column this loader does not know.

    An unknown column is refused rather than ignored: a misspelt optional column ('reportedby',
    'head ban') would be dropped silently, and another system's blanks or a branch's numbers
    would end up in the wrong upload file.
    """
    seen: set[str] = set()
    for column in header:
        if column in seen:
            raise InputError(Problem(name, line, column,
                                     f"column '{column}' appears twice in the header",
                                     "keep one of them"))
        seen.add(column)
    unknown = [c for c in header if c not in REQUIRED + OPTIONAL]
    if unknown:
        raise InputError(Problem(
            name, line, unknown[0], f"unknown column(s) {', '.join(repr(c) for c in unknown)}",
            f"correct the name or remove the column: the header is '{CANONICAL_HEADER}' "
            "(head_ban, machine and reported_by are optional)",
        ))


def _table_rows(
    name: str, columns: Sequence[str], rows: list[textio.Row], problems: list[Problem]
) -> list[RawRow]:
    if not rows:
        raise InputError(
            Problem(name, None, None, "no allocation rows: the file has only a header",
                    _EMPTY_FIX)
        )
    out: list[RawRow] = []
    for line, fields in rows:
        fields = _trim_trailing_empty(fields, len(columns))
        if len(fields) != len(columns):
            problems.append(
                Problem(
                    name,
                    line,
                    None,
                    f"expected {len(columns)} fields, found {len(fields)}",
                    "check for a missing or extra comma (quote values that contain commas)",
                )
            )
            continue
        out.append((line, dict(zip(columns, fields, strict=True))))
    return out


def _rows_from_parquet(name: str, path: Path, problems: list[Problem]) -> pl.DataFrame:
    try:
        df = pl.read_parquet(path)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise InputError(Problem(name, None, None, f"cannot read the Parquet file: {exc}",
                                 _PARQUET_FIX)) from exc
    names = [c.strip().lower() for c in df.columns]
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise _missing_columns(name, missing, df.columns)
    _check_header(name, names, None)
    df = df.rename(dict(zip(df.columns, names, strict=True)))
    if df.height == 0:
        raise InputError(Problem(name, None, None, "no allocation rows: the Parquet file is empty",
                                 _EMPTY_FIX))
    columns: list[pl.Expr] = []
    bad_type = False
    for column in (c for c in REQUIRED + OPTIONAL if c in df.columns):
        dtype = df.schema[column]
        expr = pl.col(column)
        if dtype.is_integer():
            width = _PARQUET_INT_WIDTH.get(column)
            expr = expr.cast(pl.String)
            columns.append(expr.str.zfill(width) if width else expr)
        elif dtype == pl.String or dtype == pl.Categorical or isinstance(dtype, pl.Enum):
            columns.append(expr.cast(pl.String).str.strip_chars())
        else:
            bad_type = True
            lossy = dtype.is_float() or dtype.is_decimal()
            problems.append(
                Problem(
                    name,
                    None,
                    column,
                    f"Parquet column '{column}' has type {dtype}"
                    + (", whose numbers can lose digits" if lossy else ""),
                    "store the column as text (or as integers)",
                )
            )
    if bad_type:
        return _raw_frame([])
    return df.select(columns).with_columns(line=pl.int_range(1, df.height + 1, dtype=pl.Int64))


def is_parquet(path: Path) -> bool:
    """Whether the file starts as a Parquet file does (InputError unless a readable regular
    file: a FIFO or device is never opened)."""
    return textio.read_head(path, len(PARQUET_MAGIC)) == PARQUET_MAGIC


def _read_file(path: Path, problems: list[Problem]) -> pl.DataFrame:
    """The file's raw rows: a text column per field (_RAW_COLUMNS) and its line."""
    name = str(path)
    if is_parquet(path):
        return _rows_from_parquet(name, path, problems)
    from .sources import e0501  # E0501, Turnkey's allocation message (lxml loaded only here)

    if e0501.is_xml_file(path):
        return _raw_frame(e0501.read_e0501(path, problems))
    return _raw_frame(_rows_from_text(name, textio.read_rows(path).rows, problems))


_RAW_COLUMNS = REQUIRED + OPTIONAL


def _raw_frame(rows: list[RawRow]) -> pl.DataFrame:
    """Raw rows as one frame: a text column per field (null where the file has none), line."""
    return pl.DataFrame(
        {**{c: [row.get(c) for _, row in rows] for c in _RAW_COLUMNS},
         "line": [line for line, _ in rows]},
        schema={**dict.fromkeys(_RAW_COLUMNS, pl.String), "line": pl.Int64},
    )


# --------------------------------------------------------------------------------------------
# Checking and normalising.


_TYPES = {"07": "07", "08": "08", "7": "07", "8": "08"}


def _check_rows(name: str, raw: pl.DataFrame) -> tuple[pl.DataFrame, list[Problem]]:
    """Check a file's raw rows (_raw_frame): (the normalised rows, ALLOCATION_SCHEMA, in the
    file's order; the problems, row by row). The usual row passes every check at once, on whole
    columns (the checks of a column's few distinct values are cached functions, asked once per
    value); any other row is checked field by field by _check_row_fully, which words each
    problem."""
    if raw.is_empty():
        return pl.DataFrame(schema=ALLOCATION_SCHEMA), []
    columns = [c for c in _RAW_COLUMNS if c in raw.columns]
    raw = raw.with_columns(pl.col(c).cast(pl.String).replace("", None) for c in columns)
    raw = raw.with_columns(pl.lit(None, pl.String).alias(c)
                           for c in _RAW_COLUMNS if c not in raw.columns)

    def passes(column: str, check: Callable[[str | None], bool]) -> pl.Expr:
        values = raw[column].unique()
        ok = pl.Series([check(v) for v in values.to_list()], dtype=pl.Boolean)
        return pl.col(column).replace_strict(values, ok, return_dtype=pl.Boolean)

    periods = raw["period"].unique()
    codes = pl.Series([period_problem(v)[0] for v in periods.to_list()], dtype=pl.String)
    eight = r"^[0-9]{8}$"  # the whole text: Rust's $ does not match before a final newline
    usual = (
        pl.col("invoice_type").replace_strict(_TYPES, default=None).is_not_null()
        & pl.col("begin_no").str.contains(eight) & pl.col("end_no").str.contains(eight)
        & (pl.col("begin_no") <= pl.col("end_no"))
        & passes("ban", lambda v: ban_problem(v) is None)
        & passes("track", lambda v: track_problem(v) is None)
        & (pl.col("head_ban").is_null()
           | passes("head_ban", lambda v: ban_problem(v, "head office BAN") is None))
        & pl.col("period").replace_strict(periods, codes, return_dtype=pl.String).is_not_null()
    ).fill_null(False)
    marked = raw.with_columns(usual=usual, order=pl.int_range(pl.len(), dtype=pl.Int64))
    good = marked.filter("usual").select(
        "ban",
        pl.col("invoice_type").replace_strict(_TYPES, return_dtype=pl.String),
        pl.col("period").replace_strict(periods, codes, return_dtype=pl.String),
        "track", "begin_no", "end_no",
        pl.col("head_ban").fill_null(pl.col("ban")),
        "machine", "reported_by",
        source=pl.lit(name, pl.String), line="line", order="order",
    )
    problems: list[Problem] = []
    others = []
    for row in marked.filter(~pl.col("usual")).iter_rows(named=True):  # rare: words problems
        checked, row_problems = _check_row_fully(name, row["line"], row)
        problems.extend(row_problems)
        if checked is not None:
            others.append({**checked, "order": row["order"]})
    if others:
        good = pl.concat([good, pl.DataFrame(others, schema=good.schema)]).sort("order")
    return good.drop("order").cast(pl.Schema(ALLOCATION_SCHEMA)), problems


def _check_row_fully(name: str, line: int, row: dict[str, Any]
                     ) -> tuple[dict | None, list[Problem]]:
    """_check_row, every field checked and every problem worded."""
    problems: list[Problem] = []

    def report(field: str, issue: Issue | None) -> None:
        if issue:
            problems.append(Problem(name, line, field, issue[0], issue[1]))

    def text(column: str) -> str | None:
        return row.get(column) or None  # empty → null

    ban, invoice_type, head_ban = text("ban"), text("invoice_type"), text("head_ban")
    begin, end = text("begin_no"), text("end_no")
    report("ban", ban_problem(ban))
    report("invoice_type", invoice_type_problem(invoice_type))
    code, issue = period_problem(text("period"))
    report("period", issue)
    report("track", track_problem(text("track")))
    begin_issue = number_problem(begin, "begin number")
    end_issue = number_problem(end, "end number")
    report("begin_no", begin_issue)
    report("end_no", end_issue)
    # Both are 8-digit strings here, so text order is number order.
    if begin and end and not begin_issue and not end_issue and begin > end:
        report(
            "end_no",
            (
                f"end number {end} is below begin number {begin}",
                "swap them or correct the typing error (發票迄號必須大於或等於起號)",
            ),
        )
    if head_ban is not None:
        report("head_ban", ban_problem(head_ban, "head office BAN"))
    if problems or ban is None or invoice_type is None:
        return None, problems
    return {
        "ban": ban,
        "invoice_type": invoice_type.zfill(2),
        "period": code,
        "track": text("track"),
        "begin_no": begin,
        "end_no": end,
        "head_ban": head_ban or ban,
        "machine": text("machine"),
        "reported_by": text("reported_by"),
        "source": name,
        "line": line,
    }, []


def load_allocations(paths: Sequence[str | Path]) -> pl.DataFrame:
    """Load and check allocation files; return one frame with frames.ALLOCATION_SCHEMA.

    Each file may be Parquet (detected by its magic bytes), the canonical CSV (header with `ban`,
    `invoice_type`, `period`, `track`, `begin_no`, `end_no`, optional `head_ban`, `machine`,
    `reported_by`) or the MOF allocation download (7 columns, header optional). Rows of every
    BAN are kept; overlaps and alignment are not checked here. Raise InputError listing up to
    MAX_LISTED problems (file and line order) and counting the rest if any value is bad.
    """
    if not paths:
        raise InputError(Problem("(no files)", None, None, "no allocation file was given",
                                 "name the MOF allocation download or the canonical table"))
    problems: list[Problem] = []
    out: list[pl.DataFrame] = []
    for path in paths:
        file_problems: list[Problem] = []
        checked, row_problems = _check_rows(str(path), _read_file(Path(path), file_problems))
        file_problems.extend(row_problems)
        out.append(checked)
        # Field-count problems were found while reading: put them back in line order.
        problems.extend(sorted(file_problems, key=lambda p: p.line or 0))
    if problems:
        raise _limited(problems)
    allocations = pl.concat(out)
    problems = _contradictions(allocations)
    if problems:
        raise _limited(problems)
    return allocations


def _contradictions(allocations: pl.DataFrame) -> list[Problem]:
    """Rows of one BAN, period and track that no report can satisfy.

    - two head offices: the track's blanks would go into two upload files, and one E0402 has
      one HeadBan;
    - shared numbers with different invoice types: a number has one type, and the upload file
      would list it twice (the platform refuses the file).

    Other overlaps are findings (allocation-overlap), not load errors: the blanks of the union
    are still well defined.
    """
    # Only a track with two head offices or two invoice types can have either: its rows are
    # looked at one by one, the rest (nearly always all) not at all.
    track_keys = ["ban", "period", "track"]
    mixed = allocations.with_columns(
        mixed=((pl.col("head_ban").n_unique() > 1) | (pl.col("invoice_type").n_unique() > 1))
        .over(track_keys)
    ).filter("mixed")
    problems: list[Problem] = []
    groups: dict[tuple[str, str, str], list[dict]] = {}
    for row in mixed.iter_rows(named=True):
        groups.setdefault((row["ban"], row["period"], row["track"]), []).append(row)

    def where(row: dict) -> str:
        return f"{row['source']}:{row['line']}"

    for (ban, period, track), group in groups.items():
        first = group[0]
        for row in group[1:]:
            if row["head_ban"] != first["head_ban"]:
                problems.append(Problem(
                    row["source"], row["line"], "head_ban",
                    f"BAN {ban}, period {period}, track {track} is reported by head office "
                    f"{row['head_ban']} here but by {first['head_ban']} on {where(first)}",
                    "a branch's track has one head office: correct head_ban on one of the rows",
                ))
                break
        group = sorted(group, key=lambda r: (r["begin_no"], r["end_no"]))
        reach: dict | None = None  # the row reaching highest so far
        for row in group:
            if (reach is not None and row["begin_no"] <= reach["end_no"]
                    and row["invoice_type"] != reach["invoice_type"]):
                problems.append(Problem(
                    row["source"], row["line"], "invoice_type",
                    f"{track}{row['begin_no']}–{track}{row['end_no']} (type "
                    f"{row['invoice_type']}) shares numbers with {track}{reach['begin_no']}–"
                    f"{track}{reach['end_no']} (type {reach['invoice_type']}) on {where(reach)}",
                    "a number has one invoice type: correct the type or remove the wrong row",
                ))
            if reach is None or row["end_no"] > reach["end_no"]:
                reach = row
    return sorted(problems, key=lambda p: (p.file, p.line or 0))
