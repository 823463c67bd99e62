"""The MOF upload CSV (上傳空白未使用發票號碼 → 匯入字軌): writer and lint.

Layout (domain spec §5.3), no header, one row per blank range, 7 fields::

    00001,53567686,10312,MB,02034268,02034299,07

serial (5 digits from 00001), BAN that owns the numbers, period code, track, begin, end, type.
One file per reporting BAN (head_ban) and period, named ``{head_ban}_{period}.csv``.

Every file is linted before it is written; the same lint checks a file made elsewhere
(:func:`check_file`). What the lint treats as an *error* (the platform would reject the row or
the file, or the report would be wrong) and what as a *warning* (the file is most likely taken
but is not what this writer produces):

- errors: every field rule of §5.3 (with the platform's own wording where vendors quote one),
  a UTF-8 BOM, bytes that are not UTF-8, non-ASCII characters, a header line, blank lines,
  whitespace around a value (trailing whitespace included: it ends up in the type field), a bare
  CR line ending, an empty file, periods that differ between lines or from the expected one,
  duplicate or overlapping ranges (of any BANs), and (given allocations) a range not inside the
  allocations, a range holding numbers two allocations claim, and rows of another reporting BAN
  than the one the file is named after.
- warnings: a missing final newline (the platform reads the last line, but it is also the mark
  of a truncated copy), mixed CRLF/LF line endings, a range inside an allocation that another
  system reports (``reported_by``): two uploads for one track overwrite each other.

Adjacent ranges that could be merged are not flagged: splitting at allocation or booklet edges
is an allowed option.
"""

from __future__ import annotations

import codecs
import functools
import itertools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import polars as pl

from blanktrack import textio
from blanktrack.atomic import write_files
from blanktrack.ban import is_valid_ban
from blanktrack.errors import InputError
from blanktrack.period import Period
from blanktrack.platform_codes import describe
from blanktrack.schemas import BLANK_RANGE_SCHEMA

# CRLF: the platform's users live in Windows and the MOF's own instructions open the file in
# Notepad (「使用電腦程式裡的附屬應用程式 記事本 開啟」); old Notepad shows LF-only files as one
# line, and every CSV reader accepts CRLF. The lint accepts LF too (files made elsewhere).
NEWLINE = "\r\n"

FIELDS = ("serial", "ban", "period", "track", "begin_no", "end_no", "invoice_type")
MAX_SERIAL = 99_999  # 5-digit serial

# The platform's own wording, as quoted by vendors that mirror its checks (spec §5.3).
MSG_END_BEFORE_BEGIN = "發票迄號必須大於或等於起號"
MSG_SAME_RANGE = "空白發票新增失敗，請確認是否有輸入相同區間"
MSG_TRACK_EMPTY = "空白字軌不得為空"
MSG_TRACK_TOO_LONG = "空白字軌長度不得超過2碼"
MSG_BEGIN_LENGTH = "空白發票起號長度必為8碼"
MSG_END_LENGTH = "空白發票迄號長度必為8碼"
MSG_PERIOD = "發票期別格式錯誤"

_SERIAL = re.compile(r"[0-9]{5}")
_DIGITS8 = re.compile(r"[0-9]{8}")
_TRACK = re.compile(r"[A-Z]{2}")
_LINE_SPLIT = re.compile(r"(\r\n|\n|\r)")
_FILE_NAME = re.compile(r"[0-9]{8}_[0-9]{5}\.csv")
_FINE_LINE = re.compile(r"(?P<serial>[0-9]{5}),(?P<ban>[0-9]{8}),(?P<period>[0-9]{5}),[A-Z]{2},"
                        r"(?P<begin>[0-9]{8}),(?P<end>[0-9]{8}),0[78]")


@dataclass(frozen=True)
class LintProblem:
    """One problem of an upload file.

    ``line`` is the 1-based line, or None for a problem of the whole file; ``field`` is one of
    :data:`FIELDS` or '' when no single field is at fault; ``platform_message`` is the
    platform's own wording where one is known, else ''.
    """

    line: int | None
    field: str
    message: str
    platform_message: str = ""
    severity: str = "error"  # 'error' | 'warning'
    name: str = ""  # the file the problem is in
    platform_code: str = ""  # the result code the platform would most likely give, e.g. 'E0612'

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def __str__(self) -> str:
        where = self.name or "<data>"
        if self.line is not None:
            where += f":{self.line}"
        text = f"{where}: "
        if self.field:
            text += f"{self.field}: "
        if not self.is_error:
            text += f"{self.severity}: "
        text += self.message
        if self.platform_message:
            text += f" (平台訊息: {self.platform_message})"
        if self.platform_code:
            text += f" ({describe(self.platform_code)})"
        return text


class MofCsvLintError(RuntimeError):
    """The writer produced a file its own lint rejects: a bug, so nothing is written."""

    def __init__(self, problems: list[LintProblem]) -> None:
        self.problems = problems
        super().__init__(
            "refusing to write an upload file that fails lint:\n" + "\n".join(map(str, problems))
        )


# --------------------------------------------------------------------------- writer


def exportable_ranges(ranges: pl.DataFrame) -> pl.DataFrame:
    """The rows this system exports, sorted (ban, invoice_type, track, begin_no).

    Rows with ``reported_by`` set are left out: another system uploads them, and two uploads
    for the same track overwrite each other. Raises ValueError for a frame that lacks a column
    of BLANK_RANGE_SCHEMA or has nulls where a file needs a value.
    """
    missing = [c for c in BLANK_RANGE_SCHEMA if c not in ranges.columns]
    if missing:
        raise ValueError(f"blank ranges lack column(s) {', '.join(missing)}")
    df = ranges.select(list(BLANK_RANGE_SCHEMA)).filter(pl.col("reported_by").is_null())
    needed = ["period", "head_ban", "ban", "invoice_type", "track", "begin_no", "end_no"]
    nulls = [c for c in needed if df[c].null_count()]
    if nulls:
        raise ValueError(f"blank ranges have empty value(s) in {', '.join(nulls)}")
    # Type may arrive as '7'; files always carry 2 digits.
    df = df.with_columns(pl.col("invoice_type").str.zfill(2))
    # period and end_no only break ties, so the order is total and the bytes reproducible.
    return df.sort(["ban", "invoice_type", "track", "begin_no", "period", "end_no"])


def _file_bytes(lines: list[str]) -> bytes:
    """One upload file of these lines (their serials from 1), refused beyond 5-digit serials."""
    if len(lines) > MAX_SERIAL:
        raise ValueError(f"{len(lines)} ranges do not fit the 5-digit serial (max {MAX_SERIAL})")
    return "".join(lines).encode("ascii")


def _line(serial: pl.Expr) -> pl.Expr:
    """One upload line (with its line end) of each row, numbered by `serial`."""
    return pl.concat_str(
        serial.cast(pl.String).str.zfill(5), "ban", "period", "track", "begin_no", "end_no",
        "invoice_type", separator=",",
    ).add(pl.lit(NEWLINE)).alias("line")


def mof_csv_name(head_ban: str, period: str) -> str:
    """``{head_ban}_{period}.csv``, after checking both (they become a path)."""
    if not is_valid_ban(head_ban):
        raise ValueError(f"reporting BAN {head_ban!r} is not a valid 8-digit BAN")
    if Period.parse(period).code != period:
        raise ValueError(f"period {period!r} is not a period code like 11302")
    return f"{head_ban}_{period}.csv"


def write_mof_csvs(ranges: pl.DataFrame, out_dir: Path, *, atomic: bool = True,
                   suffix: str = "", folder_of: Callable[[str, str], Path] | None = None,
                   on_written: Callable[[Path, bytes], None] | None = None) -> list[Path]:
    """Write one upload file per reporting BAN (head_ban) and period into ``out_dir``, named
    ``{BAN}_{period}{suffix}.csv`` (a suffix names a file that holds only part of the period).

    Every file is rendered and linted before any is written, and a lint problem raises
    :class:`MofCsvLintError`: a half-written set is as bad as a wrong file. Each file is
    written atomically (``atomic=False``: plainly, into a staging folder the caller syncs and
    renames as a whole). Returns the paths in (head_ban, period) order; a reporting BAN with
    no exported row gets no file. ``folder_of(period, head_ban)``, when given, is the folder of
    each file instead of ``out_dir`` (the set folders of exports, in one call);
    ``on_written(path, bytes)`` is told of each file once it is written.
    """
    df = exportable_ranges(ranges)
    # Every line of every file in one pass (serials count within a file, in the sorted order);
    # then the lines are cut into files (a few thousand ranges, not invoices).
    per_file = ["head_ban", "period"]
    lines = (
        df.select(*per_file, _line(pl.int_range(1, pl.len() + 1).over(per_file)))
        .sort(per_file, maintain_order=True)
    )
    files: list[tuple[Path, bytes]] = []
    for (head_ban, period), group in itertools.groupby(
        zip(*(lines[c].to_list() for c in ("head_ban", "period", "line")), strict=True),
        key=lambda row: row[:2],
    ):
        name = mof_csv_name(head_ban, period)
        data = _file_bytes([line for _, _, line in group])
        problems = lint_mof_csv(data, name, expected_period=period)
        if problems:
            raise MofCsvLintError(problems)
        folder = folder_of(period, head_ban) if folder_of else Path(out_dir)
        files.append((folder / (name.removesuffix(".csv") + suffix + ".csv"), data))
    return write_files(files, atomic, on_written)


# --------------------------------------------------------------------------- lint


class _Range(NamedTuple):  # a tuple: thousands a run, made faster than a frozen dataclass
    line: int
    ban: str
    period: str
    track: str
    invoice_type: str
    begin: int
    end: int

    @property
    def label(self) -> str:
        return f"{self.track}{self.begin:08d}–{self.track}{self.end:08d}"


class _Linter:
    def __init__(self, name: str) -> None:
        self.name = name
        self.problems: list[LintProblem] = []

    def add(
        self,
        line: int | None,
        field: str,
        message: str,
        platform: str = "",
        severity: str = "error",
        code: str = "",
    ) -> None:
        self.problems.append(LintProblem(line, field, message, platform, severity, self.name,
                                         code))


def lint_mof_csv(
    data: bytes,
    name: str,
    allocations: pl.DataFrame | None = None,
    expected_period: str | None = None,
    name_ban: str | None = None,
) -> list[LintProblem]:
    """Every problem of an upload file, file-level ones (line None) first, then by line.

    ``allocations`` (frames.ALLOCATION_SCHEMA) adds the checks that each range lies inside the
    allocations of its BAN, period, track and type and holds no number two allocations claim,
    and, with ``name_ban`` (the BAN the file is named after), that its rows are that reporting
    BAN's; ``expected_period`` that every line carries that period. An empty list means the
    file is fit to upload.
    """
    lint = _Linter(name)
    if data.startswith(codecs.BOM_UTF8):
        lint.add(None, "", "file starts with a UTF-8 byte-order mark (BOM); "
                 "the platform expects UTF-8 without BOM")
        data = data[len(codecs.BOM_UTF8):]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = textio.byte_line_of(data, exc.start)  # CR-only line ends count too
        lint.add(line, "", f"byte 0x{data[exc.start]:02x} is not UTF-8 (Big5 text?); "
                 "the file must be ASCII")
        text = data.decode("utf-8", errors="replace")

    ranges = _lint_lines(lint, text, expected_period)
    _lint_overlaps(lint, ranges)
    if allocations is not None:
        _lint_allocations(lint, ranges, allocations, name_ban)
    # File-level problems first, then by line; the sort is stable within a line.
    return sorted(lint.problems, key=lambda p: -1 if p.line is None else p.line)


def _lint_lines(lint: _Linter, text: str, expected_period: str | None) -> list[_Range]:
    fine = _fine_text(text, expected_period)
    return fine if fine is not None else _lint_each_line(lint, text, expected_period)


# A line as this module writes it, with its CRLF: _FINE_LINE's fields, fixed width.
_FINE_TEXT_LINE = re.compile(r"([0-9]{5}),([0-9]{8}),([0-9]{5}),([A-Z]{2}),([0-9]{8}),"
                             r"([0-9]{8}),(0[78])\r\n")
_FINE_TEXT_LINE_LENGTH = 46


def _fine_text(text: str, expected_period: str | None) -> list[_Range] | None:
    """The ranges of a text of which _lint_each_line would say nothing (every line fine, each
    ended by CRLF), read by one scan of the text; None for any other text, which
    _lint_each_line reads line by line (an upload file of thousands of lines is linted as it
    is written)."""
    rows = _FINE_TEXT_LINE.findall(text)
    # Fixed-width matches that do not overlap and add up to the text: they tile it.
    if not rows or len(rows) * _FINE_TEXT_LINE_LENGTH != len(text):
        return None
    period = expected_period if expected_period is not None else rows[0][2]
    ranges = []
    for line, (serial, ban, row_period, track, begin, end, itype) in enumerate(rows, start=1):
        if not (int(serial) == line and row_period == period and _is_valid_ban(ban)
                and _is_period(row_period) and begin <= end):
            return None
        ranges.append(_Range(line, ban, row_period, track, itype, int(begin), int(end)))
    return ranges


def _lint_each_line(lint: _Linter, text: str, expected_period: str | None) -> list[_Range]:
    if text == "":
        lint.add(None, "", "file is empty: no blank range to upload")
        return []
    parts = _LINE_SPLIT.split(text)
    contents, ends = parts[0::2], parts[1::2]
    if contents[-1] == "":
        contents.pop()  # the file ends with a newline, as it should
    else:
        lint.add(None, "", "last line has no line end (truncated copy?)", severity="warning")
    if "\r\n" in ends and "\n" in ends:
        lint.add(None, "", "mixed CRLF and LF line ends", severity="warning")

    file_period: tuple[str, int] | None = None  # (period, line it was first seen on)
    ranges: list[_Range] = []
    rows = 0  # data rows so far
    serial = 0  # the last serial read; the next row should carry serial + 1
    for lineno, content in enumerate(contents, start=1):
        if lineno <= len(ends) and ends[lineno - 1] == "\r":
            lint.add(lineno, "", "line ends in a bare CR; use CRLF (or LF)")
        wanted = expected_period if expected_period is not None else (
            file_period[0] if file_period is not None else None)
        if _fine_line(content, serial + 1, wanted):
            # The common case, nothing to say (the checks below would find nothing): one match
            # instead of a dozen (a large period's exports hold thousands of lines).
            rows += 1
            serial += 1
            if file_period is None and expected_period is None:
                file_period = (content[15:20], lineno)
            ranges.append(_Range(lineno, content[6:14], content[15:20], content[21:23],
                                 content[42:44], int(content[24:32]), int(content[33:41])))
            continue
        if content.strip() == "":
            lint.add(lineno, "", "blank line; the platform reads it as an empty row")
            continue
        fields = content.split(",")
        if rows == 0 and not any(ch.isdigit() for ch in fields[0]):
            lint.add(lineno, "", "header line; the upload file has no header, "
                     "the first line must be row 00001")
            continue
        rows += 1
        serial += 1
        if not content.isascii():
            bad = next(ch for ch in content if not ch.isascii())
            lint.add(lineno, "", f"non-ASCII character {bad!r} (U+{ord(bad):04X}); "
                     "every field is ASCII digits or letters")
        if len(fields) != len(FIELDS):
            lint.add(lineno, "", f"{len(fields)} field(s), expected 7 separated by commas: "
                     "serial,BAN,period,track,begin,end,type")
            continue
        values = dict(zip(FIELDS, fields, strict=True))
        for field, value in values.items():
            if value != value.strip():
                lint.add(lineno, field, f"whitespace around the value {value!r}")
                values[field] = value.strip()
        rng = _lint_fields(lint, lineno, serial, values)
        if _SERIAL.fullmatch(values["serial"]):
            serial = int(values["serial"])  # one slip is one problem, not one per later line
        period = values["period"]
        if _is_period(period):
            if expected_period is not None and period != expected_period:
                lint.add(lineno, "period", f"period {period} but this file is for "
                         f"{expected_period}")
            elif file_period is None:
                file_period = (period, lineno)
            elif period != file_period[0]:
                lint.add(lineno, "period", f"period {period} differs from {file_period[0]} on "
                         f"line {file_period[1]}; one file holds one period")
        if rng is not None:
            ranges.append(rng)
    return ranges


def _fine_line(content: str, serial: int, period: str | None) -> bool:
    """Whether a line is as this writer writes it, with the serial, period (None: any valid
    one) and order of begin and end the lint wants, so that it has nothing to say about it."""
    m = _FINE_LINE.fullmatch(content)
    return bool(
        m and int(m["serial"]) == serial and (period is None or m["period"] == period)
        and _is_valid_ban(m["ban"]) and _is_period(m["period"]) and m["begin"] <= m["end"]
    )


# A file's lines repeat a few BANs: each checked once.
_is_valid_ban = functools.lru_cache(maxsize=4096)(is_valid_ban)


@functools.lru_cache(maxsize=1024)
def _is_period(value: str) -> bool:
    try:
        return Period.parse(value).code == value
    except ValueError:
        return False


def _lint_fields(lint: _Linter, line: int, serial: int, v: dict[str, str]) -> _Range | None:
    """Field rules of one row; the row as a range when every field is usable."""
    ok = True
    s = v["serial"]
    if not _SERIAL.fullmatch(s):
        lint.add(line, "serial", f"serial {s!r} is not 5 digits (00001, 00002, …)")
    elif int(s) != serial:
        lint.add(line, "serial", f"serial {s} out of sequence: expected {serial:05d} "
                 "(serials run from 00001 without gaps)")

    ban = v["ban"]
    if not _DIGITS8.fullmatch(ban):
        lint.add(line, "ban", f"BAN {ban!r} is not 8 digits")
        ok = False
    elif not is_valid_ban(ban):
        lint.add(line, "ban", f"BAN {ban} fails the check digit")
        ok = False

    period = v["period"]
    if not _is_period(period):
        try:
            Period.parse(period)
            reason = f"period {period!r} is not a 5-digit code YYYMM"
        except ValueError as exc:
            reason = str(exc)
        lint.add(line, "period", reason, MSG_PERIOD)
        ok = False

    track = v["track"]
    if track == "":
        lint.add(line, "track", "track is empty", MSG_TRACK_EMPTY)
        ok = False
    elif len(track) > 2:
        lint.add(line, "track", f"track {track!r} is longer than 2 letters", MSG_TRACK_TOO_LONG)
        ok = False
    elif not _TRACK.fullmatch(track):
        lint.add(line, "track", f"track {track!r} is not 2 upper-case letters A–Z")
        ok = False

    numbers: list[int] = []
    for field, what, platform in (
        ("begin_no", "begin", MSG_BEGIN_LENGTH),
        ("end_no", "end", MSG_END_LENGTH),
    ):
        value = v[field]
        if _DIGITS8.fullmatch(value):
            numbers.append(int(value))
        elif len(value) != 8:
            lint.add(line, field, f"{what} number {value!r} is not 8 digits", platform)
        else:
            lint.add(line, field, f"{what} number {value!r} is not all digits")
    if len(numbers) == 2 and numbers[1] < numbers[0]:
        lint.add(line, "end_no", f"end {v['end_no']} is below begin {v['begin_no']}",
                 MSG_END_BEFORE_BEGIN)
        ok = False

    itype = v["invoice_type"]
    if itype not in ("07", "08"):
        lint.add(line, "invoice_type", f"invoice type {itype!r} is not 07 or 08 (2 digits)",
                 code="E0607")
        ok = False

    if not ok or len(numbers) != 2:
        return None
    return _Range(line, ban, period, track, itype, numbers[0], numbers[1])


def _lint_overlaps(lint: _Linter, ranges: Iterable[_Range]) -> None:
    """The same range twice, or two ranges sharing numbers, of one period and track, whatever
    their BANs: a number belongs to one allocation, so two rows can never both report it."""
    groups: dict[tuple[str, str], list[_Range]] = {}
    for r in ranges:
        groups.setdefault((r.period, r.track), []).append(r)
    for group in groups.values():
        group.sort(key=lambda r: (r.begin, r.end, r.line))
        reach: _Range | None = None  # the range reaching highest so far
        for r in group:
            if reach is not None and r.begin <= reach.end:
                first, later = sorted((reach, r), key=lambda x: x.line)
                how = (
                    "is the same range as"
                    if (r.begin, r.end) == (reach.begin, reach.end)
                    else "overlaps the range on"
                )
                bans = (f" (BAN {later.ban}, the other BAN {first.ban})"
                        if later.ban != first.ban else "")
                lint.add(later.line, "", f"{later.label} {how} line {first.line} "
                         f"({first.label}){bans}", MSG_SAME_RANGE,
                         code="E0604/E0609" if how.startswith("is the same") else "E0612")
            if reach is None or r.end > reach.end:
                reach = r


def _lint_allocations(lint: _Linter, ranges: list[_Range], allocations: pl.DataFrame,
                      name_ban: str | None = None) -> None:
    """Each range must lie inside the allocations of its BAN, period, track and type, hold no
    number two allocations (of any BAN) claim, and, when the file is named after a BAN
    (`name_ban`), belong to that reporting BAN (the head office, else the BAN itself).

    A range may run across two allocations that touch (end + 1 = next begin): the report
    merges blank runs across adjacent allocations (spec §3). A gap between them is not
    allocated, so a range across a gap is a problem.
    """
    _lint_claimed_twice(lint, ranges, allocations)
    if name_ban is not None:
        _lint_reporting_ban(lint, ranges, allocations, name_ban)
    wanted = {(r.ban, r.period, r.track) for r in ranges}
    blocks: dict[tuple[str, str, str, str], list[tuple[int, int, str | None]]] = {}
    types: dict[tuple[str, str, str], set[str]] = {}
    cols = ["ban", "period", "track", "invoice_type", "begin_no", "end_no", "reported_by"]
    for ban, period, track, itype, begin, end, by in allocations.select(cols).iter_rows():
        if (ban, period, track) not in wanted or begin is None or end is None:
            continue
        if not (begin.isdigit() and end.isdigit()):
            continue
        itype = (itype or "").zfill(2)
        blocks.setdefault((ban, period, track, itype), []).append((int(begin), int(end), by))
        types.setdefault((ban, period, track), set()).add(itype)

    for r in ranges:
        allocs = sorted(blocks.get((r.ban, r.period, r.track, r.invoice_type), []))
        where = f"BAN {r.ban}, period {r.period}, track {r.track}"
        if not allocs:
            other = sorted(types.get((r.ban, r.period, r.track), set()))
            if other:
                lint.add(r.line, "invoice_type", f"{r.label} is type {r.invoice_type} but "
                         f"{where} is allocated as type {', '.join(other)}", code="E0607")
            else:
                lint.add(r.line, "", f"{r.label} is in no allocation of {where}, "
                         f"type {r.invoice_type}", code="E0613")
            continue
        if not _covered(r.begin, r.end, allocs):
            shown = ", ".join(f"{b:08d}–{e:08d}" for b, e, _ in allocs[:5])
            more = f" and {len(allocs) - 5} more" if len(allocs) > 5 else ""
            lint.add(r.line, "", f"{r.label} is not inside the allocations of {where}, type "
                     f"{r.invoice_type} ({shown}{more}): it holds numbers never allocated",
                     code="E0613")
            continue
        others = sorted(
            {by for b, e, by in allocs if by is not None and b <= r.end and e >= r.begin}
        )
        if others:
            lint.add(r.line, "", f"{r.label} lies in an allocation reported by "
                     f"{', '.join(others)}; two uploads for one track overwrite each other",
                     severity="warning")


def _numbers(begin: str | None, end: str | None) -> tuple[int, int] | None:
    if begin is None or end is None or not (begin.isdigit() and end.isdigit()):
        return None
    return int(begin), int(end)


def _lint_claimed_twice(lint: _Linter, ranges: list[_Range], allocations: pl.DataFrame) -> None:
    """A range holding numbers that two allocations of its period and track claim (any BANs):
    blanktrack withholds those until the overlap is resolved (spec §3), so no file may carry
    them."""
    wanted = {(r.period, r.track) for r in ranges}
    claims: dict[tuple[str, str], list[tuple[int, int, str]]] = {}
    cols = ["ban", "invoice_type", "period", "track", "begin_no", "end_no"]
    # An identical row given twice is one allocation (counted once), not two claims.
    for ban, _, period, track, begin, end in allocations.select(cols).unique().iter_rows():
        numbers = _numbers(begin, end)
        if (period, track) in wanted and numbers is not None:
            claims.setdefault((period, track), []).append((*numbers, ban))
    shared: dict[tuple[str, str], list[tuple[int, int, str, str]]] = {}
    for key, group in claims.items():
        group.sort()
        reach: tuple[int, int, str] | None = None  # the claim reaching highest so far
        for claim in group:
            if reach is not None and claim[0] <= reach[1]:
                shared.setdefault(key, []).append(
                    (claim[0], min(claim[1], reach[1]), reach[2], claim[2]))
            if reach is None or claim[1] > reach[1]:
                reach = claim
    for r in ranges:
        for lo, hi, ban_a, ban_b in shared.get((r.period, r.track), []):
            if lo <= r.end and r.begin <= hi:
                lint.add(r.line, "", f"{r.label} holds {r.track}{max(lo, r.begin):08d}–"
                         f"{r.track}{min(hi, r.end):08d}, which two allocations claim (BAN "
                         f"{ban_a} and BAN {ban_b}): resolve the overlap of the allocations "
                         "before any of these numbers is reported")
                break


def _lint_reporting_ban(lint: _Linter, ranges: list[_Range], allocations: pl.DataFrame,
                        name_ban: str) -> None:
    """The file {BAN}_{period}.csv is the reporting BAN's: each row's BAN must report through
    it (its allocations' head_ban, or the BAN itself where there is none)."""
    cols = ["ban", "period", "track", "head_ban"]
    heads: dict[tuple[str, str, str], set[str]] = {}
    for ban, period, track, head in allocations.select(cols).iter_rows():
        heads.setdefault((ban, period, track), set()).add(head or ban)
    for r in ranges:
        reporting = heads.get((r.ban, r.period, r.track))
        if reporting is None or name_ban in reporting:
            continue  # a range in no allocation is named by the allocation check
        hint = (f" (if {name_ban} is the head office of {r.ban}, check against the allocation "
                "table whose head_ban says so: the MOF download does not)"
                if name_ban != r.ban else "")
        lint.add(r.line, "ban", f"{r.label} of BAN {r.ban} is reported by BAN "
                 f"{', '.join(sorted(reporting))}, but the file is named after BAN {name_ban}: "
                 f"it belongs in {sorted(reporting)[0]}_{r.period}.csv{hint}",
                 code="E0606/E0611/E0614")


def _covered(begin: int, end: int, allocs: list[tuple[int, int, str | None]]) -> bool:
    """True when every number begin..end lies in the union of the (sorted) allocations."""
    need = begin
    for b, e, _ in allocs:
        if b > need:
            break
        if e >= need:
            need = e + 1
            if need > end:
                return True
    return need > end


# An upload file holds at most MAX_SERIAL rows of 45 bytes; anything far larger is another file.
MAX_UPLOAD_BYTES = 64 * 2**20


def _check_is_table(data: bytes, name: str) -> None:
    """InputError, quoting none of it, when the file is UTF-8 but no comma-separated text (a
    system file): its content is not for a report. Bytes that are not UTF-8 are the lint's to
    name (it quotes none of them)."""
    try:
        text = data.removeprefix(codecs.BOM_UTF8).decode("utf-8")
    except UnicodeDecodeError:
        return
    first = textio.first_line(text)
    if first is not None:
        textio.check_delimiter(first[1], name, first[0])


def check_file(
    path: Path,
    allocations: pl.DataFrame | None = None,
    expected_period: str | None = None,
) -> list[LintProblem]:
    """Lint an upload file on disk, made here or elsewhere.

    A file that cannot be read is one problem, not a traceback. When the name has the form
    ``{BAN}_{period}.csv`` and no ``expected_period`` is given, the period in the name is
    expected on every line; with allocations, the BAN in the name must be the rows' reporting
    BAN.
    """
    path = Path(path)
    try:
        data = textio.read_bytes(path, limit=MAX_UPLOAD_BYTES)
        _check_is_table(data, str(path))
    except InputError as exc:
        return [LintProblem(p.line, "", f"{p.message} — {p.fix}" if p.fix else p.message,
                            name=str(path)) for p in exc.problems]
    name_ban = None
    if _FILE_NAME.fullmatch(path.name):
        name_ban = path.name[:8]
        if expected_period is None:
            candidate = path.name[9:14]
            expected_period = candidate if _is_period(candidate) else None
    return lint_mof_csv(data, str(path), allocations, expected_period, name_ban)
