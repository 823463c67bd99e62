"""Reading the platform download and an ERP CSV (issue 15): N invoices in each, read by
blanktrack's readers (`read_inputs`: read, checked, written to the engine's Parquet) and
reconciled end to end (`blanktrack reconcile`), side by side with the floor: polars reading
every column of the same file, all as text (`scan_csv(...).collect()`; the platform download
with 29 columns, M + 27 + one for an unquoted comma, ragged D rows allowed). Each contender runs
in a fresh process, in turns (so drift hits all alike); medians of wall time and peak RSS.

    python bench/csv_bench.py [--invoices 20000000] [--repeat 3] [--shapes platform,erp]
                              [--data-dir bench/data] [--out-dir DIR]

Arguments: --invoices N rows of each file (default 20,000,000); --repeat R turns (default 3);
--shapes which files (`platform`, `erp`, comma-separated; default both); --data-dir the folder
of the data (default bench/data); --out-dir where `blanktrack reconcile` writes (default a
temporary folder, removed at the end; a folder in memory such as /dev/shm keeps the disk out
of the figures).

Output: a Markdown table on stderr, then on stdout one JSON line per shape, e.g.
{"shape": "erp-csv", "rows": 20000000, "blanktrack_s": 9.1, "reader_s": 7.0,
 "polars_read_s": 5.2, "ratio": 1.75, "peak_rss": 512000000, "target": "≤2×", "pass": true,
 "rss_target": "<1 GB", "rss_pass": true, "repeat": 3, "load": 1.2}
where blanktrack_s is `blanktrack reconcile` end to end (median wall seconds), reader_s
`read_inputs` alone, polars_read_s the floor, ratio blanktrack_s / polars_read_s, peak_rss the
reconcile's median peak RSS in bytes, load the median 1-minute load average over the runs;
"pass" is ratio ≤ 2 (issue 15), "rss_pass" peak_rss < 1 GB (issue 14). Exit status 0 unless a
contender fails.

The ERP file has Chinese headers, 字軌 and 號碼 in columns of their own and ROC dates written
both ways (`113/11/05`, `1131105`); each till issues from its own booklets of 50 numbers. Data
are written once under bench/data/csv-v2-{N}/ (gitignored; or --data-dir) and reused.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from xml_bench import BAN, DATA, PERIOD, PY, _timed  # noqa: E402

PLATFORM_COLUMNS = 29  # M + 27 invoice columns + one more for an unquoted comma
CHUNK = 1_000_000

FLOOR_PLATFORM = f"""
import sys, polars as pl
schema = {{f"c{{i}}": pl.String for i in range({PLATFORM_COLUMNS})}}
pl.scan_csv(sys.argv[1], has_header=False, schema=schema, truncate_ragged_lines=True).collect()
"""
FLOOR_ERP = """
import sys, polars as pl
pl.scan_csv(sys.argv[1], infer_schema=False).collect()
"""
READER = """
import sys, tempfile
from pathlib import Path
from blanktrack.sources.resolve import read_inputs
with tempfile.TemporaryDirectory() as work:
    read_inputs([], [sys.argv[1]], Path(work))
"""


def _write(folder: Path, n: int) -> None:
    import polars as pl

    folder.mkdir(parents=True, exist_ok=True)
    platform, erp = folder / "platform.csv", folder / "erp.csv"
    with open(platform, "wb") as p_out, open(erp, "wb") as e_out:
        e_out.write("單號,發票日期,賣方統一編號,字軌,號碼,發票狀態,機台,金額\n".encode())
        for start in range(0, n, CHUNK):
            i = pl.int_range(start, min(n, start + CHUNK), eager=True).alias("i")
            day = (i * 61 // n + 1)
            frame = pl.DataFrame(i).with_columns(
                number=pl.format("AB{}", pl.col("i").cast(pl.String).str.zfill(8)),
                month=pl.when(day <= 30).then(pl.lit("11")).otherwise(pl.lit("12")),
                day=pl.when(day <= 30).then(day).otherwise(day - 30).cast(pl.String)
                .str.zfill(2),
                cancelled=(pl.col("i") % 100) == 7,
            )
            buyer = pl.when(pl.col("i") % 50 == 0).then(pl.lit("台灣,大公司")).otherwise(
                pl.lit("買方公司"))
            m = frame.select(text=pl.concat_str([
                pl.lit("M"), "number", pl.lit(""), pl.lit("07"),
                pl.when("cancelled").then(pl.lit("作廢已確認")).otherwise(pl.lit("開立已確認")),
                pl.format("2024/{}/{}", "month", "day"), pl.lit("04595257"), buyer,
                pl.lit(BAN), pl.lit("賣方"), pl.lit(""), pl.lit("100"), pl.lit("100"),
                pl.lit("0"), pl.lit("0"), pl.lit("5"), pl.lit("105"), pl.lit("1"),
                *[pl.lit("")] * 7, pl.lit("F0401"), pl.lit(BAN), pl.lit("賣方")],
                separator=","), i="i")
            d = frame.filter(pl.col("i") % 4 == 0).select(
                text=pl.format("D,{},品名,1,100,100,", "number"), i="i")
            lines = pl.concat([m.with_columns(k=0), d.with_columns(k=1)]).sort("i", "k")
            lines.select("text").write_csv(p_out, include_header=False, quote_style="never")
            # ROC dates both ways (113/11/05, 1131105), 字軌 and 號碼 in columns of their own
            frame.select(
                order=pl.format("SO{}", "i"),
                date=pl.when(pl.col("i") % 2 == 0).then(pl.format("113/{}/{}", "month", "day"))
                .otherwise(pl.format("113{}{}", "month", "day")),
                ban=pl.lit(BAN), track=pl.col("number").str.slice(0, 2),
                no=pl.col("number").str.slice(2),
                status=pl.when("cancelled").then(pl.lit("作廢")).otherwise(pl.lit("開立")),
                # a till issues from its own booklets (50 numbers), as tills do
                machine=pl.format("POS-{}", pl.col("i") // 50 % 3), amount=pl.lit("105"),
            ).write_csv(e_out, include_header=False)
    end = ((n + 49) // 50) * 50 - 1
    (folder / "allocations.csv").write_text(
        "ban,invoice_type,period,track,begin_no,end_no\n"
        f"{BAN},07,{PERIOD},AB,00000000,{end:08d}\n", encoding="utf-8")
    (folder / "done").write_text("ok\n")


SHAPES = {"platform": "platform-download", "erp": "erp-csv"}
FLOOR, READ, RECONCILE = ("polars reads every column (floor)", "blanktrack reader (read_inputs)",
                          "blanktrack reconcile")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--invoices", type=int, default=20_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--shapes", default="platform,erp")
    parser.add_argument("--data-dir", type=Path, default=DATA)
    parser.add_argument("--out-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    shapes = [s.strip() for s in args.shapes.split(",") if s.strip()]
    if not shapes or any(s not in SHAPES for s in shapes):
        parser.error(f"--shapes: comma-separated names of {', '.join(SHAPES)}")
    folder = args.data_dir / f"csv-v2-{args.invoices}"
    if not (folder / "done").exists():
        print(f"writing {args.invoices:,} invoices to {folder} …", file=sys.stderr)
        _write(folder, args.invoices)
    if args.out_dir is not None:
        return _measure(args, shapes, folder, args.out_dir)
    with tempfile.TemporaryDirectory(prefix="csv-bench-") as out:
        return _measure(args, shapes, folder, Path(out))


def _measure(args: argparse.Namespace, shapes: list[str], folder: Path, out_dir: Path) -> int:
    table, results = [], []
    for name in shapes:
        data = folder / f"{name}.csv"
        contenders = {
            FLOOR: [PY, "-c", FLOOR_PLATFORM if name == "platform" else FLOOR_ERP, str(data)],
            READ: [PY, "-c", READER, str(data)],
            RECONCILE: [PY, "-m", "blanktrack", "reconcile", "--period", PERIOD,
                        "--allocations", str(folder / "allocations.csv"),
                        "--invoices", str(data), "--out-dir", str(out_dir / f"out-{name}"),
                        "--report-date", "2025-01-05"],
        }
        runs: dict[str, list[tuple[float, int]]] = {c: [] for c in contenders}
        loads = []
        for _ in range(args.repeat):
            for contender, command in contenders.items():
                runs[contender].append(_timed(command))
                loads.append(os.getloadavg()[0])
        wall = {c: statistics.median(w for w, _ in r) for c, r in runs.items()}
        rss = {c: int(statistics.median(m for _, m in r)) for c, r in runs.items()}
        for contender in contenders:
            table.append(f"| {name} | {contender} | {wall[contender]:.2f} s | "
                         f"{wall[contender] / wall[FLOOR]:.2f}× | {rss[contender] / 2**20:.0f} MiB |")
        ratio = wall[RECONCILE] / wall[FLOOR]
        results.append({
            "shape": SHAPES[name], "rows": args.invoices, "blanktrack_s": round(wall[RECONCILE], 3),
            "reader_s": round(wall[READ], 3), "polars_read_s": round(wall[FLOOR], 3),
            "ratio": round(ratio, 3), "peak_rss": rss[RECONCILE], "target": "≤2×",
            "pass": ratio <= 2, "rss_target": "<1 GB", "rss_pass": rss[RECONCILE] < 10**9,
            "repeat": args.repeat, "load": round(statistics.median(loads), 1),
        })
    print(f"{args.invoices:,} invoices, median of {args.repeat}, {os.cpu_count()} cores",
          file=sys.stderr)
    print("| file | contender | wall | vs floor | peak RSS |\n|---|---|---|---|---|",
          file=sys.stderr)
    print("\n".join(table), file=sys.stderr)
    for result in results:
        print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
