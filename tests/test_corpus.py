"""A corpus of hostile input files and what must come of each (issue 6).

Every case is one input file for one role (allocations or invoices); the other role gets the
shipped sample's files. Each runs through `blanktrack reconcile` (cli.main) and must end as the
table says:

- exit 1: unusable input. The message names the file, the line and the field where there is one,
  and says what to fix; nothing is written under the output folder.
- exit 0: readable input. The findings listed must be in findings.csv, every output passes its
  self-checks (corpus/checks.py), and where the case says `same`, the upload files, E0402
  documents and summary are byte-identical to the clean sample's (an encoding, whitespace or line
  end changed nothing).

Cases whose outcome the spec (or issue #13) asks for but the code does not give yet are marked
`xfail(strict=True)` with the task that implements them: when it lands, the mark must go.
Outputs are reached only through the helpers of corpus/checks.py (the folder layout lives there).

Then: a file larger than the loader's LARGE_FILE_BYTES goes through the streaming path in bounded
memory, and parameter files are refused with their file, line and key.
"""

from __future__ import annotations

import codecs
import io
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest
from archived_runs import new_run_dir
from corpus.checks import (
    ROOT,
    SAMPLE,
    check_outputs,
    exports_of,
    findings_of,
    nothing_written,
    upload_files,
    visible_files,
)

from blanktrack import archive
from blanktrack.cli import main
from blanktrack.errors import InputError
from blanktrack.params import load_params

ALLOCATIONS = (SAMPLE / "allocations.csv").read_text(encoding="utf-8")
MOF_DOWNLOAD = (SAMPLE / "invnoapply_10312.csv").read_text(encoding="utf-8-sig")
INVOICES = (SAMPLE / "invoices_erp.csv").read_text(encoding="utf-8")  # replaced by the case
OTHER_INVOICES = sorted(p for p in SAMPLE.glob("invoices_pos-*.csv"))
A_HEAD, *A_ROWS = ALLOCATIONS.splitlines()
I_HEAD, *I_ROWS = INVOICES.splitlines()
FORMULA = "=cmd|' /C calc'!A0"


def lines(*rows: str) -> bytes:
    return ("\n".join(rows) + "\n").encode("utf-8")


def alloc(*extra: str) -> bytes:
    """The sample allocations with extra rows after them (the first extra row is line 10)."""
    return lines(A_HEAD, *A_ROWS, *extra)


def alloc_only(*rows: str) -> bytes:
    """A header and these rows only (the first is line 2)."""
    return lines(A_HEAD, *rows)


def inv(*extra: str) -> bytes:
    """The sample ERP invoices with extra rows (the first extra row is line 121)."""
    return lines(I_HEAD, *I_ROWS, *extra)


def inv_only(*rows: str) -> bytes:
    return lines(I_HEAD, *rows)


def mapped(text: str, fn: Callable[[str], str]) -> bytes:
    return lines(*(fn(line) for line in text.splitlines()))


def spaced(line: str) -> str:
    return " " + " , ".join(line.split(",")) + "\t"


def replace_field(text: str, line: int, index: int, value: str) -> bytes:
    """`text` with field `index` of physical line `line` (1-based) set to `value`."""
    rows = text.splitlines()
    fields = rows[line - 1].split(",")
    fields[index] = value
    rows[line - 1] = ",".join(fields)
    return lines(*rows)


@dataclass(frozen=True)
class Case:
    id: str
    role: str  # 'allocations' | 'invoices'
    content: bytes
    exit: int
    line: int | None = None  # exit 1: the line the message must name
    field: str | None = None  # exit 1: the field the message must name
    says: tuple[str, ...] = ()  # exit 1: substrings of the message (what is wrong, what to do)
    findings: tuple[str, ...] = ()  # exit 0: finding codes that must be in findings.csv
    no_findings: tuple[str, ...] = ()  # exit 0: finding codes that must not be
    same: bool = False  # exit 0: exports byte-identical to the clean sample's
    name: str = "input.csv"
    not_says: tuple[str, ...] = ()  # exit 1: text the message must not quote
    xfail: str = ""  # the spec's outcome, not yet the code's: who implements it (or the bug)


A, I = "allocations", "invoices"  # noqa: E741 - short names keep the table readable
LQ = "04595257,07,10312,LQ,00500000,00500049,53567686,,"  # the first sample allocation row
MB = "53567686,07,10312,MB,02034200,02034299,,,"  # a sample row: line 8 of allocations.csv
ERP = I_ROWS[-1]  # a sample invoice: LQ00500099 … of the branch 04595257

CASES = [
    # --- allocations: the file as a whole -------------------------------------------------
    Case("a-empty-file", A, b"", 1, says=("no allocation rows: the file is empty",)),
    Case("a-blank-lines-only", A, b"  \r\n\n \n", 1, says=("the file is empty",)),
    Case("a-header-only", A, lines(A_HEAD), 1, says=("only a header",)),
    Case("a-missing-column", A, mapped(ALLOCATIONS, lambda s: s.rsplit(",", 4)[0]), 1, line=1,
         says=("missing column(s) end_no", "the header must be")),
    Case("a-extra-column", A, mapped(ALLOCATIONS, lambda s: s + ",x"), 1, line=1, field="x",
         says=("unknown column(s) 'x'", "correct the name or remove the column")),
    Case("a-misspelt-optional-column", A, ALLOCATIONS.replace("reported_by", "reportedby")
         .encode(), 1, line=1, field="reportedby", says=("unknown column",)),
    Case("a-renamed-column", A, ALLOCATIONS.replace("begin_no", "start_no").encode(), 1, line=1,
         says=("missing column(s) begin_no", "start_no")),
    Case("a-column-twice", A, ALLOCATIONS.replace("machine", "track").encode(), 1, line=1,
         field="track", says=("appears twice",)),
    Case("a-semicolons", A, ALLOCATIONS.replace(",", ";").encode(), 1, line=1,
         says=("semicolon", "comma-separated")),
    Case("a-tabs", A, ALLOCATIONS.replace(",", "\t").encode(), 1, line=1,
         says=("separated by tab", "comma-separated")),
    # --- allocations: encodings ------------------------------------------------------------
    Case("a-utf8-bom", A, codecs.BOM_UTF8 + ALLOCATIONS.encode(), 0, same=True),
    Case("a-utf16-bom", A, ALLOCATIONS.encode("utf-16"), 0, same=True),
    Case("a-utf16-no-bom", A, ALLOCATIONS.encode("utf-16-le"), 1, line=1,
         says=("NUL characters", "UTF-16", "save it as UTF-8")),
    Case("a-mof-download-big5", A, MOF_DOWNLOAD.encode("cp950"), 0,
         findings=("outside-allocation",)),
    Case("a-mof-download-utf8-bom", A, codecs.BOM_UTF8 + MOF_DOWNLOAD.encode(), 0),
    Case("a-big5-machine-name", A, ALLOCATIONS.replace("POS-1", "收銀機1").encode("cp950"), 0),
    Case("a-undecodable-bytes", A, alloc() + b"53567686,07,10312,MB,\xff\xfe,x\n", 1,
         line=10, says=("neither valid UTF-8 nor valid Big5/cp950", "save the file as UTF-8")),
    Case("a-bom-then-bad-utf8", A, codecs.BOM_UTF8 + alloc() + b"53567686,07,10312,\xe6\x97,0,0\n",
         1, line=10,
         says=("UTF-8 byte-order mark", "not valid UTF-8")),
    Case("a-replacement-characters", A, alloc("53567686,07,10312,M\ufffd,02034300,02034349,,,"),
         1, line=10, says=("replacement characters", "export the file again")),
    # --- allocations: values -----------------------------------------------------------------
    Case("a-ban-check-digit", A, alloc_only(MB.replace("53567686", "53567687")), 1, line=2,
         field="ban", says=("53567687", "check digit")),
    Case("a-head-ban-check-digit", A, alloc_only(LQ.replace(",53567686,", ",53567687,")), 1,
         line=2, field="head_ban", says=("check digit",)),
    Case("a-ban-leading-zero-dropped", A, alloc_only(LQ.replace("04595257", "4595257", 1)), 1,
         line=2, field="ban", says=("7 digits", "dropped leading zeros")),
    Case("a-7-digit-number", A, alloc_only(MB.replace("02034200", "2034200")), 1, line=2,
         field="begin_no", says=("7 digits", "leading zeros", "format the column as text")),
    Case("a-9-digit-number", A, alloc_only(MB.replace("02034299", "020342999")), 1, line=2,
         field="end_no", says=("9 digits", "remove the extra digit")),
    Case("a-scientific-notation", A, alloc_only(MB.replace("02034200", "2.03E+06")), 1, line=2,
         field="begin_no", says=("scientific notation", "format the column as text")),
    Case("a-decimal-number", A, alloc_only(MB.replace("02034299", "2034299.0")), 1, line=2,
         field="end_no", says=("decimal number",)),
    Case("a-track-in-number", A, alloc_only(MB.replace("02034200", "MB02034200")), 1, line=2,
         field="begin_no", says=("includes the track letters",)),
    Case("a-lower-case-track", A, alloc_only(MB.replace(",MB,", ",mb,")), 1, line=2,
         field="track", says=("not upper-case", "'MB'")),
    Case("a-3-letter-track", A, alloc_only(MB.replace(",MB,", ",MBX,")), 1, line=2,
         field="track", says=("3 letters",)),
    Case("a-odd-month", A, alloc_only(MB.replace("10312", "10311")), 1, line=2, field="period",
         says=("even end month",)),
    Case("a-4-digit-period", A, alloc_only(MB.replace("10312", "1312")), 1, line=2,
         field="period", says=("dropped the leading zero",)),
    Case("a-7-digit-period", A, alloc_only(MB.replace("10312", "1031212")), 1, line=2,
         field="period", says=("5-digit code",)),
    Case("a-gregorian-period", A, alloc_only(MB.replace("10312", "201412")), 1, line=2,
         field="period", says=("ROC year",)),
    Case("a-period-across-years", A,
         lines("53567686,07,一般稅額計算,113/12~114/01,MB,02034200,02034299"), 1, line=1,
         field="period", says=("113/12~114/01", "two months of one ROC year")),
    Case("a-begin-after-end", A, alloc_only(MB.replace("02034200,02034299", "02034299,02034200")),
         1, line=2, field="end_no", says=("below begin", "發票迄號必須大於或等於起號")),
    Case("a-unknown-invoice-type", A, alloc_only(MB.replace(",07,", ",09,")), 1, line=2,
         field="invoice_type", says=("07", "08")),
    Case("a-type-7-accepted", A, ALLOCATIONS.replace(",07,", ",7,").encode(), 0, same=True),
    Case("a-ragged-row", A, alloc("53567686,07,10312,MB,02034300,02034349,,,,x"), 1, line=10,
         says=("expected 9 fields, found 10",)),
    Case("a-unclosed-quote", A, alloc('53567686,07,10312,"MB,02034300,02034349,,,'), 1, line=10,
         says=("never closed",)),
    Case("a-not-parquet", A, b"PAR1 but not Parquet", 1, says=("cannot read the Parquet file",)),
    Case("a-other-period-only", A, alloc_only(MB.replace("10312", "10310")), 1, field="period",
         says=("no allocation of period 10312", "periods present: 10310")),
    # --- allocations: readable, with anomalies -> findings --------------------------------
    Case("a-overlap", A, alloc("53567686,07,10312,MB,02034250,02034349,,,"), 0,
         findings=("allocation-overlap",)),
    Case("a-overlap-other-ban", A, alloc("04595257,07,10312,MB,02034250,02034349,53567686,,"),
         0, findings=("allocation-overlap",)),
    Case("a-duplicate-row", A, alloc(MB), 0, same=True, findings=("allocation-duplicate",),
         no_findings=("allocation-overlap",)),
    Case("a-misaligned", A, alloc("53567686,07,10312,ZZ,00000003,00000047,,,"), 0,
         findings=("allocation-misaligned",)),
    Case("a-overlap-other-type", A, alloc("53567686,08,10312,MB,02034250,02034349,,,"), 1,
         line=10, field="invoice_type", says=("shares numbers", "a number has one invoice type")),
    Case("a-two-head-offices", A, alloc("53567686,07,10312,MB,02034300,02034349,04595257,,"),
         1, line=10, field="head_ban", says=("head office", "correct head_ban")),
    Case("a-whitespace-around-fields", A, mapped(ALLOCATIONS, spaced), 0, same=True),
    Case("a-crlf", A, ALLOCATIONS.replace("\n", "\r\n").encode(), 0, same=True),
    Case("a-bare-cr", A, ALLOCATIONS.replace("\n", "\r").encode(), 0, same=True),
    # --- allocations: formula injection -------------------------------------------------------
    Case("a-formula-in-machine", A, alloc(f"53567686,07,10312,ZZ,00000000,00000049,,{FORMULA},"),
         0),
    Case("a-formula-in-reported-by", A,
         alloc(f"53567686,07,10312,ZZ,00000000,00000049,,,{FORMULA}"), 0,
         findings=("reported-elsewhere",)),
    Case("a-formula-in-track", A, alloc_only(MB.replace(",MB,", f",{FORMULA},")), 1, line=2,
         field="track", says=("not 2 upper-case letters",)),
    Case("a-formula-in-ban", A, alloc_only(MB.replace("53567686", "=1+1")), 1, line=2,
         field="ban", says=("not 8 digits",)),
    Case("a-formula-in-number", A, alloc_only(MB.replace("02034200", "@SUM(1)")), 1, line=2,
         field="begin_no"),
    # --- invoices: the file as a whole ------------------------------------------------------
    Case("i-empty-file", I, b"", 1, says=("the file is empty: no header",)),
    Case("i-bom-only", I, codecs.BOM_UTF8, 1, says=("the file is empty",)),
    # A header and no row: no invoices, and a no-invoices finding (issue 15).
    Case("i-header-only", I, lines(I_HEAD), 0, findings=("no-invoices",)),
    Case("i-missing-column", I, INVOICES.replace("seller_ban", "seller").encode(), 1, line=1,
         says=("missing column(s) seller_ban", "the header must be")),
    Case("i-extra-column", I, mapped(INVOICES, lambda s: s + ",x"), 1, line=1, field="x",
         says=("unknown column(s) 'x'",)),
    Case("i-misspelt-optional-column", I, INVOICES.replace("upload_status", "uploadstatus")
         .encode(), 1, line=1, field="uploadstatus", says=("unknown column",)),
    Case("i-renamed-column", I, INVOICES.replace("status", "state", 1).encode(), 1, line=1,
         says=("missing column(s) status",)),
    Case("i-column-twice", I, INVOICES.replace("machine", "status", 1).encode(), 1, line=1,
         field="status", says=("appears twice",)),
    Case("i-semicolons", I, INVOICES.replace(",", ";").encode(), 1, line=1, says=("semicolon",)),
    Case("i-tabs", I, INVOICES.replace(",", "\t").encode(), 1, line=1, says=("tab",)),
    # --- invoices: encodings -----------------------------------------------------------------
    Case("i-utf8-bom", I, codecs.BOM_UTF8 + INVOICES.encode(), 0, same=True),
    Case("i-utf16-bom", I, INVOICES.encode("utf-16"), 0, same=True),
    Case("i-utf16-no-bom", I, INVOICES.encode("utf-16-be"), 1, line=1, says=("NUL characters",)),
    Case("i-big5-chinese-statuses", I, INVOICES.replace(",issued,", ",開立,").encode("cp950"), 0,
         same=True),
    Case("i-undecodable-bytes", I, inv() + b"LQ00500099,\xff\xfe\xfd,x,y,,\n", 1,
         line=121, says=("neither valid UTF-8 nor valid Big5/cp950",)),
    Case("i-nul-byte", I, inv() + b"\x00\n", 1, line=121, says=("NUL characters",)),
    # --- invoices: values -------------------------------------------------------------------
    Case("i-ban-check-digit", I, replace_field(INVOICES, 2, 2, "04595258"), 1, line=2,
         field="seller_ban", says=("04595258", "check digit")),
    Case("i-ban-leading-zero-dropped", I, replace_field(INVOICES, 3, 2, "4595257"), 1, line=3,
         field="seller_ban", says=("7 digits", "dropped leading zeros")),
    Case("i-ban-scientific-notation", I, replace_field(INVOICES, 4, 2, "4.60E+06"), 1, line=4,
         field="seller_ban", says=("scientific notation",)),
    Case("i-7-digit-number", I, replace_field(INVOICES, 2, 0, "LQ0500000"), 1, line=2,
         field="invoice_number", says=("9 characters", "dropped leading zeros")),
    Case("i-9-digit-number", I, replace_field(INVOICES, 2, 0, "LQ005000000"), 1, line=2,
         field="invoice_number", says=("11 characters",)),
    Case("i-lower-case-track", I, replace_field(INVOICES, 2, 0, "lq00500000"), 1, line=2,
         field="invoice_number", says=("not upper-case", "'LQ'")),
    Case("i-3-letter-track", I, replace_field(INVOICES, 2, 0, "LQX0500000"), 1, line=2,
         field="invoice_number", says=("last 8 characters are not digits",)),
    Case("i-impossible-date", I, replace_field(INVOICES, 2, 1, "2024-02-30"), 1, line=2,
         field="invoice_date", says=("not a real calendar date", "YYYY-MM-DD")),
    Case("i-roc-date", I, replace_field(INVOICES, 2, 1, "103/11/01"), 1, line=2,
         field="invoice_date", says=("ROC",)),
    Case("i-slash-date", I, replace_field(INVOICES, 2, 1, "2014/11/01"), 1, line=2,
         field="invoice_date", says=("not YYYY-MM-DD or YYYYMMDD",)),
    Case("i-compact-date", I, replace_field(INVOICES, 2, 1, "20141101"), 0, same=True),
    Case("i-unknown-status", I, replace_field(INVOICES, 2, 3, "printed"), 1, line=2,
         field="status", says=("'printed'", "issued, cancelled or voided")),
    Case("i-empty-status", I, replace_field(INVOICES, 2, 3, ""), 1, line=2, field="status",
         says=("status is empty",)),
    Case("i-unknown-upload-status", I, replace_field(INVOICES, 2, 5, "maybe"), 1, line=2,
         field="upload_status", says=("'maybe'", "leave it empty")),
    Case("i-upper-case-status", I, INVOICES.replace(",issued,", ",ISSUED,").encode(), 0,
         same=True),
    Case("i-ragged-row", I, inv(ERP + ",x"), 1, line=121, says=("expected 6 fields",)),
    Case("i-unclosed-quote", I, inv('"LQ00500099,2014-12-01,04595257,issued,,'), 1, line=121,
         says=("never closed",)),
    Case("i-not-parquet", I, b"PAR1 but not Parquet", 1, says=("cannot read the Parquet file",)),
    # --- invoices: readable, with anomalies -> findings ------------------------------------
    Case("i-duplicate-rows", I, inv(ERP), 0, findings=("duplicate-number",)),
    Case("i-outside-allocation", I, inv("ZZ00500099,2014-12-01,04595257,issued,,"), 0,
         findings=("outside-allocation",)),
    Case("i-upload-failed", I, inv("LQ00500099,2014-12-01,04595257,issued,,failed"), 0,
         findings=("upload-failed",)),
    Case("i-whitespace-around-fields", I, mapped(INVOICES, spaced), 0, same=True),
    Case("i-crlf", I, INVOICES.replace("\n", "\r\n").encode(), 0, same=True),
    Case("i-bare-cr", I, INVOICES.replace("\n", "\r").encode(), 0, same=True),
    Case("i-blank-lines", I, INVOICES.replace("\n", "\n\n", 5).encode(), 0, same=True),
    # --- invoices: formula injection ----------------------------------------------------------
    Case("i-formula-in-machine", I, inv(f"ZZ00500099,2014-12-01,04595257,issued,{FORMULA},"), 0,
         findings=("outside-allocation",)),
    Case("i-formula-in-number", I, replace_field(INVOICES, 2, 0, FORMULA), 1, line=2,
         field="invoice_number"),
    Case("i-formula-in-status", I, replace_field(INVOICES, 2, 3, "=1+1"), 1, line=2,
         field="status"),
    Case("i-formula-in-upload-status", I, replace_field(INVOICES, 2, 5, "@SUM(A1)"), 1, line=2,
         field="upload_status"),
    Case("i-formula-in-date", I, replace_field(INVOICES, 2, 1, "+2014-11-01"), 1, line=2,
         field="invoice_date"),
]

# --------------------------------------------------------------------------------------------
# The sweep, field by field: one value of one field of one sample row changed to what a hostile
# or careless user (or their spreadsheet) writes. Allocations: the MB row, line 8 of the sample;
# invoices: line 2 of the ERP export (LQ00500000 of the branch 04595257).

ALLOC_FIELDS = ("ban", "invoice_type", "period", "track", "begin_no", "end_no", "head_ban")
INVOICE_FIELDS = ("invoice_number", "invoice_date", "seller_ban", "status", "machine",
                  "upload_status")
SPREADSHEET = "format the column as text"

# (id, field, value, what the message must say) — each refused: exit 1, file:8, the field.
ALLOC_REFUSED = [
    ("ban-empty", "ban", "", ("BAN is empty",)),
    ("ban-decimal", "ban", "53567686.0", ("decimal number", SPREADSHEET)),
    ("ban-scientific", "ban", "5.36E+07", ("scientific notation", SPREADSHEET)),
    ("ban-inner-space", "ban", "5356 7686", ("not 8 digits",)),
    ("ban-full-width", "ban", "５３５６７６８６", ("not 8 digits",)),
    ("ban-dash", "ban", "53-567686", ("not 8 digits",)),
    ("ban-negative", "ban", "-53567686", ("not 8 digits",)),
    ("ban-apostrophe", "ban", "'53567686", ("not 8 digits",)),
    ("ban-zero-width-space", "ban", "53567686\u200b", ("not 8 digits",)),
    ("ban-9-digits", "ban", "535676860", ("9 digits", "remove the extra digit")),
    ("ban-letters", "ban", "SS567686", ("not 8 digits",)),
    ("ban-new-rule-typo", "ban", "04595253", ("fails the check digit", "typing error")),
    ("type-decimal", "invoice_type", "7.0", ("not 07", "write 07 or 08")),
    ("type-full-width", "invoice_type", "０７", ("not 07",)),
    ("type-letter-o", "invoice_type", "O7", ("not 07",)),
    ("type-empty", "invoice_type", "", ("invoice type is empty",)),
    ("type-negative", "invoice_type", "-7", ("not 07",)),
    ("type-1", "invoice_type", "1", ("not 07",)),
    ("type-3-digits", "invoice_type", "007", ("not 07",)),
    ("type-070", "invoice_type", "070", ("not 07",)),
    ("period-chinese", "period", "103年11-12月", ("not a 5-digit code",)),
    ("period-decimal", "period", "10312.0", ("not a 5-digit code",)),
    ("period-scientific", "period", "1.03E+04", ("not a 5-digit code",)),
    ("period-full-width-digit", "period", "103１2", ("not a 5-digit code",)),
    ("period-empty", "period", "", ("period is empty",)),
    ("period-dash", "period", "103-12", ("not a 5-digit code",)),
    ("period-month-00", "period", "10300", ("month 00", "even end month")),
    ("period-month-14", "period", "10314", ("month 14",)),
    ("period-year-000", "period", "00012", ("ROC year must be at least 001",)),
    ("period-negative", "period", "-10312", ("not a 5-digit code",)),
    ("period-one-month", "period", "103/11", ("113/03 ~ 113/04",)),
    ("period-span-reversed", "period", "103/12~103/11", ("two consecutive months",)),
    ("period-gregorian-span", "period", "2014/11~2014/12", ("113/03 ~ 113/04",)),
    ("track-full-width", "track", "ＭＢ", ("not 2 upper-case letters A–Z",)),
    ("track-cyrillic", "track", "МВ", ("not 2 upper-case letters A–Z",)),
    ("track-greek", "track", "ΜΒ", ("not 2 upper-case letters A–Z",)),
    ("track-inner-space", "track", "M B", ("not 2 upper-case letters",)),
    ("track-digit", "track", "1B", ("not 2 upper-case letters",)),
    ("track-empty", "track", "", ("track is empty",)),
    ("track-mixed-case", "track", "Mb", ("not upper-case", "'MB'")),
    ("track-1-letter", "track", "M", ("1 letters",)),
    ("track-apostrophe", "track", "'MB", ("not 2 upper-case letters",)),
    ("track-zero-width-space", "track", "MB\u200b", ("not 2 upper-case letters",)),
    ("begin-empty", "begin_no", "", ("begin number is empty",)),
    ("begin-space-only", "begin_no", " ", ("begin number is empty",)),
    ("begin-full-width", "begin_no", "０２０３４２００", ("not 8 digits",)),
    ("begin-apostrophe", "begin_no", "'02034200", ("not 8 digits",)),
    ("begin-negative", "begin_no", "-2034200", ("not 8 digits",)),
    ("begin-negative-8", "begin_no", "-02034200", ("not 8 digits",)),
    ("begin-plus", "begin_no", "+2034200", ("not 8 digits",)),
    ("begin-scientific-4", "begin_no", "2.0342E+06", ("scientific notation", SPREADSHEET)),
    ("begin-scientific-lower", "begin_no", "1e5", ("scientific notation",)),
    ("begin-decimal", "begin_no", "2034200.0", ("decimal number", SPREADSHEET)),
    ("begin-thousands", "begin_no", '"02,034,200"', ("not 8 digits",)),
    ("begin-huge", "begin_no", "99999999999999999999", ("20 digits", "remove the extra")),
    ("begin-hex", "begin_no", "0x1F0000", ("not 8 digits",)),
    ("begin-letter-o", "begin_no", "02O34200", ("not 8 digits",)),
    ("begin-excel-formula", "begin_no", '"=""02034200"""', ("not 8 digits",)),
    ("begin-zero-width-space", "begin_no", "\u200b02034200", ("not 8 digits",)),
    ("begin-inner-space", "begin_no", "0203 4200", ("not 8 digits",)),
    ("begin-9-digits", "begin_no", "002034200", ("9 digits",)),
    ("begin-nan", "begin_no", "NaN", ("not 8 digits",)),
    ("begin-null", "begin_no", "null", ("not 8 digits",)),
    ("end-empty", "end_no", "", ("end number is empty",)),
    ("end-full-width", "end_no", "０２０３４２９９", ("not 8 digits",)),
    ("end-negative", "end_no", "-2034299", ("not 8 digits",)),
    ("end-scientific", "end_no", "2.0343E+06", ("scientific notation",)),
    ("end-7-digits", "end_no", "2034299", ("7 digits", SPREADSHEET)),
    ("end-one-below-begin", "end_no", "02034199", ("below begin number", "發票迄號必須大於或等於起號")),
    ("head-ban-fails-check-digit", "head_ban", "53567687", ("head office BAN", "check digit")),
    ("head-ban-7-digits", "head_ban", "4595257", ("7 digits", SPREADSHEET)),
    ("head-ban-full-width", "head_ban", "５３５６７６８６", ("not 8 digits",)),
    ("head-ban-decimal", "head_ban", "53567686.0", ("decimal number",)),
    ("head-ban-text", "head_ban", "HQ", ("not 8 digits",)),
]

# (id, field, value, same, findings): accepted; `same`: the exports do not change at all.
ALLOC_ACCEPTED = [
    ("type-7", "invoice_type", "7", True, ()),
    ("period-span", "period", "103/11~103/12", True, ()),
    ("period-span-spaced", "period", "103/11 ~ 103/12", True, ()),
    ("track-spaces", "track", " MB ", True, ()),
    ("begin-no-break-space", "begin_no", "\u00a002034200", True, ()),
    ("begin-ideographic-space", "begin_no", "02034200\u3000", True, ()),
    ("begin-quoted", "begin_no", '"02034200"', True, ()),
    ("end-single-number", "end_no", "02034200", False, ("allocation-misaligned",)),  # begin = end
    ("head-ban-itself", "head_ban", "53567686", True, ()),  # the head office is the BAN itself
]

INVOICE_REFUSED = [
    ("number-empty", "invoice_number", "", ("invoice number is empty",)),
    ("number-inner-space", "invoice_number", "LQ 00500000", ("11 characters",)),
    ("number-dash", "invoice_number", "LQ-00500000", ("11 characters",)),
    ("number-full-width-track", "invoice_number", "ＬＱ00500000", ("not 2 upper-case letters",)),
    ("number-full-width-digits", "invoice_number", "LQ００５０００００", ("not digits",)),
    ("number-cyrillic-track", "invoice_number", "ЛQ00500000", ("not 2 upper-case letters",)),
    ("number-letter-o", "invoice_number", "LQ0050000O", ("not digits",)),
    ("number-apostrophe", "invoice_number", "'LQ00500000", ("11 characters",)),
    ("number-excel-formula", "invoice_number", '"=""LQ00500000"""', ("13 characters",)),
    ("number-zero-width-space", "invoice_number", "LQ00500000\u200b", ("11 characters",)),
    ("number-mixed-case", "invoice_number", "lQ00500000", ("not upper-case", "'LQ'")),
    ("number-scientific", "invoice_number", "LQ5.00E+05", ("not digits",)),
    ("number-no-track", "invoice_number", "00500000", ("8 characters", "leading zeros")),
    ("number-track-only", "invoice_number", "LQ", ("2 characters",)),
    ("number-twice", "invoice_number", "LQ00500000LQ00500000", ("20 characters",)),
    ("number-negative", "invoice_number", "LQ-0500000", ("not digits",)),
    ("date-day-31-of-30", "invoice_date", "2014-11-31", ("not a real calendar date",)),
    ("date-month-13", "invoice_date", "2014-13-01", ("not a real calendar date",)),
    ("date-month-00", "invoice_date", "2014-00-10", ("not a real calendar date",)),
    ("date-feb-29-common-year", "invoice_date", "2014-02-29", ("not a real calendar date",)),
    ("date-compact-month-13", "invoice_date", "20141301", ("not a real calendar date",)),
    ("date-2-digit-year", "invoice_date", "14-11-01", ("not YYYY-MM-DD or YYYYMMDD",)),
    ("date-1-digit-day", "invoice_date", "2014-11-1", ("not YYYY-MM-DD",)),
    ("date-1-digit-month", "invoice_date", "2014-1-01", ("not YYYY-MM-DD",)),
    ("date-roc-compact", "invoice_date", "1031101", ("ROC (民國)", "Gregorian")),
    ("date-with-time", "invoice_date", "2014-11-01T10:00:00", ("not YYYY-MM-DD",)),
    ("date-with-space-time", "invoice_date", "2014-11-01 10:00:00", ("not YYYY-MM-DD",)),
    ("date-excel-serial", "invoice_date", "41944", ("not YYYY-MM-DD",)),
    ("date-empty", "invoice_date", "", ("invoice date is empty",)),
    ("date-full-width", "invoice_date", "２０１４-11-01", ("not YYYY-MM-DD",)),
    ("date-dots", "invoice_date", "2014.11.01", ("not YYYY-MM-DD",)),
    ("date-us-order", "invoice_date", "11/01/2014", ("not YYYY-MM-DD",)),
    ("date-negative", "invoice_date", "-2014-11-01", ("not YYYY-MM-DD",)),
    ("date-9-digits", "invoice_date", "201411011", ("not YYYY-MM-DD",)),
    ("ban-empty", "seller_ban", "", ("seller BAN is empty",)),
    ("ban-decimal", "seller_ban", "04595257.0", ("decimal number", SPREADSHEET)),
    ("ban-full-width", "seller_ban", "０４５９５２５７", ("not 8 digits",)),
    ("ban-inner-space", "seller_ban", "0459 5257", ("not 8 digits",)),
    ("ban-apostrophe", "seller_ban", "'04595257", ("not 8 digits",)),
    ("ban-negative", "seller_ban", "-4595257", ("not 8 digits",)),
    ("ban-9-digits", "seller_ban", "045952570", ("9 digits",)),
    ("status-issue", "status", "issue", ("'issue'", "use one of those words")),
    ("status-cancel", "status", "cancel", ("'cancel'",)),
    ("status-us-spelling", "status", "canceled", ("'canceled'",)),
    ("status-void", "status", "void", ("'void'",)),
    ("status-platform-wording", "status", "開立已確認", ("'開立已確認'",)),
    ("status-0", "status", "0", ("'0'",)),
    ("status-chinese-other", "status", "已開立", ("'已開立'",)),
    ("status-zero-width-space", "status", "ISSUED\u200b", ("is not one of",)),
    ("upload-fail", "upload_status", "fail", ("'fail'", "leave it empty")),
    ("upload-ok", "upload_status", "ok", ("'ok'",)),
    ("upload-0", "upload_status", "0", ("'0'",)),
    ("upload-chinese-success", "upload_status", "成功", ("'成功'",)),
    ("upload-chinese-failure", "upload_status", "失敗", ("'失敗'",)),
]

INVOICE_ACCEPTED = [
    ("status-title-case", "status", "Issued", True, ()),
    ("status-spaces", "status", " issued ", True, ()),
    ("status-chinese-space", "status", "開立 ", True, ()),
    ("status-cancelled-upper", "status", "CANCELLED", False, ()),
    ("status-chinese-cancelled", "status", "作廢", False, ()),
    ("status-chinese-voided", "status", "註銷", False, ("void-not-reissued",)),
    ("date-trailing-space", "invoice_date", "2014-11-01 ", True, ()),
    ("number-no-break-space", "invoice_number", "\u00a0LQ00500000", True, ()),
    ("upload-accepted-upper", "upload_status", "ACCEPTED", True, ()),
    ("upload-failed-title", "upload_status", "Failed", False, ("upload-failed",)),
    ("upload-failed-spaced", "upload_status", " failed", False, ("upload-failed",)),
    ("machine-chinese", "machine", "收銀機1", False, ()),
    ("machine-formula", "machine", "=1+1", False, ()),
    ("machine-formula-plus", "machine", "+1+1", False, ()),
    ("machine-formula-minus", "machine", "-1+1", False, ()),
    ("machine-formula-at", "machine", "@SUM(A1)", False, ()),
    ("machine-formula-tab", "machine", '"\t=1+1"', False, ()),
    ("machine-hyperlink", "machine", '"=HYPERLINK(""http://x"",""y"")"', False, ()),
    ("machine-long", "machine", "x" * 300, False, ()),
    ("machine-zero-width-space", "machine", "ERP\u200b", False, ()),
    ("machine-ansi-escape", "machine", "\x1b[2J", False, ()),
    ("ban-head-office", "seller_ban", "53567686", False, ("outside-allocation",)),
    ("date-last-day-of-period", "invoice_date", "2014-12-31", True, ()),
]


SWEEP = [
    *(Case(f"a-{id_}", A, replace_field(ALLOCATIONS, 8, ALLOC_FIELDS.index(field), value), 1,
           line=8, field=field, says=says) for id_, field, value, says in ALLOC_REFUSED),
    *(Case(f"a-ok-{id_}", A, replace_field(ALLOCATIONS, 8, ALLOC_FIELDS.index(field), value), 0,
           same=same, findings=findings) for id_, field, value, same, findings in ALLOC_ACCEPTED),
    *(Case(f"i-{id_}", I, replace_field(INVOICES, 2, INVOICE_FIELDS.index(field), value), 1,
           line=2, field=field, says=says) for id_, field, value, says in INVOICE_REFUSED),
    *(Case(f"i-ok-{id_}", I, replace_field(INVOICES, 2, INVOICE_FIELDS.index(field), value), 0,
           same=same, findings=findings)
      for id_, field, value, same, findings in INVOICE_ACCEPTED),
]


def quoted(line: str) -> str:
    return ",".join(f'"{v}"' for v in line.split(","))


def permuted(text: str) -> bytes:
    """The same table with its columns in reverse order."""
    return lines(*(",".join(reversed(line.split(","))) for line in text.splitlines()))


def parquet(text: str, **casts: pl.DataType) -> bytes:
    frame = pl.read_csv(io.StringIO(text), infer_schema=False)
    frame = frame.with_columns(pl.col(name).cast(dtype) for name, dtype in casts.items())
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    return buffer.getvalue()


def parquet_dates(text: str, dtype: pl.DataType) -> bytes:
    frame = pl.read_csv(io.StringIO(text), infer_schema=False)
    buffer = io.BytesIO()
    frame.with_columns(pl.col("invoice_date").str.to_datetime("%Y-%m-%d").cast(dtype)
                       ).write_parquet(buffer)
    return buffer.getvalue()


MOF_ROWS = MOF_DOWNLOAD.splitlines()
MOF_MB = "53567686,07,一般稅額計算,103/11 ~ 103/12,MB,02034300,02034349"  # a further booklet

FILES = [
    # --- the file as a whole: layout, line ends, stray rows --------------------------------------
    Case("a-trailing-comma-rows", A, alloc(",,,,,,,,", ",,,,,,,,"), 0, same=True),
    Case("i-trailing-comma-rows", I, inv(",,,,,", ",,,,,"), 0, same=True),
    Case("a-excel-sep-line", A, lines("sep=,", ALLOCATIONS), 1, line=1,
         says=("missing column(s) ban",)),
    Case("i-excel-sep-line", I, lines("sep=,", INVOICES), 1, line=1,
         says=("missing column(s) invoice_number",)),
    Case("a-upper-case-header", A, lines(A_HEAD.upper(), *A_ROWS), 0, same=True),
    Case("i-upper-case-header", I, lines(I_HEAD.upper(), *I_ROWS), 0, same=True),
    Case("a-spaced-header", A, lines(A_HEAD.replace(",", " , "), *A_ROWS), 0, same=True),
    Case("i-spaced-header", I, lines(I_HEAD.replace(",", " , "), *I_ROWS), 0, same=True),
    Case("a-every-value-quoted", A, mapped(ALLOCATIONS, quoted), 0, same=True),
    Case("i-every-value-quoted", I, mapped(INVOICES, quoted), 0, same=True),
    Case("a-columns-reordered", A, permuted(ALLOCATIONS), 0, same=True),
    Case("i-columns-reordered", I, permuted(INVOICES), 0, same=True),
    Case("a-rows-reversed", A, lines(A_HEAD, *reversed(A_ROWS)), 0, same=True),
    Case("i-rows-reversed", I, lines(I_HEAD, *reversed(I_ROWS)), 0, same=True),
    Case("i-rows-interleaved", I, lines(I_HEAD, *I_ROWS[1::2], *I_ROWS[::2]), 0, same=True),
    Case("a-header-repeated", A, lines(A_HEAD, *A_ROWS[:3], A_HEAD, *A_ROWS[3:]), 1, line=5,
         field="ban", says=("BAN 'ban' is not 8 digits",)),
    Case("i-header-repeated", I, lines(I_HEAD, *I_ROWS[:3], I_HEAD, *I_ROWS[3:]), 1, line=5,
         field="invoice_number", says=("'invoice_number'",)),
    Case("a-no-final-newline", A, alloc()[:-1], 0, same=True),
    Case("i-no-final-newline", I, inv()[:-1], 0, same=True),
    Case("a-trailing-blank-lines", A, alloc() + b"\n\n\n", 0, same=True),
    Case("i-trailing-blank-lines", I, inv() + b"\n\n\n", 0, same=True),
    Case("i-trailing-whitespace-lines", I, inv() + b"   \n\t\n", 0, same=True),
    Case("a-trailing-crlf-lines", A, ALLOCATIONS.replace("\n", "\r\n").encode() + b"\r\n\r\n",
         0, same=True),
    Case("i-mixed-line-ends", I, lines(*(r + ("\r" if k % 2 else "") for k, r in
                                         enumerate(INVOICES.splitlines()))), 0, same=True),
    Case("a-blank-lines-between", A, ALLOCATIONS.replace("\n", "\n\n").encode(), 0, same=True),
    Case("a-only-crlf-lines", A, b"\r\n\r\n", 1, says=("the file is empty",)),
    Case("i-only-spaces", I, b"   \n   \n", 1, says=("the file is empty",)),
    Case("i-header-only-crlf", I, (I_HEAD + "\r\n").encode(), 0, findings=("no-invoices",)),
    Case("i-header-and-blank-row", I, (I_HEAD + "\n   \n").encode(), 0,
         findings=("no-invoices",)),
    Case("a-top-of-number-range", A, alloc("53567686,07,10312,ZY,99999950,99999999,,,"), 0),
    Case("a-bottom-of-number-range", A, alloc("53567686,07,10312,ZY,00000000,00000049,,,"), 0),
    Case("a-formula-in-reported-by-plus", A,
         alloc("53567686,07,10312,ZY,00000000,00000049,,,+cmd|' /C calc'!A0"), 0,
         findings=("reported-elsewhere",)),
    Case("a-formula-in-machine-at", A, alloc("53567686,07,10312,ZY,00000000,00000049,,@x,"), 0),
    Case("a-very-long-machine", A, alloc(f"53567686,07,10312,ZY,00000000,00000049,,{'P' * 100_000},"),
         0),
    Case("i-very-long-machine", I, inv(f"ZZ00500099,2014-12-01,04595257,issued,{'x' * 100_000},"),
         0, findings=("outside-allocation",)),
    Case("i-newline-in-quoted-machine", I, inv('ZZ00500099,2014-12-01,04595257,issued,"PO\nS",'),
         0, findings=("outside-allocation",)),
    Case("i-quote-inside-value", I, inv('LQ00500099,2014-12-01,04595257,issued,PO"S,'), 1,
         line=121),
    Case("i-extra-empty-field", I, inv("LQ00500099,2014-12-01,04595257,issued,,,"), 1, line=121,
         says=("expected 6 fields",)),
    Case("a-short-row", A, alloc("53567686,07,10312,MB"), 1, line=10),
    Case("i-short-row", I, inv("LQ00500099,2014-12-01"), 1, line=121),
    # --- encodings --------------------------------------------------------------------------
    Case("a-utf16-be-bom", A, codecs.BOM_UTF16_BE + ALLOCATIONS.encode("utf-16-be"), 0, same=True),
    Case("i-utf16-le-bom-crlf", I, INVOICES.replace("\n", "\r\n").encode("utf-16"), 0,
         same=True),
    Case("a-utf32", A, ALLOCATIONS.encode("utf-32"), 1, line=1, says=("NUL characters",)),
    Case("i-bom-in-the-middle", I, lines(I_HEAD, *I_ROWS[:5]) + codecs.BOM_UTF8
         + lines(*I_ROWS[5:]), 1, line=7, field="invoice_number"),
    Case("i-two-boms", I, codecs.BOM_UTF8 + codecs.BOM_UTF8 + INVOICES.encode(), 0, same=True),
    Case("i-gbk-simplified-status", I, INVOICES.replace(",issued,", ",开立,").encode("gbk"), 1,
         line=2, field="status", says=("is not one of",)),
    Case("a-latin1-machine", A, ALLOCATIONS.replace("POS-1", "café").encode("latin-1"), 1,
         line=5, says=("neither valid UTF-8 nor valid Big5/cp950",)),
    Case("i-latin1-machine", I, INVOICES.replace(",ERP,", ",café,", 1).encode("latin-1"), 1,
         line=2, says=("neither valid UTF-8 nor valid Big5/cp950",)),
    Case("a-utf8-bom-on-big5", A, codecs.BOM_UTF8 + MOF_DOWNLOAD.encode("cp950"), 1, line=1,
         says=("byte-order mark",)),
    Case("i-big5-machine", I, INVOICES.replace(",ERP,", ",收銀機,").encode("cp950"), 0),
    Case("a-binary-noise", A, bytes(range(256)) * 4, 1),
    Case("a-zip-file", A, b"PK\x03\x04" + b"\x00" * 100, 1, line=1),
    Case("i-zip-file", I, b"PK\x03\x04" + b"\x00" * 100, 1, line=1),
    Case("a-html-page", A, b"<html><body>404 Not Found</body></html>\n", 1,
         not_says=("404 Not Found",)),
    Case("i-html-page", I, b"<html><body>Session expired</body></html>\n", 1,
         not_says=("Session expired",)),
    Case("a-json", A, b'[{"ban": "53567686"}]\n', 1, not_says=("53567686",)),
    # --- the MOF allocation download ---------------------------------------------------------
    Case("a-mof-no-header", A, lines(*MOF_ROWS[1:]), 0),
    Case("a-mof-crlf", A, MOF_DOWNLOAD.replace("\n", "\r\n").encode(), 0),
    Case("a-mof-no-spaces-around-tilde", A, MOF_DOWNLOAD.replace(" ~ ", "~").encode(), 0),
    Case("a-mof-type-7", A, MOF_DOWNLOAD.replace(",07,", ",7,").encode(), 0),
    Case("a-mof-more-rows", A, lines(*MOF_ROWS, MOF_MB), 0),
    Case("a-mof-other-period-row", A, lines(*MOF_ROWS, MOF_MB.replace("103/11 ~ 103/12",
                                                                      "104/01 ~ 104/02")), 0),
    Case("a-mof-6-columns", A, lines(*MOF_ROWS, MOF_MB.rsplit(",", 1)[0]), 1, line=10,
         says=("expected 7 fields, found 6",)),
    Case("a-mof-span-across-years", A, lines(*MOF_ROWS, MOF_MB.replace("103/11 ~ 103/12",
                                                                       "103/12 ~ 104/01")),
         1, line=10, field="period", says=("two consecutive months",)),
    Case("a-mof-ban-check-digit", A, lines(*MOF_ROWS, MOF_MB.replace("53567686", "53567687")),
         1, line=10, field="ban", says=("check digit",)),
    Case("a-mof-7-digit-begin", A, lines(*MOF_ROWS, MOF_MB.replace("02034300", "2034300")), 1,
         line=10, field="begin_no", says=("7 digits",)),
    Case("a-mof-lower-case-track", A, lines(*MOF_ROWS, MOF_MB.replace(",MB,", ",mb,")), 1,
         line=10, field="track", says=("not upper-case",)),
    Case("a-mof-type-9", A, lines(*MOF_ROWS, MOF_MB.replace(",07,", ",09,")), 1, line=10,
         field="invoice_type", says=("not 07",)),
    # --- Parquet ------------------------------------------------------------------------------
    Case("a-parquet", A, parquet(ALLOCATIONS), 0, same=True),
    Case("i-parquet", I, parquet(INVOICES), 0, same=True),
    Case("a-parquet-integers", A, parquet(ALLOCATIONS, ban=pl.Int64, begin_no=pl.Int64,
                                          end_no=pl.Int64, invoice_type=pl.Int64), 0, same=True),
    Case("a-parquet-float", A, parquet(ALLOCATIONS, begin_no=pl.Float64), 1, field="begin_no",
         says=("Float64", "can lose digits")),
    Case("a-parquet-missing-column", A, parquet(ALLOCATIONS.replace(",end_no", ",x")), 1,
         says=("end_no",)),
    Case("i-parquet-date-column", I, parquet_dates(INVOICES, pl.Date), 0, same=True),
    Case("i-parquet-datetime-column", I, parquet_dates(INVOICES, pl.Datetime("us")), 0,
         same=True),
    Case("i-parquet-integer-ban", I, parquet(INVOICES, seller_ban=pl.Int64), 0, same=True),
    Case("i-parquet-missing-column", I, parquet(INVOICES.replace(",status,", ",state,", 1)), 1,
         says=("missing column(s) status",)),
    Case("i-parquet-no-rows", I, parquet(I_HEAD + "\n"), 0, findings=("no-invoices",)),
    # --- dates the engine must not take silently (spec §3) -----------------------------------
    Case("i-date-year-zero", I, replace_field(INVOICES, 2, 1, "0000-11-01"), 1, line=2,
         field="invoice_date"),
    Case("i-date-far-future", I, replace_field(INVOICES, 2, 1, "9999-12-31"), 0,
         findings=("dated-far-from-period",)),
    Case("i-date-clock-reset", I, replace_field(INVOICES, 2, 1, "1970-01-01"), 0,
         findings=("dated-far-from-period",)),
    Case("i-date-next-period", I, replace_field(INVOICES, 2, 1, "2015-01-01"), 0,
         findings=("dated-outside-period",), same=True),
]

CASES += [*SWEEP, *FILES]


def reconcile(tmp_path: Path, case: Case | None, capsys: pytest.CaptureFixture[str]
              ) -> tuple[int, str, Path, list[Path]]:
    """Run one case (None: the clean sample). Returns exit code, stderr, out dir, allocations."""
    given = tmp_path / "given"
    given.mkdir()
    allocations = [SAMPLE / "allocations.csv"]
    invoices = [SAMPLE / "invoices_erp.csv", *OTHER_INVOICES]
    if case is not None:
        path = given / case.name
        path.write_bytes(case.content)
        if case.role == A:
            allocations = [path]
        else:
            invoices = [path, *OTHER_INVOICES]
    out = tmp_path / "out"
    rc = main(["reconcile", "--period", "10312", "--report-date", "2015-01-08",
               "--allocations", *map(str, allocations), "--invoices", *map(str, invoices),
               "--out-dir", str(out)])
    return rc, capsys.readouterr().err, out, allocations


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("clean") / "out"
    rc = main(["reconcile", "--period", "10312", "--report-date", "2015-01-08",
               "--allocations", str(SAMPLE / "allocations.csv"),
               "--invoices", str(SAMPLE / "invoices_erp.csv"), *map(str, OTHER_INVOICES),
               "--out-dir", str(out)])
    assert rc == 0
    return out


def exported(out: Path) -> dict[str, bytes]:
    # findings.csv and the workbook name the input file: not compared
    return {k: v for k, v in exports_of(out).items()
            if not k.endswith(("/findings.csv", ".xlsx"))}


def test_case_ids_are_unique() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))


def test_the_sweep_is_large() -> None:
    assert len(CASES) >= 250


@pytest.mark.parametrize("case", [
    pytest.param(c, id=c.id, marks=pytest.mark.xfail(strict=True, reason=c.xfail) if c.xfail
                 else ()) for c in CASES])
def test_corpus(case: Case, tmp_path: Path, clean: Path,
               capsys: pytest.CaptureFixture[str]) -> None:
    rc, err, out, allocations = reconcile(tmp_path, case, capsys)
    assert rc == case.exit, err
    if case.exit == 1:
        assert nothing_written(out), visible_files(out)
        assert [p.name for p in tmp_path.iterdir()] == ["given"]  # no staging left beside it
        assert "input error" in err
        path = str(tmp_path / "given" / case.name)
        assert path in err, err
        if case.line is not None:
            assert f"{path}:{case.line}" in err, err
        if case.field is not None:
            assert f"field '{case.field}'" in err, err
        for text in case.says:
            assert text in err, (text, err)
        for text in case.not_says:
            assert text not in err, (text, err)
        assert " — " in err  # every message says what to do
        assert "Traceback" not in err
        return
    check_outputs(out, allocations)
    codes = set(findings_of(out)["code"])
    assert set(case.findings) <= codes, codes
    assert not set(case.no_findings) & codes, codes
    if case.same:
        assert exported(out) == exported(clean)


def test_formula_text_reaches_findings_only_defused(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    case = next(c for c in CASES if c.id == "i-formula-in-machine")
    rc, _, out, _ = reconcile(tmp_path, case, capsys)
    assert rc == 0
    findings = findings_of(out)
    assert "'" + FORMULA in findings["machine"].to_list()  # shown to people, but as text
    for path in upload_files(out):
        assert b"=" not in path.read_bytes() and b"cmd" not in path.read_bytes()


# --------------------------------------------------------------------------------------------
# A very large invoice file: streamed, bounded memory.

_MEASURE = textwrap.dedent("""\
    import json, sys, threading, time
    from blanktrack import textio
    from blanktrack.cli import main

    # Peak anonymous memory (heap), sampled: ru_maxrss would also count the pages of the
    # memory-mapped input file, which are page cache, not memory the run holds.
    peak = [0]

    def sample():
        while True:
            with open("/proc/self/status") as fh:
                for line in fh:
                    if line.startswith("RssAnon:"):
                        peak[0] = max(peak[0], int(line.split()[1]))
            time.sleep(0.005)

    threading.Thread(target=sample, daemon=True).start()
    read_text = textio.read_text

    def guarded(path):
        if str(path).endswith("large.csv"):
            raise AssertionError("a large file must not be decoded in Python")
        return read_text(path)

    textio.read_text = guarded  # the streaming path never reads the whole file
    rc = main(sys.argv[1:])
    time.sleep(0.05)
    print(json.dumps({"rc": rc, "peak_mib": peak[0] / 1024}))
""")


def _measure(tmp_path: Path, which: str, invoices: Path, allocations: Path) -> dict:
    out = tmp_path / f"out-{which}"
    proc = subprocess.run(
        [sys.executable, "-c", _MEASURE, "reconcile", "--period", "10312",
         "--report-date", "2015-01-08", "--allocations", str(allocations),
         "--invoices", str(invoices), "--out-dir", str(out)],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "POLARS_MAX_THREADS": "2"},
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["rc"] == 0, proc.stderr
    check_outputs(out, [allocations])
    return result


def test_large_invoice_file_is_streamed_in_bounded_memory(tmp_path: Path) -> None:
    from blanktrack.invoices import LARGE_FILE_BYTES

    n = 2_000_000
    allocations = tmp_path / "allocations.csv"
    allocations.write_text(
        "ban,invoice_type,period,track,begin_no,end_no\n"
        f"53567686,07,10312,AA,00000000,{n + 999:08d}\n"
    )
    # 2M invoices of track AA: all used but the last 1,000 numbers and every 1,000th one.
    row = "AA{:08d},2014-11-15,53567686,issued,POS-1,accepted\n"
    large = tmp_path / "large.csv"
    with large.open("w") as fh:
        fh.write("invoice_number,invoice_date,seller_ban,status,machine,upload_status\n")
        chunk = 100_000
        for start in range(0, n, chunk):
            fh.write("".join(row.format(i) for i in range(start, start + chunk) if i % 1000))
    size = large.stat().st_size
    assert size > LARGE_FILE_BYTES
    small = tmp_path / "small.csv"
    with large.open() as src, small.open("w") as dst:
        dst.writelines(line for _, line in zip(range(20_001), src, strict=False))

    base = _measure(tmp_path, "small", small, allocations)
    big = _measure(tmp_path, "large", large, allocations)
    # Decoding the file in Python holds it four times over (bytes, text, bytes again for polars,
    # the eager frame). polars 2.1's streaming CSV source itself buffers about one copy of the
    # file (pola-rs/polars#18724, #13294), so the bound is two copies over the baseline.
    growth = big["peak_mib"] - base["peak_mib"]
    assert growth < 2 * size / 2**20, (base, big, size)
    (upload,) = upload_files(tmp_path / "out-large")
    mof = upload.read_bytes()
    assert mof.count(b"\r\n") == n // 1000 + 1  # every 1,000th number, then the unused tail


# --------------------------------------------------------------------------------------------
# Parameter files: refused with the file, the line and the key.

GOOD = """\
period: '10312'
ban: '53567686'
allocations: [blanktrack/sample/10312/allocations.csv]
invoices: [blanktrack/sample/10312/invoices_erp.csv]
"""

PARAM_CASES = [
    ("unknown-name", GOOD + "perod: '10312'\n", 5, "perod", "unknown name"),
    ("unknown-name-spelling", GOOD + "run-folder: x\n", 5, "run-folder", "known names"),
    ("name-not-text", GOOD + "? [a, b]\n: 1\n", 5, None, "a name must be plain text"),
    ("wrong-type-bool", GOOD + "strict: 'yes'\n", 5, "strict", "has the wrong type (str)"),
    ("wrong-type-list", GOOD.replace("[blanktrack/sample/10312/allocations.csv]", "a.csv"), 3,
     "allocations", "has the wrong type (str)"),
    ("wrong-type-int", GOOD + "timeout: 1.5\n", 5, "timeout", "has the wrong type (float)"),
    ("timeout-too-long", GOOD + "timeout: 99999999999\n", 5, "timeout", "between 1 and"),
    ("impossible-date", GOOD + "report_date: 2015-02-30\n", 5, "report_date",
     "is not a valid value"),
    ("unquoted-id", GOOD.replace("'53567686'", "10458575"), 2, "ban", "is not quoted"),
    ("path-missing", GOOD.replace("invoices_erp.csv", "nope.csv"), 4, "invoices",
     "nope.csv does not exist"),
    # A folder is an input now (a Turnkey data folder, E0501 files): tests/test_sources_empty.py
    ("columns-unknown-name", GOOD + "columns: {invoice_numbr: 單據號碼}\n", 5, "columns",
     "is not an invoice column"),
    ("path-device", GOOD.replace("blanktrack/sample/10312/invoices_erp.csv", "/dev/null"), 4,
     "invoices", "is not a regular file (it is a device"),
    ("path-not-text", GOOD.replace("[blanktrack/sample/10312/invoices_erp.csv]", "[1, null]"),
     4, "invoices", "is not a path"),
    ("run-folder-parent", GOOD + "run_folder: ../..\n", 5, "run_folder", "out of the archive"),
    ("run-folder-absolute", GOOD + "run_folder: /etc\n", 5, "run_folder", "absolute path"),
    ("run-folder-home", GOOD + "run_folder: ~/x\n", 5, "run_folder", "absolute path"),
    ("run-folder-nested", GOOD + "run_folder: a/b\n", 5, "run_folder", "single folder name"),
    ("run-folder-hidden", GOOD + "run_folder: .x\n", 5, "run_folder", "single folder name"),
    ("run-folder-escape-inside", GOOD + "run_folder: a/../../../etc\n", 5, "run_folder",
     "out of the archive"),
    ("run-folder-not-text", GOOD + "run_folder: [x]\n", 5, "run_folder", "wrong type"),
]


@pytest.mark.parametrize(("text", "line", "key", "says"), [c[1:] for c in PARAM_CASES],
                         ids=[c[0] for c in PARAM_CASES])
def test_parameter_file_refused(tmp_path: Path, text: str, line: int, key: str | None,
                                says: str) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        load_params(path, base_dir=ROOT)
    message = str(info.value)
    assert f"{path}:{line}" in message, message
    if key is not None:
        assert f"field '{key}'" in message, message
    assert says in message, message


def test_parameter_file_that_is_a_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is not a regular file"):
        load_params(tmp_path, base_dir=ROOT)


def test_run_folder_that_holds_a_run_is_refused(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    archive_root = tmp_path / "archive"
    taken = new_run_dir(archive_root, "10312", archive.now_utc(), name="upload-1")
    archive.write_manifest(taken, {"status": "completed"})
    empty = archive_root / "10312" / "upload-2"
    empty.mkdir()
    before = sorted(archive_root.rglob("*"))
    for name, says in (("upload-1", "already holds a run (manifest.json)"),
                       ("upload-2", "already exists")):
        params = tmp_path / f"{name}.yaml"
        params.write_text(GOOD.replace("blanktrack/", f"{ROOT}/blanktrack/")
                          + f"notebook: {ROOT}/notebooks/reconcile.ipynb\nrun_folder: {name}\n")
        rc = main(["run", "--params", str(params), "--archive", str(archive_root)])
        err = capsys.readouterr().err
        assert rc == 1
        assert f"{params}:6: field 'run_folder'" in err and says in err, err
        assert "never overwritten" in err or "new folder" in err
    assert sorted(archive_root.rglob("*")) == before  # nothing created, nothing touched


def test_run_folder_link_out_of_the_archive_is_refused(tmp_path: Path) -> None:
    from blanktrack.params import run_folder_target

    archive_root = tmp_path / "archive"
    (archive_root).mkdir()
    (archive_root / "10312").symlink_to(tmp_path)  # the period folder leads elsewhere
    path = tmp_path / "p.yaml"
    path.write_text(GOOD + "run_folder: x\n")
    params = load_params(path, base_dir=ROOT)
    with pytest.raises(InputError, match="outside the archive folder"):
        run_folder_target(params, archive_root)


def test_unwritable_output_folder_is_an_input_error(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    for out in (blocker, blocker / "sub"):
        rc = main(["reconcile", "--period", "10312", "--report-date", "2015-01-08",
                   "--allocations", str(SAMPLE / "allocations.csv"),
                   "--invoices", str(SAMPLE / "invoices_erp.csv"), "--out-dir", str(out)])
        err = capsys.readouterr().err
        assert rc == 1 and str(out) in err and " — " in err, err
    assert blocker.read_text() == "not a folder"
