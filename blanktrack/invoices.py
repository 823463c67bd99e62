"""Load the invoices (one file per issuing system), as a lazy query that scales to 100M rows.

Input is the canonical table, as CSV or Parquet: `invoice_number`, `invoice_date`,
`seller_ban`, `status`, optional `machine` and `upload_status`. Every value is read as text first
(a number read as an integer loses its leading zeros), checked with vectorised polars expressions,
then normalised to schemas.INVOICE_SCHEMA.

Encodings: CSV files up to LARGE_FILE_BYTES are decoded through textio (UTF-8 with or without BOM,
Big5/cp950, UTF-16 with BOM). Larger files are scanned by polars directly and **must be UTF-8**
(a BOM is fine). Line numbers are physical lines (header on line 1): `row + 2`, plus the line
ends inside quoted fields of earlier records. In a large file those are counted only where a line
is named: by a bad value (one more pass, before the run stops) or by a finding (in the filtered
scan that fetches the invoices findings name, see scan_raw_invoices).
"""

from __future__ import annotations

import codecs
import os
import re
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from blanktrack import textio
from blanktrack.allocations import (
    _PARQUET_FIX,
    MAX_LISTED,
    PARQUET_MAGIC,
    Issue,
    ban_problem,
    track_problem,
)
from blanktrack.ban import valid_ban_expr
from blanktrack.errors import InputError, Problem
from blanktrack.invoice_columns import RAW_COLUMNS, REQUIRED, normal_name
from blanktrack.invoice_rules import (
    COMPACT_DATE,
    ISO_DATE,
    STATUSES,
    UPLOAD_STATUSES,
    date_expr,
    day_of,
    lookup_expr,
)
from blanktrack.schemas import INVOICE_SCHEMA

# Where a converted row came from (sources/: a Turnkey folder's file and element line), kept
# in the canonical Parquet blanktrack writes for the reconciliation, so messages name it.
PROVENANCE = ("__source", "__line")

LARGE_FILE_BYTES = 64 * 2**20  # above this a CSV is scanned by polars as UTF-8, not decoded here
_PREFIX_BYTES = 2**20  # how much of a large file is checked for its encoding up front
# What the dense scan checks (polars declines what is not UTF-8 there): a header's line.
HEADER_BYTES = 2**16

_ROW = "__row"
INVOICE_NUMBER_PATTERN = r"^[A-Z]{2}[0-9]{8}$"


# --------------------------------------------------------------------------------------------
# Expressions shared by validation and normalisation, so both agree on what is valid.


def bad_value_exprs() -> dict[str, pl.Expr]:
    """Per field, True where the raw value is unusable."""
    upload = pl.col("upload_status")
    return {
        "invoice_number": ~pl.col("invoice_number").str.contains(INVOICE_NUMBER_PATTERN).fill_null(False),
        "invoice_date": date_expr("invoice_date").is_null(),
        "seller_ban": ~valid_ban_expr("seller_ban"),
        "status": lookup_expr("status", STATUSES).is_null(),
        "upload_status": upload.is_not_null()
        & lookup_expr("upload_status", UPLOAD_STATUSES).is_null(),
    }


# --------------------------------------------------------------------------------------------
# Wording of one bad value (only ever run on the few rows that are listed).


def invoice_number_problem(value: str | None) -> Issue | None:
    """Why `value` is not a 10-character invoice number like 'MB02034250', or None."""
    example = "e.g. 'MB02034250'"
    if not value:
        return "invoice number is empty", f"write the 10-character invoice number, {example}"
    if re.match(INVOICE_NUMBER_PATTERN, value):
        return None
    if len(value) != 10:
        fix = f"write 2 upper-case letters and 8 digits, {example}"
        if len(value) < 10 and value[2:].isdigit():
            fix = "a spreadsheet or program may have dropped leading zeros of the number: " + fix
        return (f"invoice number '{value}' has {len(value)} characters, expected 10", fix)
    issue = track_problem(value[:2])
    if issue:
        return f"invoice number '{value}': {issue[0]}", issue[1]
    return (
        f"invoice number '{value}': the last 8 characters are not digits",
        f"write 2 upper-case letters and 8 digits, {example}",
    )


def date_problem(value: str | None) -> Issue | None:
    """Why `value` is not a real date written `YYYY-MM-DD` or `YYYYMMDD`, or None."""
    fix = "write the date as YYYY-MM-DD (e.g. 2024-03-05) or YYYYMMDD"
    if not value:
        return "invoice date is empty", fix
    if re.match(ISO_DATE, value) or re.match(COMPACT_DATE, value):
        if day_of(value) is None:
            return f"invoice date '{value}' is not a real calendar date", fix
        return None
    if re.match(r"^[0-9]{7}$", value) or re.match(r"^[0-9]{3}[-/][0-9]{2}[-/][0-9]{2}$", value):
        fix = "this looks like an ROC (民國) date: " + fix + " in the Gregorian calendar"
    return f"invoice date '{value}' is not YYYY-MM-DD or YYYYMMDD", fix


def status_problem(value: str | None) -> Issue | None:
    if value and value.lower() in STATUSES:
        return None
    accepted = "issued, cancelled or voided (開立, 作廢, 註銷)"
    if not value:
        return "status is empty", f"write {accepted}"
    return f"status '{value}' is not one of {accepted}", "use one of those words"


def upload_status_problem(value: str | None) -> Issue | None:
    if not value or value.lower() in UPLOAD_STATUSES:
        return None
    return (
        f"upload status '{value}' is not 'accepted' or 'failed'",
        "leave it empty when the upload result is unknown",
    )


_WORDING = {
    "invoice_number": invoice_number_problem,
    "invoice_date": date_problem,
    "seller_ban": lambda v: ban_problem(v, "seller BAN"),
    "status": status_problem,
    "upload_status": upload_status_problem,
}


# --------------------------------------------------------------------------------------------
# Scanning files.


def _file_error(name: str, message: str, fix: str = "", line: int | None = None) -> InputError:
    return InputError(Problem(name, line, None, message, fix))


_HEADER_FIX = (
    f"the header must be '{','.join(RAW_COLUMNS)}' (machine and upload_status are optional); "
    "for an ERP export with other headers name its columns with --columns (`columns:` in a "
    "parameter file)"
)


def _check_columns(name: str, columns: Sequence[str], line: int | None = 1) -> None:
    """Refuse a header that lacks a required column, repeats one or has an unknown one.

    An unknown column is refused rather than ignored: a misspelt optional column
    ('uploadstatus') would otherwise be dropped silently, and failed uploads go unnoticed.
    """
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise _file_error(
            name,
            f"missing column(s) {', '.join(missing)} (found: {textio.shown_names(list(columns))})",
            _HEADER_FIX,
            line=line,
        )
    seen: set[str] = set()
    for column in columns:
        if column in seen:
            raise InputError(Problem(name, line, column, f"column '{column}' appears twice in "
                                     "the header", "keep one of them"))
        seen.add(column)
    unknown = [c for c in columns if c not in RAW_COLUMNS and c not in PROVENANCE]
    if unknown:
        raise InputError(Problem(
            name, line, unknown[0],
            f"unknown column(s) {', '.join(repr(c) for c in unknown)}",
            "correct the name or remove the column: " + _HEADER_FIX,
        ))


def check_parquet_columns(name: str, columns: Sequence[str]) -> None:
    """The header check of a Parquet file (_scan_parquet's), from its column names as written:
    for a reader that has the schema already (the dense scan's footer)."""
    _check_columns(name, [normal_name(c) for c in columns], line=None)


def _header_names(text: str, name: str) -> tuple[int, list[str]]:
    """The first non-blank line of `text` and its column names, normalised."""
    first = textio.first_line(text)
    if first is None:
        raise _file_error(name, "the file is empty: no header", _HEADER_FIX)
    textio.check_delimiter(first[1], name, first[0])
    rows = textio.split_rows(first[1] + "\n", name)
    return first[0], [normal_name(n) for n in (rows[0][1] if rows else [])]


def _text_columns(lf: pl.LazyFrame, name: str, numbers: pl.Series | None = None, *,
                  exact: bool = True, large: bool = False) -> pl.LazyFrame:
    """The raw frame: RAW_COLUMNS as stripped text (empty → null), source, line; no blank rows.
    With numbers, only the rows whose invoice number is one of them: as written when `exact`,
    else once stripped. `large`: a large CSV, whose lines are then corrected in the same scan."""
    present = [c for c in lf.collect_schema().names() if c != _ROW]
    source, line = ((pl.col("__source"), pl.col("__line")) if "__source" in present
                    else (pl.lit(name), pl.col(_ROW)))
    if numbers is not None:
        raw_number = pl.col("invoice_number")
        wanted = (raw_number if exact else raw_number.str.strip_chars()).is_in(numbers.implode())
        if large and "__source" not in present and _has_quote(name):
            lf = _with_physical_lines(lf, present, wanted)
        # Before the stripping, so the reader skips the other rows (predicate pushdown).
        lf = lf.filter(wanted)
    exprs = []
    for column in RAW_COLUMNS:
        if column in present:
            value = pl.col(column).str.strip_chars()
            exprs.append(pl.when(value.str.len_bytes() > 0).then(value).alias(column))
        else:
            exprs.append(pl.lit(None, pl.String).alias(column))
    return (
        lf.select(*exprs, source=source, line=line.cast(pl.Int64))
        # A blank line reads as a row of nulls: it is no invoice.
        .filter(~pl.all_horizontal(pl.col(c).is_null() for c in RAW_COLUMNS))
    )


def _check_large_prefix(path: Path, name: str, head: int = _PREFIX_BYTES,
                        data: bytes | None = None) -> None:
    """A large CSV is read by polars as UTF-8: refuse early what it would misread. `head`: the
    bytes looked at, if they hold the header's whole line (else _PREFIX_BYTES); a reader that
    declines bytes not UTF-8 itself (the dense scan) needs no more. `data`: the whole file,
    when it is read already (its head is not read again)."""
    def read_head(size: int) -> bytes:
        return textio.read_head(path, size, name) if data is None else data[:size]

    prefix = read_head(head)
    if len(prefix) == head < _PREFIX_BYTES and not prefix[: prefix.rfind(b"\n") + 1].strip():
        head, prefix = _PREFIX_BYTES, read_head(_PREFIX_BYTES)
    fix = "files larger than 64 MiB must be UTF-8: convert it (e.g. iconv -f cp950 -t utf-8)"
    if prefix.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise _file_error(name, "the file is UTF-16", fix)
    if b"\r" in prefix and b"\n" not in prefix:
        raise _file_error(name, "the lines end in a bare CR (old Mac line ends)",
                          "convert the line ends to LF or CRLF (e.g. tr '\\r' '\\n')", line=1)
    # Cut at the last complete line so that a multi-byte character is never split.
    if len(prefix) == head and b"\n" in prefix:
        prefix = prefix[: prefix.rindex(b"\n") + 1]
    try:
        text = prefix.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = prefix.count(b"\n", 0, exc.start) + 1
        raise _file_error(name, "this line is not UTF-8 (Big5/cp950?)", fix, line=line) from exc
    line, columns = _header_names(text, name)
    _check_columns(name, columns, line)


def read_from_disk(path: Path, name: str) -> bool:
    """Whether polars reads this CSV from the file rather than from text decoded here: a large
    one (over LARGE_FILE_BYTES, read at call time so that tests can lower it), or a small one
    so plain that decoding it here would give the same frame — UTF-8 without a BOM and without
    NUL (UTF-16 without its BOM is valid UTF-8), no quote (so no record spans lines), no CR but
    in CRLF. Two hundred daily files are then neither held in memory at once nor decoded
    twice."""
    stat = path.stat()
    if stat.st_size > LARGE_FILE_BYTES:
        return True
    known = _PLAIN.get(_plain_key(path, stat))
    return known if known is not None else _plain(path, stat, textio.read_bytes(path, name))


# _is_plain of each small file met, by what tells a file from its replacement: the dense scan
# (plain_bytes) and the file checks (read_from_disk) both ask, and neither reads a file twice.
_PLAIN: dict[tuple[str, int, int, int], bool] = {}
_PLAIN_FILES = 4096  # answers kept, at most


def _plain_key(path: Path, stat: os.stat_result) -> tuple[str, int, int, int]:
    return str(path), stat.st_ino, stat.st_size, stat.st_mtime_ns


def _plain(path: Path, stat: os.stat_result, data: bytes) -> bool:
    """_is_plain of a file's bytes, kept in _PLAIN."""
    plain = _is_plain(data)
    if len(_PLAIN) >= _PLAIN_FILES:
        _PLAIN.clear()
    _PLAIN[_plain_key(path, stat)] = plain
    return plain


def _is_plain(data: bytes) -> bool:
    if data.startswith(codecs.BOM_UTF8) or b'"' in data or b"\0" in data:
        return False
    if b"\r" in data and data.count(b"\r") != data.count(b"\r\n"):  # (`in` is a fast search)
        return False
    if data.isascii():  # UTF-8 then, without decoding a copy of the whole file
        return True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def plain_bytes(path: Path, name: str) -> bytes | None:
    """A CSV file's bytes, read once, when it is small (at most LARGE_FILE_BYTES) and plain
    (read_from_disk), its header checked as check_csv_file checks it; None for a larger file or
    one that is not plain. For a reader of a file or two at a time (the dense scan): polars
    reads these very bytes, not the file again (a folder of daily files paid for both)."""
    stat = path.stat()
    known = _PLAIN.get(_plain_key(path, stat))
    if stat.st_size > LARGE_FILE_BYTES or known is False:
        return None  # (a file known not to be plain is not read again to be told so)
    data = textio.read_bytes(path, name)
    if not (known or _plain(path, stat, data)):
        return None
    _check_large_prefix(path, name, HEADER_BYTES, data)
    return data


def check_csv_file(path: Path, name: str, head: int = _PREFIX_BYTES) -> bool:
    """The file checks scan_csv_file makes of a CSV that polars reads from disk (encoding of
    its first `head` bytes, line ends, header), without making its frame; whether it is one
    (else the checks need scan_csv_file's own read)."""
    if not read_from_disk(path, name):
        return False
    if path.stat().st_size <= LARGE_FILE_BYTES:  # plain: whole UTF-8, no bare CR (_is_plain)
        head = HEADER_BYTES
    _check_large_prefix(path, name, head)
    return True


def scan_csv_file(path: Path, name: str) -> tuple[pl.LazyFrame, bool]:
    """The lazy frame of a CSV file, and whether it is already in memory (a small file)."""
    def names(header: list[str]) -> list[str]:
        return [normal_name(n) for n in header]

    # Every cell as text (leading zeros of BANs and numbers matter); row 0 is on line 2.
    if check_csv_file(path, name):
        _LARGE_CSV[name] = path
        return pl.scan_csv(path, encoding="utf8", infer_schema=False, row_index_name=_ROW,
                           row_index_offset=2, with_column_names=names), False
    text = textio.normalise_newlines(textio.read_text(path).text)
    line, columns = _header_names(text, name)
    _check_columns(name, columns, line)
    # Read small files now, so that a malformed CSV is reported with its file and line.
    try:
        df = pl.read_csv(text.encode("utf-8"), infer_schema=False, row_index_name=_ROW,
                         row_index_offset=2, with_column_names=names)
    except pl.exceptions.PolarsError as exc:
        raise _malformed(text, name, exc) from exc
    if '"' in text:  # only a quoted field can span lines
        breaks = _line_breaks(df, newlines_only=True)
        df = df.with_columns(pl.col(_ROW) + breaks.cum_sum() - breaks)
    return df.lazy(), True


# Large CSV files scanned so far (name → path): a file polars cannot parse, or whose records
# span lines, is found again by name when a problem must be reported.
_LARGE_CSV: dict[str, Path] = {}


def _line_breaks(lf: pl.LazyFrame | pl.DataFrame, newlines_only: bool = False) -> pl.Expr:
    """Per record, the line ends inside its quoted fields: each later record starts that many
    lines further down than its row number says. `newlines_only` for normalised text."""
    columns = [c for c in lf.collect_schema().names() if c != _ROW]
    pattern = "\n" if newlines_only else r"\r\n|\r|\n"
    return pl.sum_horizontal(
        pl.col(c).str.count_matches(pattern, literal=newlines_only).fill_null(0)
        for c in columns
    ).cast(pl.Int64)


def _has_quote(name: str) -> bool:
    """Whether the large CSV `name` has a quote at all: without one no record spans lines. A
    byte search that stops at the first quote, far cheaper than a look at every value."""
    try:
        with textio.open_regular(_LARGE_CSV[name], name) as fh:
            while chunk := fh.read(_CHUNK_BYTES):
                if b'"' in chunk:
                    return True
    except OSError as exc:
        raise _file_error(name, f"cannot read the file: {exc.strerror or exc}",
                          "check the path and that you may read the file") from exc
    return False


def _with_physical_lines(lf: pl.LazyFrame, columns: Sequence[str], wanted: pl.Expr
                         ) -> pl.LazyFrame:
    """The wanted rows of a large CSV, and the rows whose values hold a line end (only a quoted
    field can), with the row number moved down by the line ends of earlier records.

    A few rows pass the filter, which the reader applies as it parses (no pass of its own): a
    file without a line end in a value costs one byte search per value of the filtered scan."""
    spans = pl.any_horizontal(
        pl.col(c).str.contains(r"[\r\n]").fill_null(False) for c in columns
    )
    breaks = _line_breaks(lf)
    return (
        lf.filter(wanted | spans)
        .sort(_ROW)  # the cumulative sum counts the earlier records
        .with_columns(pl.col(_ROW) + breaks.cum_sum() - breaks)
    )


def _physical_lines(sample: pl.DataFrame) -> pl.DataFrame:
    """`sample` (source, line) with the lines of large CSV files corrected for records that span
    lines (small files are corrected as they are read). One more pass over such a file, only
    ever run when there is a problem to report."""
    fixed = sample["line"].to_list()
    for name in sample["source"].unique().to_list():
        path = _LARGE_CSV.get(name)
        if path is None:
            continue
        scan = pl.scan_csv(path, encoding="utf8", infer_schema=False, row_index_name=_ROW,
                           row_index_offset=2)
        multi = (scan.select(_ROW, breaks=_line_breaks(scan)).filter(pl.col("breaks") > 0)
                 .collect(engine="streaming"))
        if multi.is_empty():
            continue
        for i, (source, line) in enumerate(sample.select("source", "line").iter_rows()):
            if source == name and line is not None:
                fixed[i] = line + int(multi.filter(pl.col(_ROW) < line)["breaks"].sum())
    return sample.with_columns(line=pl.Series(fixed, dtype=pl.Int64))


_CHUNK_BYTES = 2**24


def _large_csv_problem(path: Path, name: str) -> InputError | None:
    """Why polars cannot read a large CSV, with its line; None if this file is not the one.

    Never quotes the file: polars' own message holds whole records.
    """
    quotes = newlines = 0
    last_quote_line = 0
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    try:
        with textio.open_regular(path, name) as fh:
            while chunk := fh.read(_CHUNK_BYTES):
                count = chunk.count(b'"')
                if count:
                    last_quote_line = newlines + chunk.count(b"\n", 0, chunk.rindex(b'"')) + 1
                    quotes += count
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as exc:
                    return _file_error(
                        name, "this line is not UTF-8 (Big5/cp950?)",
                        "files larger than 64 MiB must be UTF-8: convert it "
                        "(e.g. iconv -f cp950 -t utf-8)",
                        line=newlines + chunk.count(b"\n", 0, max(exc.start, 0)) + 1)
                newlines += chunk.count(b"\n")
    except OSError as exc:
        return _file_error(name, f"cannot read the file: {exc.strerror or exc}",
                           "check the path and that you may read the file")
    if quotes % 2:
        # Quotes pair up from the start of the file, so the last one is the one never closed.
        return textio.malformed_csv(name, last_quote_line, "unexpected end of data")
    width = len(pl.scan_csv(path, encoding="utf8", infer_schema=False).collect_schema())
    ragged = (
        pl.scan_lines(path, row_index_name="n", row_index_offset=1)
        .filter(~pl.col("line").str.contains('"', literal=True)
                & (pl.col("line").str.count_matches(",", literal=True) >= width))
        .select("n", fields=pl.col("line").str.count_matches(",", literal=True) + 1)
        .head(1).collect(engine="streaming")
    )
    if ragged.height:
        line, fields = ragged.row(0)
        return _file_error(name, f"expected {width} fields as in the header, found {fields}",
                           "check for an extra comma (quote values that contain commas)",
                           line=line)
    return None


def _malformed(text: str, name: str, exc: Exception) -> InputError:
    """Find the line polars choked on (only ever run on a file that failed to parse)."""
    fix = "check for an extra comma (quote values that contain commas)"
    try:
        rows = textio.split_rows(text, name)
    except InputError as err:
        return err
    width = len(rows[0][1]) if rows else 0
    for line, fields in rows[1:]:
        if len(fields) > width:
            message = f"expected {width} fields as in the header, found {len(fields)}"
            return _file_error(name, message, fix, line=line)
    header = rows[0][1] if rows else []
    for line, fields in rows[1:]:
        for column, value in zip(header, fields, strict=False):
            if '"' in value:  # polars refuses a quote inside an unquoted value; csv takes it
                return InputError(Problem(
                    name, line, column, 'a quote (") inside the value',
                    'remove it, or quote the whole value and double the quote ("PO""S")'))
    # polars' own message is not shown: it quotes records of the file.
    return _file_error(name, f"malformed CSV ({type(exc).__name__})", fix)


def _scan_parquet(path: Path, name: str) -> pl.LazyFrame:
    lf = pl.scan_parquet(path, row_index_name=_ROW, row_index_offset=1)
    try:
        schema = lf.collect_schema()
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise _file_error(name, f"cannot read the Parquet file: {exc}", _PARQUET_FIX) from exc
    renamed = {c: normal_name(c) for c in schema.names() if c != _ROW}
    _check_columns(name, list(renamed.values()), line=None)
    lf = lf.rename(renamed)
    problems: list[Problem] = []
    casts: list[pl.Expr] = []
    for original, column in renamed.items():
        if column not in RAW_COLUMNS:
            continue
        dtype = schema[original]
        col = pl.col(column)
        # isinstance: a Categorical read back from Parquet has categories of its own.
        if dtype == pl.String or isinstance(dtype, (pl.Categorical, pl.Enum)):
            casts.append(col.cast(pl.String))
        elif column == "invoice_date" and dtype == pl.Date:
            casts.append(col.dt.strftime("%Y-%m-%d"))
        elif column == "invoice_date" and isinstance(dtype, pl.Datetime):
            casts.append(col.dt.date().dt.strftime("%Y-%m-%d"))
        elif dtype.is_integer() and column in ("seller_ban", "invoice_date", "machine"):
            # Parquet integers are exact: only the BAN's leading zeros need restoring.
            text = col.cast(pl.String)
            casts.append(text.str.zfill(8) if column == "seller_ban" else text)
        else:
            fix = "store it as text" + (" or a date" if column == "invoice_date" else "")
            problems.append(
                Problem(name, None, column, f"Parquet column '{column}' has type {dtype}", fix)
            )
    if problems:
        raise InputError(problems)
    return lf.with_columns(casts)


def parquet_rows(path: Path, name: str) -> int:
    """Rows of a Parquet file, from its metadata."""
    try:
        return pl.scan_parquet(path).select(pl.len()).collect().item()
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise _file_error(name, f"cannot read the Parquet file: {exc}", _PARQUET_FIX) from exc


def scan_raw_invoices(paths: Sequence[str | Path], numbers: pl.Series | None = None, *,
                      exact: bool = True) -> pl.LazyFrame:
    """Scan invoice files lazily into raw text columns (RAW_COLUMNS, source, line).

    Checks encodings, delimiters and headers now (InputError); values are checked by
    validate_invoices. With numbers, only rows whose invoice number is one of them: written
    exactly so when `exact` (for input already known to be plainly clean; the reader skips the
    other rows), else once stripped. Such a filtered scan also gives large CSV files their
    physical lines (small files always have them).
    """
    frames = []
    _LARGE_CSV.clear()  # the large files of this scan only
    for path in map(Path, paths):
        name = str(path)
        magic = textio.read_head(path, len(PARQUET_MAGIC), name)  # a FIFO is never opened
        # A file with a header and no row is read as no invoices (a no-invoices finding).
        if magic == PARQUET_MAGIC:
            lf = _text_columns(_scan_parquet(path, name), name, numbers, exact=exact)
        else:
            lf, in_memory = scan_csv_file(path, name)
            lf = _text_columns(lf, name, numbers, exact=exact, large=not in_memory)
        frames.append(lf)
    if not frames:  # a period without invoices (no-invoices findings say so)
        return pl.LazyFrame(schema={**dict.fromkeys(RAW_COLUMNS, pl.String), "source": pl.String,
                                    "line": pl.Int64})
    return pl.concat(frames, how="vertical")


def _collect(lf: pl.LazyFrame) -> pl.DataFrame:
    try:
        return lf.collect(engine="streaming")
    except pl.exceptions.PolarsError as exc:
        # Typically a large file that is not UTF-8 beyond its first MiB, a quote never closed
        # or a ragged line (a small file was read whole, and such problems named, already).
        for name, path in list(_LARGE_CSV.items()):
            problem = _large_csv_problem(path, name)
            if problem is not None:
                raise problem from exc
        # polars' message is not shown: it quotes whole records of the file.
        raise _file_error(
            "invoice files",
            f"cannot read the invoices ({type(exc).__name__})",
            "check that every file is a comma-separated UTF-8 CSV or Parquet file",
        ) from exc


def validate_invoices(raw: pl.LazyFrame) -> None:
    """Check every value of a scan_raw_invoices frame; InputError with the first MAX_LISTED.

    One streaming pass when the data is clean; a second pass counts problems only when there are
    more bad rows than are listed.
    """
    bad = bad_value_exprs()
    flags = {f"__bad_{field}": expr for field, expr in bad.items()}
    flagged = raw.with_columns(**flags)
    sample = _collect(flagged.filter(pl.any_horizontal(*flags)).head(MAX_LISTED))
    if sample.is_empty():
        return
    sample = _physical_lines(sample)
    listed: list[Problem] = []
    total = 0
    for row in sample.iter_rows(named=True):
        for field in bad:
            if not row[f"__bad_{field}"]:
                continue
            total += 1
            issue = _WORDING[field](row[field]) or (f"{field} '{row[field]}' is not valid", "")
            listed.append(Problem(row["source"], row["line"], field, issue[0], issue[1]))
    if sample.height == MAX_LISTED:
        counts = _collect(flagged.select(pl.col(*flags).sum()))
        total = sum(counts.row(0))
    raise InputError(listed[:MAX_LISTED], more=total - min(len(listed), MAX_LISTED))


def normalise_invoices(raw: pl.LazyFrame) -> pl.LazyFrame:
    """schemas.INVOICE_SCHEMA from a raw frame (unknown values become null: validate first)."""
    number = pl.col("invoice_number")
    return raw.select(
        invoice_number=number,
        track=number.str.slice(0, 2),
        number=number.str.slice(2, 8),
        invoice_date=date_expr("invoice_date"),
        seller_ban=pl.col("seller_ban"),
        status=lookup_expr("status", STATUSES),
        machine=pl.col("machine"),
        upload_status=lookup_expr("upload_status", UPLOAD_STATUSES),
        source=pl.col("source"),
        line=pl.col("line"),
    ).cast(pl.Schema(INVOICE_SCHEMA))


def scan_invoices(paths: Sequence[str | Path]) -> pl.LazyFrame:
    """Normalised invoices (schemas.INVOICE_SCHEMA) without checking values: see load_invoices."""
    return normalise_invoices(scan_raw_invoices(paths))


def load_invoices(paths: Sequence[str | Path]) -> pl.LazyFrame:
    """Scan and check invoice files; return the lazy frame of schemas.INVOICE_SCHEMA columns.

    Raise InputError (file, line, field, message, fix) for the first MAX_LISTED bad values.
    """
    raw = scan_raw_invoices(paths)
    validate_invoices(raw)
    return normalise_invoices(raw)
