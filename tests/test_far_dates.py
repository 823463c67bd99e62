"""Invoices dated far from the period (spec §3, §4): never a use of P's numbers, never silent.

Every reading path must raise `dated-far-from-period` (an error) for an invoice whose track and
number fall in one of P's allocations of its seller and whose date lies more than one period from
P, and must refuse a date that is no calendar date with file, line and field: the dense scan
(with and without rows left to polars), the polars one-pass path and validate-then-aggregate, on
CSV (small and streamed) and Parquet.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path

import polars as pl
import pytest
from corpus.checks import findings_of

import blanktrack.reconcile as rec
from blanktrack import invoices as inv
from blanktrack.allocations import load_allocations
from blanktrack.booklets import prepare_allocations
from blanktrack.cli import main
from blanktrack.errors import InputError
from blanktrack.period import Period
from blanktrack.usage import dense, engine

BAN_A, BAN_B = "53567686", "04595257"
ALLOCATIONS = (
    "ban,invoice_type,period,track,begin_no,end_no\n"
    f"{BAN_A},07,11302,AB,00000000,00000099\n"
    f"{BAN_B},07,11302,CD,00000000,00000049\n"
)
COLUMNS = ("invoice_number", "invoice_date", "seller_ban", "status", "machine", "upload_status")
# Period 11302 is 2024-01-01..2024-02-29; 11212 (Nov-Dec 2023) and 11304 are adjacent.
FAR = {
    10: "1970-01-01",  # a till whose clock was reset
    11: "2099-12-31",
    12: "2023-10-31",  # two periods back (11210)
    13: "20240502",  # two periods on (11306), compact spelling
}
PATHS = ("dense", "dense-with-exceptions", "one-pass", "validate-then-aggregate")


def rows(extra: list[tuple[str, ...]] = ()) -> list[tuple[str | None, ...]]:  # type: ignore[assignment]
    out: list[tuple[str | None, ...]] = [
        (f"AB{n:08d}", "2024-01-15", BAN_A, "issued", "POS-1", "accepted") for n in range(10)]
    out += [(f"AB{n:08d}", day, BAN_A, "issued", "POS-1", "accepted") for n, day in FAR.items()]
    out.append(("AB00000014", "2023-12-31", BAN_A, "issued", "POS-1", "accepted"))  # adjacent
    out.append(("AB00000015", "2024-03-01", BAN_A, "issued", "POS-1", "accepted"))  # adjacent
    # Far away and in no allocation of their seller: another period's track, no finding.
    out.append(("ZZ00000010", "1970-01-01", BAN_A, "issued", "POS-1", "accepted"))
    out.append(("CD00000010", "1970-01-01", BAN_A, "issued", "POS-1", "accepted"))  # B's numbers
    out.append(("AB00000300", "2022-01-01", BAN_A, "issued", "POS-1", "accepted"))  # past its end
    out += extra
    return out


def write(folder: Path, data: list[tuple[str | None, ...]], kind: str) -> Path:
    frame = pl.DataFrame([list(r) for r in data], schema={c: pl.String for c in COLUMNS},
                         orient="row")
    if kind == "parquet":
        path = folder / "invoices.parquet"
        frame.write_parquet(path)
    else:
        path = folder / "invoices.csv"
        frame.write_csv(path)
    return path


@pytest.fixture
def force(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], list[str]]]:
    """Sets the path a reconcile takes; returns the list of paths the run really took."""
    taken: list[str] = []

    def choose(path: str) -> list[str]:
        real_dense, real_fast = engine.dense_scan, engine.fast_usage
        if path.startswith("dense"):
            monkeypatch.setattr(engine, "DENSE_MIN_ROWS", 0)  # a small period takes it too

            def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
                out = real_dense(*args, **kwargs)
                if out is not None:
                    taken.append("dense" if out.by_slot is not None else "dense-with-exceptions")
                return out

            monkeypatch.setattr(engine, "dense_scan", spy)
        else:
            monkeypatch.setattr(engine, "dense_scan", lambda *a, **k: None)
        if path == "validate-then-aggregate":
            monkeypatch.setattr(engine, "fast_usage", lambda *a, **k: None)
        elif path == "one-pass":
            def fast(*args, **kwargs):  # type: ignore[no-untyped-def]
                out = real_fast(*args, **kwargs)
                if out is not None:
                    taken.append("one-pass")
                return out

            monkeypatch.setattr(engine, "fast_usage", fast)
        else:
            monkeypatch.setattr(engine, "fast_usage", lambda *a, **k: pytest.fail("not dense"))
        return taken

    yield choose


def reconcile(folder: Path, invoices: Path) -> rec.Reconciliation:
    allocations = folder / "allocations.csv"
    allocations.write_text(ALLOCATIONS, encoding="utf-8")
    return rec.reconcile("11302", [allocations], [invoices], report_date=dt.date(2024, 3, 5))


@pytest.mark.parametrize("kind", ["csv", "parquet"])
@pytest.mark.parametrize("path", PATHS)
def test_every_path_raises_dated_far_from_period(tmp_path: Path, force, path: str,
                                                 kind: str) -> None:
    taken = force(path)
    extra = []
    if path == "dense-with-exceptions":  # a second till in a booklet: a row left to polars
        extra = [("AB00000020", "2024-01-16", BAN_A, "issued", "POS-2", "accepted")]
    data = rows(extra)
    result = reconcile(tmp_path, write(tmp_path, data, kind))
    if path != "validate-then-aggregate":
        assert taken == [path], f"the run took {taken}, not {path}"
    far = result.findings.filter(pl.col("code") == "dated-far-from-period")
    assert far["severity"].to_list() == ["error"] * 4
    assert sorted(far["begin_no"].to_list()) == ["00000010", "00000011", "00000012", "00000013"]
    assert set(far["ban"]) == {BAN_A} and set(far["track"]) == {"AB"}
    name = "invoices.parquet" if kind == "parquet" else "invoices.csv"
    for number, day in FAR.items():
        line = 1 + next(i for i, r in enumerate(data, 1) if r[0] == f"AB{number:08d}")
        if kind == "parquet":
            line -= 1  # a Parquet file's rows are counted from 1, with no header line
        message = far.filter(pl.col("begin_no") == f"{number:08d}")["message"].item()
        assert f"AB{number:08d}" in message and f"{name}:{line}" in message
        iso = day if "-" in day else f"{day[:4]}-{day[4:6]}-{day[6:]}"
        assert f"dated {iso}" in message and "not counted as used" in message
        assert "correct the invoice date" in message
    # Not used: reported blank, with the adjacent ones (14, 15) used.
    ab = result.blank_ranges.filter(pl.col("track") == "AB")
    want = [("00000010", "00000013"), ("00000016", "00000099")]
    if extra:
        want[1:] = [("00000016", "00000019"), ("00000021", "00000099")]
    assert ab.select("begin_no", "end_no").rows() == want
    adjacent = result.findings.filter(pl.col("code") == "dated-outside-period")
    assert sorted(adjacent["begin_no"].to_list()) == ["00000014", "00000015"]
    assert result.error_count >= 4


def test_a_far_date_beside_a_used_number_is_no_duplicate(tmp_path: Path, force) -> None:
    """The same number issued in P and dated far away: used, one far finding, no duplicate."""
    force("one-pass")
    data = rows([("AB00000005", "1970-01-01", BAN_A, "issued", "POS-1", "accepted")])
    result = reconcile(tmp_path, write(tmp_path, data, "csv"))
    codes = result.findings.filter(pl.col("begin_no") == "00000005")["code"].to_list()
    assert codes == ["dated-far-from-period"]


@pytest.mark.parametrize("path", PATHS)
def test_strict_fails_the_run(tmp_path: Path, force, path: str,
                              capsys: pytest.CaptureFixture[str]) -> None:
    force(path)
    invoices = write(tmp_path, rows(), "csv")
    allocations = tmp_path / "allocations.csv"
    allocations.write_text(ALLOCATIONS, encoding="utf-8")
    code = main(["reconcile", "--period", "11302", "--allocations", str(allocations),
                 "--invoices", str(invoices), "--out-dir", str(tmp_path / "out"), "--strict",
                 "--report-date", "2024-03-05"])
    assert code == 3
    findings = findings_of(tmp_path / "out")
    assert findings.filter(pl.col("code") == "dated-far-from-period").height == 4


# ---------------------------------------------------------------------------------------------
# A date that is no calendar date is bad input, in every reading path.

NOT_DATES = ["0000-11-01", "00001101", "2024-02-30", "20230229"]


@pytest.mark.parametrize("bad", NOT_DATES)
@pytest.mark.parametrize("kind", ["csv", "large-csv", "parquet"])
@pytest.mark.parametrize("path", ["dense", "one-pass", "validate-then-aggregate"])
def test_no_calendar_date_is_refused(tmp_path: Path, force, monkeypatch: pytest.MonkeyPatch,
                                     path: str, kind: str, bad: str) -> None:
    if path == "dense":
        monkeypatch.setattr(engine, "DENSE_MIN_ROWS", 0)
    else:
        force(path)
    if kind == "large-csv":
        monkeypatch.setattr(inv, "LARGE_FILE_BYTES", 0)  # streamed by polars as UTF-8
    data = rows()
    data.insert(3, ("AB00000050", bad, BAN_A, "issued", "POS-1", "accepted"))
    invoices = write(tmp_path, data, "parquet" if kind == "parquet" else "csv")
    with pytest.raises(InputError) as raised:
        reconcile(tmp_path, invoices)
    line = 4 if kind == "parquet" else 5
    assert str(raised.value).startswith(
        f"{invoices}:{line}: field 'invoice_date': invoice date '{bad}' is not a real calendar date")


def test_year_zero_in_a_parquet_date_column_is_refused(tmp_path: Path) -> None:
    """A Parquet date column holds whatever a program wrote, year 0000 too (chrono's year 0)."""
    year_zero = -719_528  # days from 1970-01-01 back to 0000-01-01
    frame = pl.DataFrame({
        "invoice_number": ["AB00000001", "AB00000002"],
        "invoice_date": pl.Series([19_727, year_zero], dtype=pl.Int32).cast(pl.Date),
        "seller_ban": [BAN_A, BAN_A], "status": ["issued", "issued"],
    })
    path = tmp_path / "invoices.parquet"
    frame.write_parquet(path)
    with pytest.raises(InputError) as raised:
        reconcile(tmp_path, path)
    assert str(raised.value).startswith(
        f"{path}:2: field 'invoice_date': invoice date '0000-01-01' is not a real calendar date")


# ---------------------------------------------------------------------------------------------
# The dense scan's own output, before anything is normalised.


def dense_scan_of(folder: Path, data: list[tuple[str | None, ...]], ban: str | None
                  ) -> tuple[pl.DataFrame, ...]:
    allocations = folder / "allocations.csv"
    allocations.write_text(ALLOCATIONS, encoding="utf-8")
    prepared = prepare_allocations(load_allocations([allocations]))
    bans = None
    if ban is not None:
        prepared = prepared.filter(pl.col("ban") == ban)
        bans = prepared["ban"].unique()
    got = dense.dense_usage([write(folder, data, "parquet")], Period.parse("11302"), prepared,
                            bans)
    assert got is not None
    return got


def test_dense_marks_far_rows_in_the_sellers_own_booklets_only(tmp_path: Path) -> None:
    data = [
        ("AB00000001", "2024-01-15", BAN_A, "issued", "POS-1", "accepted"),
        ("AB00000005", "1970-01-01", BAN_A, "issued", "POS-1", "accepted"),  # own: marked
        ("AB00000006", "1970-01-01", BAN_B, "issued", "POS-1", "accepted"),  # A's booklet
        ("ZZ00000007", "1970-01-01", BAN_A, "issued", "POS-1", "accepted"),  # no booklet of P
    ]
    by_machine, issuing, counted, foreign = dense_scan_of(tmp_path, data, None)
    assert by_machine.select("seller_ban", "track", "booklet", "used_mask", "far_mask",
                             "live_rows").rows() == [(BAN_A, "AB", 0, 1 << 1, 1 << 5, 1)]
    assert issuing["invoices"].to_list() == [1] and counted["rows"].to_list() == [4]
    assert foreign.is_empty()


def test_dense_hands_a_left_out_sellers_use_of_our_booklets_over(tmp_path: Path) -> None:
    """--ban A: B's in-period row on A's numbers is not A's usage, but it is a use (foreign);
    B's far row there and B's row on its own numbers are not."""
    data = [
        ("AB00000001", "2024-01-15", BAN_A, "issued", "POS-1", "accepted"),
        ("AB00000007", "2024-01-15", BAN_B, "issued", "POS-9", "accepted"),
        ("AB00000008", "1970-01-01", BAN_B, "issued", "POS-9", "accepted"),
        ("CD00000009", "2024-01-15", BAN_B, "issued", "POS-9", "accepted"),
    ]
    by_machine, _, counted, foreign = dense_scan_of(tmp_path, data, BAN_A)
    assert by_machine.select("seller_ban", "booklet", "used_mask").rows() == [(BAN_A, 0, 1 << 1)]
    assert foreign.rows() == [("AB", 0, 1 << 7)]
    assert counted["rows"].to_list() == [1]  # B's rows are not counted, as fast_usage does
