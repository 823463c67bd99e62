"""Reading the platform download and an ERP CSV (issue 15): N invoices in each, read by
blanktrack's readers (`read_inputs`: read, checked, written to the engine's Parquet) and
reconciled end to end, side by side with the floor: polars reading every column of the same
file (`scan_csv(...).collect()`, all text). Each contender runs in a fresh process, in turns;
medians of wall time and peak RSS are printed with the load average.

    python bench/csv_bench.py [--invoices 20000000] [--repeat 3]

Data are written once under bench/data/csv-{N}/ (gitignored) and reused.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from xml_bench import BAN, DATA, PERIOD, PY, in_turns  # noqa: E402

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--invoices", type=int, default=20_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    folder = DATA / f"csv-v2-{args.invoices}"  # v2: the ERP shape of issue 15
    if not (folder / "done").exists():
        print(f"writing {args.invoices:,} invoices to {folder} …", file=sys.stderr)
        _write(folder, args.invoices)
    rows = []
    loads = []
    for name, floor in (("platform", FLOOR_PLATFORM), ("erp", FLOOR_ERP)):
        data = folder / f"{name}.csv"
        contenders = {
            "polars reads every column (floor)": [PY, "-c", floor, str(data)],
            "blanktrack reader (read_inputs)": [PY, "-c", READER, str(data)],
            "blanktrack reconcile": [PY, "-m", "blanktrack", "reconcile", "--period", PERIOD,
                                     "--allocations", str(folder / "allocations.csv"),
                                     "--invoices", str(data), "--out-dir",
                                     str(folder / f"out-{name}"), "--report-date", "2025-01-05"],
        }
        rows += in_turns(name, contenders, "polars reads every column (floor)", args.repeat,
                         loads)
    print(f"{args.invoices:,} invoices, median of {args.repeat}, {os.cpu_count()} cores, "
          f"load average {statistics.median(loads):.1f} (1 min, median over the runs)")
    print("| file | contender | wall | vs floor | peak RSS |\n|---|---|---|---|---|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
