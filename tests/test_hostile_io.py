"""Hostile files and arguments: no traceback, no hang, the right line, no content leaked (issue 13,
items 9, 11 and 12).

- A folder, device, FIFO or socket given to `check`, `check --allocations`, or to `reconcile`'s
  `--allocations` / `--invoices` is refused at once (never opened), exit 1, nothing written.
- A file that is no table (no comma in its first line, control characters, a binary, a system
  file reached through a link) is refused without a byte of it in the message.
- Line numbers stay right with CR-only line ends, records that span lines and unclosed quotes,
  in the small (decoded in Python) and the streamed (over LARGE_FILE_BYTES) invoice paths.
- `demo` refuses counts and rates it cannot honour as usage errors (exit 2), and an output
  folder that is a file as an input error (exit 1), before writing anything.

Every case runs through cli.main, under an alarm: a hang fails the test instead of the suite.
"""

from __future__ import annotations

import codecs
import os
import signal
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from corpus.checks import SAMPLE, nothing_written

from blanktrack import invoices
from blanktrack.cli import main

ALLOCATIONS = SAMPLE / "allocations.csv"
ALLOCATION_TEXT = ALLOCATIONS.read_text(encoding="utf-8")
INVOICES = SAMPLE / "invoices_erp.csv"
INVOICE_TEXT = INVOICES.read_text(encoding="utf-8")
A_HEAD, *A_ROWS = ALLOCATION_TEXT.splitlines()
I_HEAD, *I_ROWS = INVOICE_TEXT.splitlines()
UPLOAD = b"00001,53567686,10312,MB,02034268,02034299,07\r\n"
SECRET = "s3cr3t-Do-Not-Quote"  # planted in every no-table file: it must never be printed


@pytest.fixture(autouse=True)
def no_hang() -> Iterator[None]:
    """Fail a case that blocks (a FIFO opened for reading) instead of hanging the suite."""

    def expire(signum: int, frame: object) -> None:
        raise TimeoutError("the command blocked")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(60)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Exit code and everything printed (stdout and stderr) of one command."""
    try:
        rc = main(argv)
    except SystemExit as exc:  # argparse's usage errors
        rc = exc.code if isinstance(exc.code, int) else 2
    captured = capsys.readouterr()
    return rc, captured.out + captured.err


# ---------------------------------------------------------------------------------------------
# The roles a file can be given in, and the command that gives it.

Role = Callable[[Path, Path], list[str]]  # (the hostile path, out dir) -> argv


def as_check(path: Path, out: Path) -> list[str]:
    return ["check", str(path)]


def as_check_allocations(path: Path, out: Path) -> list[str]:
    return ["check", str(SAMPLE / "invnoapply_10312.csv"), "--allocations", str(path)]


def as_allocations(path: Path, out: Path) -> list[str]:
    return ["reconcile", "--period", "10312", "--report-date", "2015-01-08",
            "--allocations", str(path), "--invoices", str(INVOICES), "--out-dir", str(out)]


def as_invoices(path: Path, out: Path) -> list[str]:
    return ["reconcile", "--period", "10312", "--report-date", "2015-01-08",
            "--allocations", str(ALLOCATIONS), "--invoices", str(path), "--out-dir", str(out)]


ROLES: dict[str, Role] = {"check": as_check, "check-allocations": as_check_allocations,
                          "allocations": as_allocations, "invoices": as_invoices}


# ---------------------------------------------------------------------------------------------
# Not a regular file: refused before it is opened.


def make_fifo(tmp: Path) -> Path:
    path = tmp / "pipe.csv"
    os.mkfifo(path)
    return path


def make_socket(tmp: Path) -> Path:
    path = tmp / "s.csv"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    sock.close()  # the socket file stays
    return path


def make_folder(tmp: Path) -> Path:
    path = tmp / "folder.csv"
    path.mkdir()
    return path


def make_link_to_fifo(tmp: Path) -> Path:
    link = tmp / "link.csv"
    link.symlink_to(make_fifo(tmp))
    return link


SPECIAL: dict[str, tuple[Callable[[Path], Path], str]] = {
    "dev-zero": (lambda tmp: Path("/dev/zero"), "it is a character device, not a regular file"),
    "dev-null": (lambda tmp: Path("/dev/null"), "it is a character device, not a regular file"),
    "fifo": (make_fifo, "it is a named pipe, not a regular file"),
    "socket": (make_socket, "it is a socket, not a regular file"),
    "folder": (make_folder, "it is a folder, not a regular file"),
    "link-to-fifo": (make_link_to_fifo, "it is a named pipe, not a regular file"),
}


@pytest.mark.parametrize("kind", sorted(SPECIAL))
@pytest.mark.parametrize("role", sorted(ROLES))
def test_special_file_is_refused_unopened(role: str, kind: str, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    given = tmp_path / "given"
    given.mkdir()
    make, says = SPECIAL[kind]
    path = make(given)
    out = tmp_path / "out"
    rc, printed = run(ROLES[role](path, out), capsys)
    assert rc == 1, printed
    if role == "check" and kind == "folder":  # check searches a folder for upload files
        assert f"{path}: the folder holds no upload file" in printed, printed
    elif kind == "folder" and role in ("allocations", "invoices", "check-allocations"):
        # folders are inputs too
        assert f"{path}: the folder holds no" in printed, printed
    elif role.startswith("check"):
        assert f"{path}: cannot read the file: {says}" in printed, printed
    else:  # reconcile checks its inputs first, in its own words (reconcile._check_files)
        assert f"{path}: " in printed and "not a regular file" in printed, printed
    assert "Traceback" not in printed
    assert nothing_written(out)


# ---------------------------------------------------------------------------------------------
# No table at all: refused, nothing of it quoted.

NO_TABLE: dict[str, tuple[bytes, str]] = {
    "passwd-like": (f"root:x:0:0:{SECRET}:/root:/bin/bash\ndaemon:x:1:1::/:/bin/sh\n".encode(),
                    "this line has no comma: the file is not a comma-separated table"),
    "shadow-like": (f"root:$6${SECRET}$abc:19000:0:99999:7:::\n".encode(),
                    "this line has no comma: the file is not a comma-separated table"),
    "one-word": (f"{SECRET}\n".encode(),
                 "this line has no comma: the file is not a comma-separated table"),
    "escape-codes": (f"\x1b[2J{SECRET},a,b\n".encode(),
                     "this line holds control characters: the file is not a text table"),
    "private-key": (f"-----BEGIN OPENSSH PRIVATE KEY-----\n{SECRET}\n".encode(),
                    "this line has no comma: the file is not a comma-separated table"),
}


@pytest.mark.parametrize("content", sorted(NO_TABLE))
@pytest.mark.parametrize("role", sorted(ROLES))
def test_no_table_is_refused_without_quoting_it(role: str, content: str, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    data, says = NO_TABLE[content]
    secret = tmp_path / "secret"
    secret.write_bytes(data)
    link = tmp_path / "input.csv"  # reached through a link, as /etc/shadow would be
    link.symlink_to(secret)
    out = tmp_path / "out"
    rc, printed = run(ROLES[role](link, out), capsys)
    assert rc == 1, printed
    assert f"{link}:1: {says}" in printed, printed
    assert SECRET not in printed and "bin/" not in printed, printed
    assert "Traceback" not in printed
    assert nothing_written(out)


@pytest.mark.parametrize("role", ["check", "check-allocations", "allocations", "invoices"])
def test_binary_file_is_refused_without_quoting_it(role: str, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "program.csv"
    path.write_bytes(b"\x7fELF\x02\x01\x01\x00" + SECRET.encode() + b",\x00\x00\n" * 3)
    out = tmp_path / "out"
    rc, printed = run(ROLES[role](path, out), capsys)
    assert rc == 1, printed
    assert f"{path}:1: " in printed, printed
    assert SECRET not in printed and "ELF" not in printed, printed
    assert nothing_written(out)


COMMA_NO_HEADER = {
    "group-like": f"adm:x:4:syslog,{SECRET}\n",
    "environment-like": f"PASSWORD={SECRET},HOME=/home/x\n",
    "url-list": f"https://example.com/?token={SECRET},https://example.org\n",
}


@pytest.mark.parametrize("content", sorted(COMMA_NO_HEADER))
@pytest.mark.parametrize("role", sorted(ROLES))
def test_line_with_a_comma_that_is_no_header_is_not_quoted(
        role: str, content: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "input.csv"
    path.write_text(COMMA_NO_HEADER[content])
    out = tmp_path / "out"
    rc, printed = run(ROLES[role](path, out), capsys)
    assert rc == 1, printed
    assert f"{path}:1: " in printed, printed
    if role != "check":  # the upload lint words it per line: field count or header line
        assert "(found: a first line that is no header (not shown))" in printed, printed
    assert SECRET not in printed and "syslog" not in printed and "example" not in printed
    assert nothing_written(out)


@pytest.mark.parametrize(("role", "header", "found"), [
    ("allocations", "BAN,type,period,track,first,last", "found: BAN, type, period, track, first"),
    ("invoices", "number,date,ban,state", "found: number, date, ban, state"),
])
def test_real_table_with_wrong_header_names_it(role: str, header: str, found: str,
                                               tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "table.csv"
    path.write_text(header + "\n53567686,07,10312,MB,02034200,02034299\n")
    out = tmp_path / "out"
    rc, printed = run(ROLES[role](path, out), capsys)
    assert rc == 1, printed
    assert f"{path}:1: missing column(s)" in printed and found in printed, printed
    assert nothing_written(out)


# ---------------------------------------------------------------------------------------------
# The right line.


def with_field(row: str, index: int, value: str) -> str:
    fields = row.split(",")
    fields[index] = value
    return ",".join(fields)


@dataclass(frozen=True)
class LineCase:
    id: str
    role: str  # 'allocations' | 'invoices' | 'check'
    content: bytes
    line: int
    says: str
    field: str | None = None
    large: bool = False  # streamed: the invoice file is over LARGE_FILE_BYTES


def cr_only(*rows: str) -> bytes:
    return ("\r".join(rows) + "\r").encode()


def lf(*rows: str) -> bytes:
    return ("\n".join(rows) + "\n").encode()


BAD_BAN_INVOICE = with_field(I_ROWS[8], 2, "04595258")  # fails the check digit
MULTI_LINE_MACHINE = with_field(I_ROWS[1], 4, '"POS\nnorth"')  # a record over two lines
BAD_BAN_ALLOCATION = with_field(A_ROWS[4], 0, "53567687")
MULTI_LINE_ALLOCATION = with_field(A_ROWS[1], 7, '"POS\n1"')
CHECK_ROWS = ["00001,53567686,10312,MB,02034268,02034299,07",
              "00002,53567686,10312,MB,02034300,02034349,07",
              "00003,53567686,10312,MB,02034350,02034399,07",
              "00004,53567686,10312,MB,02034400,02034449,07",
              "00005,53567686,10312,MB,02034450,02034499,07"]
UTF8_MISS = "neither valid UTF-8 nor valid Big5/cp950"
NEVER_CLOSED = 'a quote (") opens a field on this line and is never closed'
CHECK_DIGIT = "fails the check digit"

LINE_CASES = [
    # CR-only line ends (old Mac): a bad byte on line 6 is on line 6.
    LineCase("cr-only-bad-byte-allocations", "allocations",
             cr_only(A_HEAD, *A_ROWS[:4]) + b"53567686,\xff\xfe\r", 6,
             UTF8_MISS),
    LineCase("cr-only-bad-byte-invoices", "invoices",
             cr_only(I_HEAD, *I_ROWS[:4]) + b"LQ00500099,\xff\xfe\xfd,x,y,,\r", 6, UTF8_MISS),
    LineCase("cr-only-nul-invoices", "invoices", cr_only(I_HEAD, *I_ROWS[:4]) + b"\x00\r", 6,
             "NUL characters"),
    LineCase("cr-only-bad-value-invoices", "invoices", cr_only(I_HEAD, *I_ROWS[:7],
                                                               BAD_BAN_INVOICE), 9, CHECK_DIGIT,
             field="seller_ban"),
    LineCase("cr-only-bad-value-allocations", "allocations",
             cr_only(A_HEAD, *A_ROWS[:4], BAD_BAN_ALLOCATION), 6, CHECK_DIGIT, field="ban"),
    LineCase("cr-only-bad-byte-check", "check",
             cr_only(*CHECK_ROWS).replace(b"00005,", b"\xff0005,"), 5, "is not UTF-8"),
    # A record over two lines: every later line number stays right.
    LineCase("multi-line-record-invoices", "invoices",
             lf(I_HEAD, I_ROWS[0], MULTI_LINE_MACHINE, *I_ROWS[2:8], BAD_BAN_INVOICE), 11,
             CHECK_DIGIT, field="seller_ban"),
    LineCase("multi-line-record-crlf-invoices", "invoices",
             lf(I_HEAD, I_ROWS[0], MULTI_LINE_MACHINE, *I_ROWS[2:8], BAD_BAN_INVOICE)
             .replace(b"\n", b"\r\n"), 11, CHECK_DIGIT, field="seller_ban"),
    LineCase("two-multi-line-records-invoices", "invoices",
             lf(I_HEAD, MULTI_LINE_MACHINE, MULTI_LINE_MACHINE.replace("LQ00500001", "LQ00500002"),
                BAD_BAN_INVOICE), 6, CHECK_DIGIT, field="seller_ban"),
    LineCase("multi-line-record-allocations", "allocations",
             lf(A_HEAD, A_ROWS[0], MULTI_LINE_ALLOCATION, *A_ROWS[2:4], BAD_BAN_ALLOCATION), 7,
             CHECK_DIGIT, field="ban"),
    LineCase("multi-line-record-large", "invoices",
             lf(I_HEAD, I_ROWS[0], MULTI_LINE_MACHINE, *I_ROWS[2:8], BAD_BAN_INVOICE), 11,
             CHECK_DIGIT, field="seller_ban", large=True),
    LineCase("multi-line-record-crlf-large", "invoices",
             lf(I_HEAD, I_ROWS[0], MULTI_LINE_MACHINE, *I_ROWS[2:8], BAD_BAN_INVOICE)
             .replace(b"\n", b"\r\n"), 11, CHECK_DIGIT, field="seller_ban", large=True),
    # A quote never closed: the line where it opens.
    LineCase("unclosed-quote-invoices", "invoices",
             lf(I_HEAD, *I_ROWS[:5], with_field(I_ROWS[5], 4, '"POS'), *I_ROWS[6:]), 7,
             NEVER_CLOSED),
    LineCase("unclosed-quote-first-row-invoices", "invoices",
             lf(I_HEAD, '"' + I_ROWS[0], *I_ROWS[1:]), 2, NEVER_CLOSED),
    LineCase("unclosed-quote-allocations", "allocations",
             lf(A_HEAD, *A_ROWS[:3], with_field(A_ROWS[3], 3, '"MB'), *A_ROWS[4:]), 5,
             NEVER_CLOSED),
    LineCase("unclosed-quote-large", "invoices",
             lf(I_HEAD, *I_ROWS[:5], with_field(I_ROWS[5], 4, '"POS'), *I_ROWS[6:]), 7,
             NEVER_CLOSED, large=True),
    LineCase("unclosed-quote-after-a-closed-one-large", "invoices",
             lf(I_HEAD, MULTI_LINE_MACHINE, *I_ROWS[2:9], with_field(I_ROWS[9], 4, '"POS'),
                *I_ROWS[10:]), 11, NEVER_CLOSED, large=True),
    LineCase("ragged-line-large", "invoices",
             lf(I_HEAD, *I_ROWS[:40], I_ROWS[40] + ",x,y", *I_ROWS[41:]), 42,
             "expected 6 fields as in the header, found 8", large=True),
    LineCase("not-utf8-beyond-prefix-large", "invoices",
             lf(I_HEAD, *I_ROWS[:60]) + b"LQ00500099,2014-12-01,04595257,\xb6}\xa5\xdf,,\n"
             + lf(*I_ROWS[60:]), 62, "this line is not UTF-8", large=True),
]


@pytest.mark.parametrize("case", LINE_CASES, ids=[c.id for c in LINE_CASES])
def test_message_names_the_right_line(case: LineCase, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / ("53567686_10312.csv" if case.role == "check" else "input.csv")
    path.write_bytes(case.content)
    if case.large:
        monkeypatch.setattr(invoices, "LARGE_FILE_BYTES", 100)
        monkeypatch.setattr(invoices, "_PREFIX_BYTES", 1000)  # the first ~15 lines
        assert path.stat().st_size > invoices.LARGE_FILE_BYTES
    out = tmp_path / "out"
    rc, printed = run(ROLES[case.role](path, out), capsys)
    assert rc == 1, printed
    where = f"{path}:{case.line}: " + (f"field '{case.field}': " if case.field else "")
    assert where in printed and case.says in printed, printed
    assert "Traceback" not in printed
    if case.role != "check":
        assert " — " in printed  # says what to do
        assert printed.count(f"{path}:") == 1, printed  # one problem, no echo of polars' text
    assert "LQ00500010,2014" not in printed  # no record quoted from the file
    assert nothing_written(out)


def test_line_cases_are_distinct() -> None:
    assert len({c.id for c in LINE_CASES}) == len(LINE_CASES)


def test_clean_multi_line_machine_is_read(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """A machine name over two lines is a value like any other: the run succeeds."""
    path = tmp_path / "input.csv"
    path.write_bytes(lf(I_HEAD, I_ROWS[0], MULTI_LINE_MACHINE, *I_ROWS[2:]))
    rc, printed = run(as_invoices(path, tmp_path / "out"), capsys)
    assert rc == 0, printed


# ---------------------------------------------------------------------------------------------
# demo: counts and rates it cannot honour.

DEMO_USAGE = [
    ("negative-invoices", ["--invoices", "-5"], "argument --invoices: must be between 0 and"),
    ("invoices-not-a-number", ["--invoices", "many"], "'many' is not a whole number"),
    ("too-many-invoices", ["--invoices", "1000000000000"], "argument --invoices: must be between"),
    ("zero-bans", ["--bans", "0"], "argument --bans: must be between 1 and 100,000, not 0"),
    ("too-many-bans", ["--bans", "100000000"],
     "argument --bans: must be between 1 and 100,000, not 100,000,000"),
    ("zero-tills", ["--tills", "0"], "argument --tills: must be between 1 and 1,000, not 0"),
    ("too-many-tills", ["--tills", "5000"], "argument --tills: must be between 1 and 1,000"),
    ("bans-times-tills", ["--bans", "100000", "--tills", "100"],
     "--bans × --tills must be at most 1,000,000, not 10,000,000"),
    ("skip-rate-2", ["--skip-rate", "2"], "argument --skip-rate: '2' is not a rate from 0"),
    ("skip-rate-nan", ["--skip-rate", "nan"], "argument --skip-rate: 'nan' is not a rate"),
    ("skip-rate-inf", ["--skip-rate", "inf"], "argument --skip-rate: 'inf' is not a rate"),
    ("skip-rate-negative", ["--skip-rate", "-0.1"], "argument --skip-rate: '-0.1' is not a rate"),
    ("cancel-rate-1", ["--cancel-rate", "1"], "argument --cancel-rate: '1' is not a rate"),
    ("void-rate-text", ["--void-rate", "often"], "argument --void-rate: 'often' is not a number"),
    ("rates-sum-1", ["--cancel-rate", "0.6", "--void-rate", "0.5"],
     "--cancel-rate + --void-rate must be below 1"),
    ("odd-period", ["--period", "11301"], "argument --period:"),
]


@pytest.mark.parametrize(("args", "says"), [c[1:] for c in DEMO_USAGE],
                         ids=[c[0] for c in DEMO_USAGE])
def test_demo_generate_usage_error(args: list[str], says: str, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    rc, printed = run(["demo", "generate", "--out", str(out), "--invoices", "10", *args], capsys)
    assert rc == 2, printed
    assert says in printed, printed
    assert "Traceback" not in printed
    assert not out.exists()


@pytest.mark.parametrize("what", ["sample", "generate"])
def test_demo_out_that_is_a_file(what: str, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "taken"
    out.write_text("keep me")
    rc, printed = run(["demo", what, "--out", str(out), "--invoices", "10"], capsys)
    assert rc == 1, printed
    assert f"{out}: the output folder is a file — give a folder" in printed, printed
    assert out.read_text() == "keep me"


@pytest.mark.parametrize("what", ["sample", "generate"])
def test_demo_out_under_a_file(what: str, tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "taken"
    blocker.write_text("keep me")
    out = blocker / "sub"
    rc, printed = run(["demo", what, "--out", str(out), "--invoices", "10"], capsys)
    assert rc == 1, printed
    assert "cannot write: Not a directory — give a folder you may write to" in printed, printed
    assert "Traceback" not in printed
    assert blocker.read_text() == "keep me"


def test_demo_generate_at_the_bounds_is_accepted(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    rc, printed = run(["demo", "generate", "--out", str(tmp_path), "--invoices", "0", "--bans",
                       "1", "--tills", "1", "--skip-rate", "0", "--format", "csv"], capsys)
    assert rc == 0, printed
    assert "n_invoices: 0" in printed


def test_bom_only_allocations_still_say_empty(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes(codecs.BOM_UTF8)
    rc, printed = run(as_allocations(path, tmp_path / "out"), capsys)
    assert rc == 1 and "the file is empty" in printed, printed
