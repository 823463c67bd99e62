"""The sample period 10312 and the large-period generator (blanktrack.demo)."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from blanktrack.ban import is_valid_ban
from blanktrack.demo import (
    ALLOCATION_COLUMNS,
    INVOICE_COLUMNS,
    MOF_HEADER,
    SAMPLE_DIR,
    SAMPLE_EXPECTED,
    generate_period,
    write_sample,
)
from blanktrack.period import Period

# ------------------------------------------------------------------------------------------------
# sample
# ------------------------------------------------------------------------------------------------


def _read_dir(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sample")
    write_sample(out)
    return out


def test_write_sample_is_deterministic(tmp_path: Path) -> None:
    a = write_sample(tmp_path / "a")
    b = write_sample(tmp_path / "b")
    def top(paths: list[Path], root: Path) -> list[str]:  # POS-3's Turnkey folder is one name
        return sorted({p.relative_to(root).parts[0] for p in paths})

    assert top(a, tmp_path / "a") == top(b, tmp_path / "b") == sorted(SAMPLE_EXPECTED["files"])
    assert _read_dir(tmp_path / "a") == _read_dir(tmp_path / "b")


def test_committed_sample_equals_write_sample(sample: Path) -> None:
    committed = _read_dir(SAMPLE_DIR)
    written = _read_dir(sample)
    assert sorted(committed) == sorted(written)
    for name, data in written.items():
        assert committed[name] == data, (
            f"{SAMPLE_DIR / name} differs from write_sample(); regenerate with "
            "python -c 'from blanktrack.demo import write_sample, SAMPLE_DIR; "
            "write_sample(SAMPLE_DIR)'"
        )


def test_sample_file_formats(sample: Path) -> None:
    alloc_text = (sample / "allocations.csv").read_text(encoding="utf-8")
    assert alloc_text.splitlines()[0] == ",".join(ALLOCATION_COLUMNS)
    mof = (sample / "invnoapply_10312.csv").read_bytes()
    assert mof.startswith(b"\xef\xbb\xbf")
    mof_lines = mof.decode("utf-8-sig").splitlines()
    assert mof_lines[0] == MOF_HEADER
    assert all(len(line.split(",")) == 7 for line in mof_lines)
    assert all("103/11 ~ 103/12" in line for line in mof_lines[1:])
    for name in SAMPLE_EXPECTED["files"]:
        if name.startswith("invoices_"):
            lines = (sample / name).read_text(encoding="utf-8").splitlines()
            assert lines[0] == ",".join(INVOICE_COLUMNS)
            assert lines[1:] == sorted(lines[1:])  # sorted rows
    assert "\r" not in "".join(p.read_text(encoding="utf-8") for p in sample.rglob("*")
                               if p.is_file())


def test_sample_mof_download_holds_the_canonical_allocations(sample: Path) -> None:
    canon = [
        (r["ban"], r["invoice_type"], r["track"], r["begin_no"], r["end_no"])
        for r in _csv_rows(sample / "allocations.csv")
    ]
    mof = [
        (r["統一編號"], r["發票類別代號"], r["字軌"], r["起號"], r["迄號"])
        for r in _csv_rows(sample / "invnoapply_10312.csv")
    ]
    assert canon == mof
    labels = {r["發票類別代號"]: r["發票類別"] for r in _csv_rows(sample / "invnoapply_10312.csv")}
    assert labels == {"07": "一般稅額計算", "08": "特種稅額計算"}
    assert {Period.parse_span(r["期別"]).code for r in _csv_rows(sample / "invnoapply_10312.csv")} \
        == {"10312"}


def _sample_invoices(sample: Path) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for name in SAMPLE_EXPECTED["files"]:
        if name.startswith("invoices_"):
            rows += [dict(r, file=name) for r in _csv_rows(sample / name)]
    return rows


def test_sample_every_ban_valid(sample: Path) -> None:
    allocs = _csv_rows(sample / "allocations.csv")
    bans = {r["ban"] for r in allocs} | {r["head_ban"] for r in allocs if r["head_ban"]}
    bans |= {r["seller_ban"] for r in _sample_invoices(sample)}
    assert bans == {"53567686", "04595257"}
    assert all(is_valid_ban(b) for b in bans)


def test_sample_planted_cases(sample: Path) -> None:
    allocs = _csv_rows(sample / "allocations.csv")
    invoices = _sample_invoices(sample)
    assert len(invoices) == SAMPLE_EXPECTED["totals"]["invoice_rows"] <= 400
    assert len(SAMPLE_EXPECTED["files"]) - 3 == 5  # three tills, the ERP, POS-3's Turnkey folder
    # the MOF's example: MB 02034200-02034299, invoices 02034200-02034267
    mb = [a for a in allocs if a["track"] == "MB"]
    assert [(a["ban"], a["invoice_type"], a["begin_no"], a["end_no"]) for a in mb] == [
        ("53567686", "07", "02034200", "02034299")
    ]
    mb_used = sorted(
        int(r["invoice_number"][2:]) for r in invoices if r["invoice_number"].startswith("MB")
    )
    assert mb_used == list(range(2_034_200, 2_034_268))
    # three tills share KT, each a whole number of booklets
    kt = [a for a in allocs if a["track"] == "KT"]
    assert [a["machine"] for a in kt] == ["POS-1", "POS-2", "POS-3"]
    for a in allocs:
        assert int(a["begin_no"]) % 50 == 0 and (int(a["end_no"]) + 1) % 50 == 0
    # types 07 and 08; the branch is reported by the head office
    assert {a["invoice_type"] for a in allocs} == {"07", "08"}
    assert {a["head_ban"] for a in allocs if a["ban"] == "04595257"} == {"53567686"}
    # void then re-issue: two rows with one number, the re-issue later
    vr = SAMPLE_EXPECTED["void_reissue"]
    pair = [r for r in invoices if r["invoice_number"] == vr["invoice_number"]]
    assert [(r["status"], r["invoice_date"]) for r in pair] == [
        ("voided", vr["voided"]), ("issued", vr["reissued"])
    ]
    # the other planted rows
    by_number: dict[str, list[dict[str, str]]] = {}
    for r in invoices:
        by_number.setdefault(r["invoice_number"], []).append(r)
    assert [r["status"] for r in by_number["KT47281315"]] == ["voided"]
    assert by_number["KT47281340"][0]["invoice_date"] == "2015-01-01"
    assert by_number["KT47281150"][0]["upload_status"] == "failed"
    assert by_number["KU47281180"][0]["seller_ban"] == "53567686"
    assert sum(r["status"] == "cancelled" for r in invoices) == 5
    assert all(len(rs) == 1 for n, rs in by_number.items() if n != vr["invoice_number"])
    assert {r["upload_status"] for r in invoices} == {"accepted", "failed", ""}


def _runs(numbers: list[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for n in sorted(numbers):
        if runs and runs[-1][1] == n - 1:
            runs[-1] = (runs[-1][0], n)
        else:
            runs.append((n, n))
    return runs


def test_sample_expected_matches_a_reference_computation(sample: Path) -> None:
    """SAMPLE_EXPECTED recomputed from the files with plain sets, by the rules of the spec."""
    period = Period.parse("10312")
    allowed = {period.shift(-1), period, period.shift(1)}
    allocs = _csv_rows(sample / "allocations.csv")
    invoices = _sample_invoices(sample)
    owner: dict[tuple[str, int], dict[str, str]] = {}
    for a in allocs:
        for n in range(int(a["begin_no"]), int(a["end_no"]) + 1):
            owner[(a["track"], n)] = a
    used: set[tuple[str, int]] = set()
    outside = []
    for r in invoices:
        key = (r["invoice_number"][:2], int(r["invoice_number"][2:]))
        a = owner.get(key)
        in_range = Period.of_date(dt.date.fromisoformat(r["invoice_date"])) in allowed
        if a is not None and a["ban"] == r["seller_ban"] and in_range:
            used.add(key)
        else:
            outside.append(r["invoice_number"])
    assert outside == ["KU47281180"]
    blanks = []
    keys = sorted({(a["ban"], a["invoice_type"], a["track"]) for a in allocs})
    for ban, itype, track in keys:
        numbers = [n for (t, n), a in owner.items()
                   if t == track and a["ban"] == ban and (t, n) not in used]
        for b, e in _runs(numbers):
            blanks.append({
                "head_ban": "53567686", "ban": ban, "invoice_type": itype, "track": track,
                "begin_no": f"{b:08d}", "end_no": f"{e:08d}", "count": e - b + 1,
            })
    assert blanks == SAMPLE_EXPECTED["blank_ranges"]
    totals = SAMPLE_EXPECTED["totals"]
    assert (len(owner), len(used), len(owner) - len(used)) == (
        totals["allocated"], totals["used"], totals["blank"]
    )
    # skipped numbers: blank below the highest used number of the same allocation row
    skipped = []
    for a in allocs:
        rng = range(int(a["begin_no"]), int(a["end_no"]) + 1)
        top = max((n for n in rng if (a["track"], n) in used), default=None)
        if top is not None:
            gaps = [n for n in rng if n < top and (a["track"], n) not in used]
            skipped += [(a["ban"], a["track"], f"{b:08d}", f"{e:08d}") for b, e in _runs(gaps)]
    expected_skipped = [
        (f["ban"], f["track"], f["begin_no"], f["end_no"])
        for f in SAMPLE_EXPECTED["findings"] if f["code"] == "skipped-number"
    ]
    assert sorted(skipped) == sorted(expected_skipped)
    assert sorted({f["code"] for f in SAMPLE_EXPECTED["findings"]}) == \
        SAMPLE_EXPECTED["finding_codes"]
    assert not set(SAMPLE_EXPECTED["finding_codes"]) & set(SAMPLE_EXPECTED["absent_finding_codes"])


def test_sample_readme_lists_every_blank_and_finding(sample: Path) -> None:
    text = (sample / "README.md").read_text(encoding="utf-8")
    for b in SAMPLE_EXPECTED["blank_ranges"]:
        assert f"| {b['track']} | {b['begin_no']} | {b['end_no']} | {b['count']} |" in text
    for f in SAMPLE_EXPECTED["findings"]:
        assert f"| {f['code']} | {f['severity']} | {f['ban']} | {f['track']} |" in text


# ------------------------------------------------------------------------------------------------
# generator
# ------------------------------------------------------------------------------------------------

GEN_ARGS = {
    "period": "11302", "n_invoices": 20_000, "n_bans": 25, "tills_per_ban": 3, "seed": 42,
    "skip_rate": 0.01, "cancel_rate": 0.02, "void_rate": 0.01,
}


def _read(path: Path) -> pl.DataFrame:
    if path.suffix == ".parquet":
        return pl.read_parquet(path)
    return pl.read_csv(path, infer_schema=False)


def _generated(info: dict) -> tuple[pl.DataFrame, pl.DataFrame]:
    allocs = _read(info["allocations"])
    invoices = pl.concat([_read(p) for p in info["invoice_files"]])
    return allocs, invoices


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_generate_period_is_deterministic(tmp_path: Path, fmt: str) -> None:
    a = generate_period(tmp_path / "a", fmt=fmt, chunk_rows=7_000, **GEN_ARGS)
    b = generate_period(tmp_path / "b", fmt=fmt, chunk_rows=7_000, **GEN_ARGS)
    assert _read_dir(tmp_path / "a") == _read_dir(tmp_path / "b")
    assert _read_dir(tmp_path / "a" / "invoices") == _read_dir(tmp_path / "b" / "invoices")
    assert len(a["invoice_files"]) == 3
    assert {k: v for k, v in a.items() if not isinstance(v, Path | list)} == \
        {k: v for k, v in b.items() if not isinstance(v, Path | list)}
    c = generate_period(tmp_path / "c", fmt=fmt, chunk_rows=7_000, **{**GEN_ARGS, "seed": 43})
    assert _read_dir(tmp_path / "c" / "invoices") != _read_dir(tmp_path / "a" / "invoices")
    assert c["allocations"].read_bytes() != a["allocations"].read_bytes()


def test_generate_period_chunking_does_not_change_the_data(tmp_path: Path) -> None:
    small = generate_period(tmp_path / "s", fmt="parquet", chunk_rows=1_234, **GEN_ARGS)
    whole = generate_period(tmp_path / "w", fmt="parquet", chunk_rows=10**6, **GEN_ARGS)
    assert len(small["invoice_files"]) == 17 and len(whole["invoice_files"]) == 1
    assert _generated(small)[1].equals(_generated(whole)[1])
    assert small["allocations"].read_bytes() == whole["allocations"].read_bytes()


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_generate_period_invariants(tmp_path: Path, fmt: str) -> None:
    info = generate_period(tmp_path, fmt=fmt, chunk_rows=6_000, **GEN_ARGS)
    allocs, inv = _generated(info)
    period = Period.parse("11302")
    assert allocs.columns == list(ALLOCATION_COLUMNS)
    assert inv.columns == list(INVOICE_COLUMNS)
    assert inv.height == info["n_rows"] == GEN_ARGS["n_invoices"] + info["n_voided"]
    assert allocs.height == info["n_allocations"]
    assert info["n_bans"] == allocs["ban"].n_unique() == GEN_ARGS["n_bans"]

    # BANs valid, allocations in whole booklets, no overlap, sorted
    bans = set(allocs["ban"]) | set(allocs["head_ban"].drop_nulls()) | set(inv["seller_ban"])
    assert all(is_valid_ban(b) for b in bans)
    assert set(allocs["period"]) == {"11302"}
    a = allocs.with_columns(b=pl.col("begin_no").cast(pl.Int64), e=pl.col("end_no").cast(pl.Int64))
    assert a.select(((pl.col("b") % 50 == 0) & ((pl.col("e") + 1) % 50 == 0)).all()).item()
    assert a.equals(a.sort("ban", "invoice_type", "track", "begin_no"))
    by_track = a.sort("track", "b").with_columns(prev=pl.col("e").shift(1).over("track"))
    assert by_track.filter(pl.col("b") <= pl.col("prev")).is_empty()
    assert info["allocated_numbers"] == int((a["e"] - a["b"] + 1).sum())

    # every invoice lies in an allocation of its BAN, handed to its till; dates in the period
    inv = inv.with_columns(
        track=pl.col("invoice_number").str.slice(0, 2),
        n=pl.col("invoice_number").str.slice(2).cast(pl.Int64),
        date=pl.col("invoice_date").str.to_date("%Y-%m-%d"),
    )
    joined = inv.join(
        a.select("ban", "track", "machine", "b", "e"),
        left_on=["seller_ban", "track", "machine"], right_on=["ban", "track", "machine"],
        how="left",
    ).filter((pl.col("n") >= pl.col("b")) & (pl.col("n") <= pl.col("e")))
    assert joined.height == inv.height
    assert inv["date"].min() >= period.first_day and inv["date"].max() <= period.last_day
    assert set(inv["status"]) == {"issued", "cancelled", "voided"}
    assert set(inv["upload_status"]) == {"accepted"}

    # (ban, number) unique except void -> re-issue pairs (void first, re-issue later)
    groups = inv.group_by("seller_ban", "invoice_number", maintain_order=True).agg(
        rows=pl.len(), statuses=pl.col("status"), dates=pl.col("date")
    )
    pairs = groups.filter(pl.col("rows") > 1)
    assert pairs["rows"].max() == 2
    assert pairs.height == info["n_voided"] > 0
    assert all(s == ["voided", "issued"] for s in pairs["statuses"].to_list())
    assert all(d[0] < d[1] for d in pairs["dates"].to_list())
    assert inv.filter(pl.col("status") == "voided").height == info["n_voided"]

    # each till issues in number order from the start of its sub-range, with rare skips
    per_till = inv.filter(pl.col("status") != "voided").group_by("seller_ban", "machine").agg(
        lo=pl.col("n").min(), hi=pl.col("n").max(), used=pl.len(),
        ordered=(pl.col("n").diff().drop_nulls() > 0).all(),
    ).join(a.select("ban", "machine", "b"), left_on=["seller_ban", "machine"],
           right_on=["ban", "machine"])
    assert per_till["ordered"].all()
    assert (per_till["lo"] >= per_till["b"]).all()
    skipped = int((per_till["hi"] - per_till["b"] + 1 - per_till["used"]).sum())
    assert skipped == info["n_skipped"]
    n = GEN_ARGS["n_invoices"]
    assert 0.5 * n * GEN_ARGS["skip_rate"] < skipped < 1.5 * n * GEN_ARGS["skip_rate"]
    cancelled = info["n_cancelled"]
    assert 0.7 * n * GEN_ARGS["cancel_rate"] < cancelled < 1.3 * n * GEN_ARGS["cancel_rate"]


def test_generate_period_mof_download(tmp_path: Path) -> None:
    info = generate_period(tmp_path, fmt="csv", **GEN_ARGS)
    raw = info["mof_allocations"].read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    mof = _csv_rows(info["mof_allocations"])
    canon = _csv_rows(info["allocations"])
    assert [(r["統一編號"], r["發票類別代號"], r["字軌"], r["起號"], r["迄號"]) for r in mof] == [
        (r["ban"], r["invoice_type"], r["track"], r["begin_no"], r["end_no"]) for r in canon
    ]
    assert {r["期別"] for r in mof} == {"113/01 ~ 113/02"}


def test_generate_period_rejects_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="even end month"):
        generate_period(tmp_path, fmt="csv", **{**GEN_ARGS, "period": "11301"})
    with pytest.raises(ValueError, match="skip_rate"):
        generate_period(tmp_path, fmt="csv", **{**GEN_ARGS, "skip_rate": 1.5})
    with pytest.raises(ValueError, match="fmt"):
        generate_period(tmp_path, fmt="xlsx", **GEN_ARGS)  # type: ignore[arg-type]


@pytest.mark.parametrize(("change", "says"), [
    ({"n_bans": 100_001}, "n_bans must be at most 100,000, not 100,001"),
    ({"n_bans": 100_000_000}, "n_bans must be at most 100,000"),
    ({"tills_per_ban": 1_001}, "tills_per_ban must be at most 1,000"),
    ({"n_bans": 2_000, "tills_per_ban": 1_000}, "n_bans × tills_per_ban must be at most 1,000,000"),
    ({"n_invoices": 1_000_000_001}, "n_invoices must be at most 1,000,000,000"),
    ({"n_invoices": -5}, "n_invoices must be ≥ 0"),
    ({"n_bans": 0}, "n_bans, tills_per_ban, chunk_rows ≥ 1"),
    ({"skip_rate": float("nan")}, "skip_rate must be in"),
    ({"void_rate": float("inf")}, "void_rate must be in"),
])
def test_generate_period_refuses_what_it_cannot_plan_at_once(
        tmp_path: Path, change: dict[str, float], says: str) -> None:
    """Bounded before any planning: 100,000,000 BANs used to search for valid BANs for hours."""
    with pytest.raises(ValueError, match=says):
        generate_period(tmp_path, fmt="csv", **{**GEN_ARGS, **change})  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []  # nothing written
