"""Fuzzing: hypothesis-made input files through the loaders, reconcile and the self-checks.

Whatever the bytes, `blanktrack reconcile` exits 0 or 1, never with a traceback. On 1 nothing is
written; on 0 every upload file passes lint with the allocations, every E0402 validates against
both schemas and no table holds a live formula (corpus/checks.py).
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from pathlib import Path

import yaml
from corpus.checks import ROOT, SAMPLE, check_outputs, nothing_written
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from blanktrack.cli import main
from blanktrack.errors import InputError
from blanktrack.params import load_params

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])
ALLOCATIONS = (SAMPLE / "allocations.csv").read_bytes()
INVOICES = (SAMPLE / "invoices_erp.csv").read_bytes()
OTHER_INVOICES = sorted(SAMPLE.glob("invoices_pos-*.csv"))
BANS = ["53567686", "04595257", "10458575", "12345670"]
HOSTILE = [b",", b'"', b"\n", b"\r", b"\r\n", b";", b"\t", b"\x00", b"=", b" ", b"0", b"9",
           b"A", b"z", b"\xef\xbb\xbf", "開".encode(), "開".encode("cp950"), b"\xff", b"\xe6",
           b"-", b"/", b"~", b"E+06", b".", "\ufffd".encode()]


def run(allocations: bytes | None, invoices: bytes | None) -> None:
    """Reconcile with the given file(s) (None: the sample's) and check the outcome."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        allocation_paths = [SAMPLE / "allocations.csv"]
        invoice_paths = [SAMPLE / "invoices_erp.csv", *OTHER_INVOICES]
        if allocations is not None:
            allocation_paths = [folder / "allocations.csv"]
            allocation_paths[0].write_bytes(allocations)
        if invoices is not None:
            invoice_paths = [folder / "invoices.csv", *OTHER_INVOICES]
            invoice_paths[0].write_bytes(invoices)
        out = folder / "out"
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            rc = main(["reconcile", "--period", "10312", "--report-date", "2015-01-08",
                       "--allocations", *map(str, allocation_paths),
                       "--invoices", *map(str, invoice_paths), "--out-dir", str(out)])
        assert rc in (0, 1)
        if rc == 1:
            assert nothing_written(out)
            assert sorted(p.name for p in folder.iterdir()) == sorted(
                p.name for p in [*allocation_paths, *invoice_paths] if p.parent == folder)
            assert "input error" in err.getvalue()
        else:
            check_outputs(out, allocation_paths)


@st.composite
def mutated(draw: st.DrawFn, data: bytes) -> bytes:
    """`data` with a few hostile edits: insertions, deletions, replacements, truncation."""
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(out)))
        kind = draw(st.sampled_from(["insert", "delete", "replace", "truncate", "random"]))
        if kind == "insert":
            out[at:at] = draw(st.sampled_from(HOSTILE))
        elif kind == "delete":
            del out[at:at + draw(st.integers(1, 12))]
        elif kind == "replace":
            out[at:at + 1] = draw(st.sampled_from(HOSTILE))
        elif kind == "truncate":
            del out[at:]
        else:
            out[at:at] = draw(st.binary(max_size=8))
    return bytes(out)


@SETTINGS
@given(mutated(ALLOCATIONS))
def test_mutated_allocation_files(data: bytes) -> None:
    run(data, None)


@SETTINGS
@given(mutated(INVOICES))
def test_mutated_invoice_files(data: bytes) -> None:
    run(None, data)


def number(n: int) -> str:
    return f"{n:08d}"


@st.composite
def allocation_table(draw: st.DrawFn) -> bytes:
    """Plausible allocation rows that overlap, misalign and mix heads, types and reporters."""
    rows = ["ban,invoice_type,period,track,begin_no,end_no,head_ban,machine,reported_by"]
    for _ in range(draw(st.integers(1, 6))):
        ban = draw(st.sampled_from(BANS))
        begin = draw(st.integers(0, 300))
        end = begin + draw(st.integers(0, 160))
        rows.append(",".join([
            ban,
            draw(st.sampled_from(["07", "08", "7"])),
            draw(st.sampled_from(["10312", "10312", "103/11 ~ 103/12", "10310"])),
            draw(st.sampled_from(["AA", "AB"])),
            number(begin), number(end),
            draw(st.sampled_from(["", "", ban, "53567686"])),
            draw(st.sampled_from(["", "POS-1", "=cmd|' /C calc'!A0", "-1+1"])),
            draw(st.sampled_from(["", "", "", "ERP2", "@x"])),
        ]))
    return ("\n".join(rows) + "\n").encode()


@st.composite
def invoice_table(draw: st.DrawFn) -> bytes:
    rows = ["invoice_number,invoice_date,seller_ban,status,machine,upload_status"]
    for _ in range(draw(st.integers(1, 40))):
        rows.append(",".join([
            draw(st.sampled_from(["AA", "AB", "ZZ"])) + number(draw(st.integers(0, 480))),
            draw(st.sampled_from(["2014-11-03", "2014-12-31", "20141215", "2014-10-31",
                                  "2015-01-01", "2014-08-01"])),
            draw(st.sampled_from(BANS)),
            draw(st.sampled_from(["issued", "cancelled", "voided", "開立", "作廢", "註銷"])),
            draw(st.sampled_from(["", "POS-1", "POS-2", "+SUM(A1)"])),
            draw(st.sampled_from(["", "accepted", "failed"])),
        ]))
    return ("\n".join(rows) + "\n").encode()


@SETTINGS
@given(allocation_table(), invoice_table())
def test_generated_tables(allocations: bytes, invoices: bytes) -> None:
    run(allocations, invoices)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.dictionaries(
    st.sampled_from(["period", "ban", "allocations", "invoices", "split", "strict", "timeout",
                     "report_date", "note", "run_folder", "notebook", "other"]),
    st.one_of(st.none(), st.booleans(), st.integers(-2, 10**12), st.floats(allow_nan=True),
              st.text(max_size=12), st.lists(st.text(max_size=8), max_size=3),
              st.sampled_from(["10312", "../..", "/etc", "/dev/null", "2015-02-30",
                               "blanktrack/sample/10312/allocations.csv"])),
    max_size=8,
))
def test_generated_parameter_files(values: dict) -> None:
    """A parameter file is loaded or refused with InputError, never a traceback."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "p.yaml"
        path.write_text(yaml.safe_dump(values, allow_unicode=True), encoding="utf-8")
        try:
            load_params(path, base_dir=ROOT)
        except InputError as exc:
            assert str(path) in str(exc)
