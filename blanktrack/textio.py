"""Read the text input files people hand us: decode them safely and split them into rows.

Files come from the MOF platform, from spreadsheets and from POS or ERP exports, so they arrive
as UTF-8 (with or without BOM), Big5/cp950 or, rarely, UTF-16. A file is only accepted when one of
those encodings decodes it *exactly*: text that would decode only with replacement characters is
refused, because a silently mangled BAN or track would end up in a report to the tax office.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from blanktrack.errors import InputError, Problem

# Tried in this order when there is no BOM. UTF-8 first: ASCII and valid UTF-8 multi-byte sequences
# are very unlikely to be accidental cp950, while the reverse is common.
_FALLBACKS = ("utf-8", "cp950")
_LABELS = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8 with BOM",
    "cp950": "Big5/cp950",
    "utf-16": "UTF-16",
}

Row = tuple[int, list[str]]  # (1-based physical line where the record starts, stripped fields)


@dataclass(frozen=True)
class DecodedText:
    """The decoded text of a file and the encoding that decoded it."""

    text: str
    encoding: str  # 'utf-8', 'utf-8-sig', 'cp950' or 'utf-16'


@dataclass(frozen=True)
class TextRows:
    """The non-blank records of a comma-separated file."""

    rows: list[Row]
    encoding: str


# A line ends in CRLF, LF or a bare CR (old Mac files): every one of them starts a new line.
_LINE_END_BYTES = re.compile(rb"\r\n|\r|\n")
_LINE_END = re.compile(r"\r\n|\r|\n")


def byte_line_of(data: bytes, offset: int) -> int:
    """The 1-based line holding byte `offset`."""
    return len(_LINE_END_BYTES.findall(data, 0, offset)) + 1


def text_line_of(text: str, index: int) -> int:
    """The 1-based line holding character `index`."""
    return len(_LINE_END.findall(text, 0, index)) + 1


def _text_problem(name: str, line: int | None, message: str, fix: str = "") -> InputError:
    return InputError(Problem(name, line, None, message, fix))


def _check_decoded(text: str, name: str, encoding: str) -> None:
    """Refuse text that decoded but cannot be what a person wrote."""
    if "\ufffd" in text:
        # The file was already mangled by an earlier conversion (it carries U+FFFD itself).
        line = text_line_of(text, text.index("\ufffd"))
        raise _text_problem(
            name,
            line,
            f"the file contains replacement characters (�) after decoding as {_LABELS[encoding]}: "
            "an earlier conversion lost characters",
            "export the file again from its source system",
        )
    if "\x00" in text:
        line = text_line_of(text, text.index("\x00"))
        raise _text_problem(
            name,
            line,
            "the file contains NUL characters: it is probably UTF-16 without a byte-order mark",
            "save it as UTF-8",
        )


def decode_bytes(data: bytes, name: str) -> DecodedText:
    """Decode a file's bytes: UTF-8 (BOM optional), else Big5/cp950; UTF-16 only with its BOM.

    Raise InputError naming the file and the first line no encoding can decode.
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as exc:
            # UTF-16 lines are not byte-newline separated reliably; count in code units instead.
            raise _text_problem(
                name,
                None,
                f"the file starts with a UTF-16 byte-order mark but is not valid UTF-16 "
                f"(byte {exc.start})",
                "save it as UTF-8",
            ) from exc
        _check_decoded(text, name, "utf-16")
        return DecodedText(text, "utf-16")

    if data.startswith(codecs.BOM_UTF8):
        # A UTF-8 BOM is a promise: do not fall back to cp950 when it is broken.
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise _text_problem(
                name,
                byte_line_of(data, exc.start),
                "the file starts with a UTF-8 byte-order mark but this line is not valid UTF-8",
                "save the file again as UTF-8",
            ) from exc
        _check_decoded(text, name, "utf-8-sig")
        return DecodedText(text, "utf-8-sig")

    failures: list[int] = []
    for encoding in _FALLBACKS:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError as exc:
            failures.append(byte_line_of(data, exc.start))
            continue
        _check_decoded(text, name, encoding)
        return DecodedText(text, encoding)
    # The encoding that got furthest is the most likely intended one: name its first bad line.
    raise _text_problem(
        name,
        max(failures),
        "this line is neither valid UTF-8 nor valid Big5/cp950 text",
        "save the file as UTF-8 (or Big5) from the program that made it",
    )


_READ_FIX = "check the path and that you may read the file"
_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)
# Never read more than this from one file into memory (a sparse or endless file would take it all).
MAX_READ_BYTES = 2**30


def _kind(mode: int) -> str:
    return next((label for test, label in _KINDS if test(mode)), "a special file")


def _not_regular(name: str, mode: int) -> InputError:
    return _text_problem(name, None,
                         f"cannot read the file: it is {_kind(mode)}, not a regular file",
                         "give the path of the file itself (a FIFO, device or folder is never "
                         "read)")


def check_regular(path: str | Path, name: str | None = None) -> None:
    """InputError unless `path` (links followed) is a regular file; nothing is opened.

    A FIFO would block the read forever, /dev/zero would fill the memory, and opening some
    devices has side effects: none of them is opened at all.
    """
    name = str(path) if name is None else name
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        raise _cannot_read(name, exc) from exc
    if not stat.S_ISREG(mode):
        raise _not_regular(name, mode)


def _cannot_read(name: str, exc: Exception) -> InputError:
    reason = (exc.strerror if isinstance(exc, OSError) else None) or str(exc)
    return _text_problem(name, None, f"cannot read the file: {reason}", _READ_FIX)


def open_regular(path: str | Path, name: str | None = None) -> BinaryIO:
    """Open a regular file for reading in binary, or raise InputError; never blocks.

    The file is checked before it is opened (check_regular) and again once open, in case the
    path was replaced in between; O_NONBLOCK keeps even that open from waiting on a FIFO.
    """
    name = str(path) if name is None else name
    check_regular(path, name)
    flags = (os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
             | getattr(os, "O_CLOEXEC", 0))
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise _cannot_read(name, exc) from exc
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise _not_regular(name, mode)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_bytes(path: str | Path, name: str | None = None, limit: int = MAX_READ_BYTES) -> bytes:
    """The bytes of a regular file (open_regular), at most `limit` of them, else InputError."""
    name = str(path) if name is None else name
    with open_regular(path, name) as fh:
        try:
            # Asked for the size the file says it has (and a byte more, to see it grew): a
            # read of `limit` bytes reserves that much memory first, a cost per file that
            # 200 small daily files feel. Past it (the file grew, or a /proc file that says
            # 0 bytes), read on up to the limit.
            size = os.fstat(fh.fileno()).st_size
            data = fh.read(min(size, limit) + 1)
            if len(data) > size:
                data += fh.read(limit + 1 - len(data))
        except OSError as exc:  # e.g. EAGAIN from a /proc file that would block
            raise _cannot_read(name, exc) from exc
    if len(data) > limit:
        raise _text_problem(name, None, f"the file is larger than {limit // 2**20} MiB",
                            "give the right file; an input this large is not one blanktrack "
                            "reads whole")
    return data


def read_head(path: str | Path, size: int, name: str | None = None, *,
              unless: bytes = b"") -> bytes:
    """The first `size` bytes of a regular file (open_regular); only the first len(`unless`)
    when they are `unless` (a Parquet file's magic: its head tells nothing more, and a folder
    of hundreds of them paid for reading 64 KiB of each)."""
    name = str(path) if name is None else name
    with open_regular(path, name) as fh:
        try:
            head = fh.read(len(unless)) if unless else b""
            if unless and head == unless:
                return head
            return head + fh.read(size - len(head))
        except OSError as exc:
            raise _cannot_read(name, exc) from exc


def read_text(path: str | Path) -> DecodedText:
    """Read and decode a text file; InputError if it cannot be read or decoded."""
    name = str(path)
    return decode_bytes(read_bytes(path, name), name)


_DELIMITER_NAMES = {";": "semicolon (;)", "\t": "tab"}


# Control characters a text table never holds (tab and CR, a CRLF's, are fine).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_TABLE_FIX = "give a comma-separated table (CSV, with its header line) or a Parquet file"


def check_delimiter(header: str, name: str, line: int = 1) -> None:
    """Refuse a first line that is no comma-separated header or row.

    Semicolon- and tab-separated files are named as such. A line with control characters or
    without a comma means the file is no table at all (a binary file, a system file reached
    through a link): it is refused without quoting any of it, as its content may be secret.
    """
    if _CONTROL.search(header):
        raise _text_problem(name, line, "this line holds control characters: the file is not "
                            "a text table", _TABLE_FIX)
    commas = header.count(",")
    for delimiter, label in _DELIMITER_NAMES.items():
        if header.count(delimiter) > commas:
            raise _text_problem(
                name,
                line,
                f"the fields are separated by {label}, not by commas",
                "the file must be comma-separated (CSV); save it again as CSV with commas",
            )
    if not commas:
        raise _text_problem(name, line, "this line has no comma: the file is not a "
                            "comma-separated table", _TABLE_FIX)


# What a column name looks like (any script's letters and digits, spaces, a little punctuation):
# a first line of other text is named as such, not quoted (it may be a system file's line).
_COLUMN_NAME = re.compile(r"[\w .()\-]{0,64}")


def shown_names(fields: list[str]) -> str:
    """The header names found, for a message; not quoted when they do not look like names."""
    if all(_COLUMN_NAME.fullmatch(f.lstrip("\ufeff")) for f in fields):
        return ", ".join(fields) or "none"
    return "a first line that is no header (not shown)"


def first_line(text: str) -> tuple[int, str] | None:
    """The first non-blank line and its 1-based number, without splitting the whole text."""
    start, number = 0, 1
    while start < len(text):
        found = _LINE_END.search(text, start)
        end, after = (found.start(), found.end()) if found else (len(text), len(text))
        if text[start:end].strip():
            return number, text[start:end]
        start, number = after, number + 1
    return None


def check_text_delimiter(text: str, name: str) -> None:
    """check_delimiter on the first non-blank line of `text`."""
    first = first_line(text)
    if first is not None:
        check_delimiter(first[1], name, first[0])


def split_rows(text: str, name: str) -> list[Row]:
    """Split comma-separated text into stripped fields, keeping each record's physical line.

    Blank lines are skipped (their line numbers still count).
    """
    check_text_delimiter(text, name)
    rows: list[Row] = []
    # strict: a quote that is never closed is an error, not a field that swallows the rest of
    # the file.
    reader = csv.reader(io.StringIO(text, newline=""), skipinitialspace=True, strict=True)
    start = 1
    try:
        for record in reader:
            fields = [f.strip() for f in record]
            if any(fields):
                rows.append((start, fields))
            # A quoted field may span lines: the next record starts after the lines read so far.
            start = reader.line_num + 1
    except csv.Error as exc:
        raise malformed_csv(name, start, str(exc)) from exc
    return rows


def malformed_csv(name: str, line: int, detail: str) -> InputError:
    """The error for a record the CSV reader cannot split, starting on `line`."""
    if "unexpected end of data" in detail:
        return _text_problem(
            name,
            line,
            'a quote (") opens a field on this line and is never closed',
            'remove the stray quote, or close it: a value with a comma is written "like, this"',
        )
    return _text_problem(
        name,
        line,
        f"malformed CSV: {detail}",
        'check the quotes: a quoted value is written "like this", followed by a comma',
    )


def normalise_newlines(text: str) -> str:
    """Bare CR line ends (old Mac, some POS exports) as LF; CRLF and LF are left alone.

    The csv module takes a bare CR as a line end; polars does not, and would read the whole
    file as one header line.
    """
    if "\r" not in text:
        return text
    return text.replace("\r\n", "\n").replace("\r", "\n")


def read_rows(path: str | Path) -> TextRows:
    """Read, decode and split a comma-separated file."""
    decoded = read_text(path)
    return TextRows(split_rows(decoded.text, str(path)), decoded.encoding)
