"""One generated period written in every format blanktrack reads — canonical CSV, a Turnkey
folder of MIG messages, an envelope, the platform download, an ERP CSV with ROC dates, an ERP
.xlsx — gives identical blank ranges and findings (issue 15)."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import polars as pl
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sources_period import HEAD, blanks, run, write_allocations, write_canonical

from blanktrack.sources.mig_write import cancel, envelope, issue, turnkey_files, void

START = dt.date(2014, 11, 1)
Row = tuple[str, str, str, str]


@st.composite
def periods(draw: st.DrawFn) -> list[Row]:
    numbers = draw(st.lists(st.integers(0, 99), min_size=1, max_size=40, unique=True))
    rows: list[Row] = []
    for n in numbers:
        day = (START + dt.timedelta(days=draw(st.integers(0, 60)))).isoformat()
        status = draw(st.sampled_from(["issued", "issued", "cancelled", "voided"]))
        rows.append((f"AB{n:08d}", day, HEAD, status))
    return rows


def _platform(rows: list[Row]) -> str:
    word = {"issued": "開立已確認", "cancelled": "作廢已確認"}
    lines = []
    for n, d, b, s in rows:
        fields = ["M", n, "", "07", word[s], d.replace("-", "/"), "", "客,戶", b, "賣方", "",
                  *["0"] * 6, "1", "", "", "", "", "", "", "", "F0401", b, "賣方"]
        lines.append(",".join(fields))
    return "\n".join(lines) + "\n"


def _erp_rows(rows: list[Row]) -> pl.DataFrame:
    word = {"issued": "開立", "cancelled": "作廢", "voided": "註銷"}
    return pl.DataFrame({
        "字軌": [n[:2] for n, *_ in rows], "號碼": [n[2:] for n, *_ in rows],
        "發票日期": [f"{int(d[:4]) - 1911}/{d[5:7]}/{d[8:]}" for _, d, _, _ in rows],
        "賣方統編": [b for _, _, b, _ in rows], "發票狀態": [word[s] for *_, s in rows],
    }, schema=dict.fromkeys(["字軌", "號碼", "發票日期", "賣方統編", "發票狀態"], pl.String))


def _envelope(rows: list[Row]) -> bytes:
    messages = []
    for n, d, b, s in rows:
        date = d.replace("-", "")
        messages.append(issue(n, date, b))
        if s != "issued":
            messages.append((cancel if s == "cancelled" else void)(n, date, b))
    return envelope(messages)


def _formats(rows: list[Row], folder: Path) -> dict[str, Path]:
    out = {"canonical": write_canonical(folder / "canonical.csv", rows)}
    turnkey = folder / "turnkey"
    for name, data in turnkey_files(rows).items():
        (turnkey / name).parent.mkdir(parents=True, exist_ok=True)
        (turnkey / name).write_bytes(data)
    out["turnkey"] = turnkey
    (folder / "pack.xml").write_bytes(_envelope(rows))
    out["envelope"] = folder / "pack.xml"
    erp = _erp_rows(rows)
    erp.write_csv(folder / "erp.csv")
    out["erp-csv"] = folder / "erp.csv"
    erp.write_excel(folder / "erp.xlsx")
    out["erp-xlsx"] = folder / "erp.xlsx"
    if all(s != "voided" for *_, s in rows):  # the platform's void wording is unknown
        (folder / "download.csv").write_text(_platform(rows), encoding="utf-8")
        out["platform"] = folder / "download.csv"
    return out


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(periods())
@example([("AB00000000", "2014-11-01", HEAD, "issued"), ("AB00000099", "2014-12-31", HEAD, "issued")])
@example([("AB00000049", "2014-12-31", HEAD, "voided"), ("AB00000050", "2015-01-01", HEAD, "issued")])
@example([("AB00000007", "2014-10-31", HEAD, "cancelled")])  # dated in the previous period
def test_every_format_gives_the_same_report(rows):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        alloc = write_allocations(folder)
        results = {name: run(alloc, [path]) for name, path in _formats(rows, folder).items()}
        expected = results.pop("canonical")
        key = ["code", "ban", "track", "begin_no", "end_no"]
        for name, result in results.items():
            assert blanks(result) == blanks(expected), name
            assert result.findings.select(key).equals(expected.findings.select(key)), name
            assert result.invoice_rows == expected.invoice_rows, name
