"""The shapes of one period (issue 14, "Fast on every shape"): the same invoices as real systems
export them, derived from one generated base by polars (sort, shuffle, cast) and written by
pyarrow (which lets a shape choose its string type and page encoding) or polars (CSV).

    python bench/shapes.py [--size 1M] [--shapes base,date+random] [--quick]  # generate

Every shape holds the same rows (the blank total must not change); only how they are stored
differs. The base is `blanktrack.demo.generate_period` as `make bench` has always used it (Parquet,
text dates, each till's rows in issuing order, 5M rows a file); a shape is a `Shape` recipe of
dimensions, each differing from the base's value only where its name says. Data are cached under
bench/data/, keyed by a hash of the generator parameters, the recipe and `DERIVATION` (bump it
when the derivation changes), with a `DONE` file written last.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / "data"
PY = sys.executable
PERIOD = "11302"

# Realistic shape: hundreds of BANs, thousands of tills, rare skipped numbers, cancellations.
GEN: dict[str, Any] = {
    "period": PERIOD, "n_bans": 400, "tills_per_ban": 10, "seed": 5, "skip_rate": 1e-4,
    "cancel_rate": 0.01, "void_rate": 0.002, "chunk_rows": 5_000_000,
}
# The smoke test's period: few BANs, so its runs measure the machinery, not the exports of
# hundreds of reporting BANs.
QUICK_GEN = {**GEN, "n_bans": 20, "tills_per_ban": 5}
DERIVATION = 3  # bump when the derivation below changes what it writes
RANDOM_BUCKET_ROWS = 2_000_000  # a shuffle is done bucket by bucket, in bounded memory
SHUFFLE_SEED = 14
DAY_US = 86_400_000_000
TEXT_KEYS = ("invoice_date", "seller_ban", "status", "machine", "upload_status")


@dataclass(frozen=True)
class Shape:
    """How a period's invoices are stored; the defaults are the base's."""

    name: str
    title: str
    fmt: str = "parquet"  # parquet | csv
    dates: str = "text"  # text (YYYY-MM-DD) | date (Date) | datetime (timestamp[us], with a time)
    strings: str = "as-generated"  # as-generated (polars: large_string, dictionary pages) |
    #   string | large-string (pyarrow, dictionary pages) | plain (pyarrow, no dictionary pages) |
    #   categorical (the low-cardinality text columns as Arrow dictionary arrays)
    order: str = "till"  # till (each till's rows in issuing order) | date (across tills) | random
    files: int | None = None  # None: 5M rows a file, as generated
    optional: bool = True  # the optional columns machine and upload_status present

    @property
    def is_base(self) -> bool:
        return (self.fmt, self.dates, self.strings, self.order, self.files, self.optional) == (
            "parquet", "text", "as-generated", "till", None, True)

    def recipe(self) -> dict[str, object]:
        return {k: v for k, v in asdict(self).items() if k not in ("name", "title")}


# Each dimension against the base, then a few combined worst cases. Not the full cross product.
SHAPES: tuple[Shape, ...] = (
    Shape("base", "Parquet as `demo generate` writes it: text dates, large strings with "
                  "dictionary pages, each till's rows in issuing order, 5M rows a file"),
    Shape("date", "invoice_date a Date column", dates="date"),
    Shape("datetime", "invoice_date a Datetime column (timestamp[us], with a time of day)",
          dates="datetime"),
    Shape("string", "text columns typed `string` (pyarrow writer), dictionary pages",
          strings="string"),
    Shape("large-string", "text columns typed `large_string` (pyarrow writer), dictionary pages",
          strings="large-string"),
    Shape("plain", "text columns plain-encoded: no dictionary pages (pyarrow writer)",
          strings="plain"),
    Shape("categorical", "the text columns but the number Categorical (Arrow dictionary type)",
          strings="categorical"),
    Shape("date-order", "rows in date order across tills (an ERP export)", order="date"),
    Shape("random", "rows in random order", order="random"),
    Shape("one-file", "all rows in one file", files=1),
    Shape("200-files", "the rows in 200 files", files=200),
    Shape("no-optional", "without the optional columns machine and upload_status",
          optional=False),
    Shape("date+random", "Date column, rows in random order", dates="date", order="random"),
    Shape("datetime+date-order", "a database export: Datetime column, `string` type, date order",
          dates="datetime", strings="string", order="date"),
    Shape("categorical+random+200-files", "Categorical columns, random order, 200 files",
          strings="categorical", order="random", files=200),
    Shape("plain+date-order+no-optional", "plain-encoded strings, date order, no optional columns",
          strings="plain", order="date", optional=False),
    Shape("csv", "CSV, each till's rows in issuing order, 5M rows a file", fmt="csv"),
    Shape("csv-date-order", "CSV in date order across tills", fmt="csv", order="date"),
    Shape("csv-random", "CSV in random order", fmt="csv", order="random"),
    Shape("csv-200-files", "CSV in 200 files", fmt="csv", files=200),
)
BY_NAME = {s.name: s for s in SHAPES}


def pick(names: str | None) -> list[Shape]:
    """The shapes named (comma-separated, as BENCH_SHAPES), in the matrix's order; all if None."""
    if names is None or not names.strip() or names.strip() == "all":
        return list(SHAPES)
    wanted = [x.strip() for x in names.split(",") if x.strip()]
    unknown = [x for x in wanted if x not in BY_NAME]
    if unknown:
        raise SystemExit(f"unknown shape(s) {', '.join(unknown)}; known: {', '.join(BY_NAME)}")
    return [s for s in SHAPES if s.name in wanted]


def label(n: int) -> str:
    return f"{n // 1_000_000}M" if n >= 1_000_000 and n % 1_000_000 == 0 else f"{n // 1000}k"


def _key(n: int, what: dict[str, object]) -> str:
    # The shuffle's hash is polars' own: stable within a version only. (The version is read
    # from the metadata: bench/run.py must not import polars, see base_folder.)
    params = {**GEN, "n_invoices": n, "derivation": DERIVATION, "polars": version("polars"),
              **what}
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:12]


# ---------------------------------------------------------------------------------------------
# The base: the demo generator in a fresh process (its memory is gone when it ends)


def use_quick_period() -> None:
    """Generate and derive the smoke test's small period from now on (its own cache keys)."""
    GEN.update(QUICK_GEN)


def _base_params(n: int) -> dict[str, Any]:
    return {**GEN, "n_invoices": n, "fmt": "parquet", "generator": 1}


def base_folder(n: int) -> Path:
    """Where the base period of n invoices is (or will be). Paths only: bench/run.py asks for
    them without importing polars, and generates in a subprocess, because a child process's peak
    RSS (wait4) is never below the measuring process's own peak."""
    key = hashlib.sha256(json.dumps(_base_params(n), sort_keys=True).encode()).hexdigest()[:12]
    return DATA / f"{label(n)}-parquet-{key}"  # the name `make bench` has always used


def base(n: int) -> Path:
    """Generate (once) the base period of n invoices; return its folder."""
    params = _base_params(n)
    out = base_folder(n)
    if (out / "DONE").exists():
        return out
    shutil.rmtree(out, ignore_errors=True)
    print(f"generating {label(n)} invoices (the base) in {out} …", flush=True)
    code = (
        "import json, sys; from pathlib import Path; from blanktrack.demo import generate_period\n"
        "p = json.loads(sys.argv[1]); out = Path(sys.argv[2]); p.pop('generator')\n"
        "generate_period(out, **p)\n"
    )
    t = time.perf_counter()
    subprocess.run([PY, "-c", code, json.dumps(params), str(out)], check=True, cwd=ROOT)
    (out / "DONE").write_text(json.dumps(params))
    print(f"  generated in {time.perf_counter() - t:.1f} s", flush=True)
    return out


def invoice_files(folder: Path) -> list[Path]:
    return sorted((folder / "invoices").glob("invoices_*"))


def row_count(folder: Path) -> int:
    """Invoice rows of a Parquet folder (a few more than invoices: a void and its re-issue)."""
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(p).metadata.num_rows for p in invoice_files(folder))


def allocations(folder: Path) -> Path:
    return next(folder.glob("allocations.*"))


# ---------------------------------------------------------------------------------------------
# Row order: the base reordered once per order, Parquet, all columns, text (an intermediate)


def _ordered(n: int, order: str) -> Path:
    """The base's rows in `order` (till: the base itself), cached as Parquet files."""
    src = base(n)
    if order == "till":
        return src
    if order not in ("date", "random"):
        raise ValueError(f"order must be till, date or random, not {order!r}")
    out = DATA / f"{label(n)}-order-{order}-{_key(n, {'order': order})}"
    if (out / "DONE").exists():
        return out
    import polars as pl

    print(f"  putting {label(n)} invoices in {order} order in {out} …", flush=True)
    t = time.perf_counter()
    shutil.rmtree(out, ignore_errors=True)
    parts = out / ".parts"
    # Pass 1: each base file's rows into buckets (a day, or a random bucket), one file a piece.
    offset = 0
    n_buckets = max(1, math.ceil(n / RANDOM_BUCKET_ROWS))
    for f, path in enumerate(invoice_files(src)):
        frame = pl.read_parquet(path)
        if order == "date":
            frame = frame.with_columns(bucket=pl.col("invoice_date"))
        else:
            draw = pl.int_range(offset, offset + frame.height, dtype=pl.UInt64).hash(SHUFFLE_SEED)
            frame = frame.with_columns(draw=draw).with_columns(
                bucket=(pl.col("draw") % n_buckets).cast(pl.String).str.zfill(6))
        offset += frame.height
        for (bucket,), piece in frame.partition_by("bucket", as_dict=True).items():
            folder = parts / str(bucket)
            folder.mkdir(parents=True, exist_ok=True)
            piece.drop("bucket").write_parquet(folder / f"{f:06d}.parquet")
        del frame
    # Pass 2: bucket by bucket in key order (ISO dates sort as days), rows ordered inside.
    rows = row_count(src)
    sink = _Sink(out / "invoices", rows, math.ceil(rows / GEN["chunk_rows"]), "parquet",
                 "as-generated")
    for folder in sorted(parts.iterdir()):
        frame = pl.read_parquet(sorted(folder.glob("*.parquet")))
        if order == "date":
            # Tills issue side by side through the day: a row's place is its share of its till's
            # day (the till's own rows stay in issuing order).
            till = ["seller_ban", "machine"]
            frame = frame.with_columns(
                share=pl.int_range(pl.len()).over(till) / pl.len().over(till)
            ).sort("share", *till, maintain_order=True).drop("share")
        else:
            frame = frame.sort("draw").drop("draw")
        sink.write(frame)
        del frame
    sink.close()
    shutil.rmtree(parts)
    shutil.copy2(allocations(src), out / allocations(src).name)
    (out / "DONE").write_text(json.dumps({"order": order}))
    print(f"    in {time.perf_counter() - t:.1f} s", flush=True)
    return out


# ---------------------------------------------------------------------------------------------
# Writing: a stream of frames into a given number of files of (nearly) equal rows


class _Sink:
    """Writes frames in turn into `n_files` files `invoices_NNNN.{fmt}` under `folder`, the rows
    split evenly, each file written whole before the next begins."""

    def __init__(self, folder: Path, total: int, n_files: int, fmt: str, strings: str) -> None:
        self.folder, self.fmt, self.strings = folder, fmt, strings
        n_files = max(1, min(n_files, total))
        # file i holds rows [total·i/n, total·(i+1)/n): exactly n_files files, sizes ±1
        self.sizes = [total * (i + 1) // n_files - total * i // n_files for i in range(n_files)]
        self.index, self.rows, self.per_file, self.writer = 0, 0, 0, None
        folder.mkdir(parents=True, exist_ok=True)

    def _open(self) -> None:
        self.per_file = self.sizes[min(self.index, len(self.sizes) - 1)]
        self.index += 1
        self.rows = 0
        self.path = self.folder / f"invoices_{self.index:04d}.{self.fmt}"
        self.writer = None
        self.handle = open(self.path, "wb") if self.fmt == "csv" else None  # noqa: SIM115

    def _write_piece(self, frame) -> None:
        import pyarrow.parquet as pq

        if self.fmt == "csv":
            frame.write_csv(self.handle, include_header=self.rows == 0, line_terminator="\n")
        else:
            table = _arrow(frame, self.strings)
            if self.writer is None:
                self.writer = pq.ParquetWriter(
                    self.path, table.schema, use_dictionary=self.strings != "plain",
                    compression="zstd", write_statistics=True)
            self.writer.write_table(table)
        self.rows += frame.height

    def write(self, frame) -> None:
        start = 0
        while start < frame.height:
            if self.index == 0 or (self.rows >= self.per_file and self.index < len(self.sizes)):
                self.close()
                self._open()
            take = frame.height - start  # the last file takes whatever is left
            if self.index < len(self.sizes):
                take = min(take, self.per_file - self.rows)
            self._write_piece(frame.slice(start, take))
            start += take

    def close(self) -> None:
        if self.index == 0:
            return
        if self.writer is not None:
            self.writer.close()
            self.writer = None
        if self.handle is not None:
            self.handle.close()
            self.handle = None


def _arrow(frame, strings: str):
    """The frame as an Arrow table with the shape's string type."""
    import pyarrow as pa

    table = frame.to_arrow()
    if strings == "categorical":
        return table
    text = pa.string() if strings in ("string", "plain") else pa.large_string()
    fields = [pa.field(f.name, text) if pa.types.is_large_string(f.type) or pa.types.is_string(f.type)
              or pa.types.is_string_view(f.type) else f for f in table.schema]
    return table.cast(pa.schema(fields))


def _transform(frame, shape: Shape):
    """The shape's columns from a frame of the base's (all text)."""
    import polars as pl

    if shape.dates == "date":
        frame = frame.with_columns(pl.col("invoice_date").str.to_date("%Y-%m-%d"))
    elif shape.dates == "datetime":
        # A time of day: each till's invoices spread through its day in issuing order (the
        # share of the rows of its day before it in this frame).
        day = ["seller_ban", "machine", "invoice_date"]
        share = pl.int_range(pl.len()).over(day) * DAY_US // pl.len().over(day)
        frame = frame.with_columns(
            (pl.col("invoice_date").str.to_datetime("%Y-%m-%d", time_unit="us")
             + pl.duration(microseconds=share)).alias("invoice_date"))
    if not shape.optional:
        frame = frame.drop("machine", "upload_status")
    if shape.strings == "categorical":
        frame = frame.with_columns(
            pl.col(c).cast(pl.Categorical) for c in TEXT_KEYS
            if c in frame.columns and frame.schema[c] == pl.String)
    return frame


# ---------------------------------------------------------------------------------------------
# A shape


def folder_of(n: int, shape: Shape) -> Path:
    """Where the shape's data for n invoices are (or will be)."""
    if shape.is_base:
        return base_folder(n)
    return DATA / f"{label(n)}-{shape.name}-{_key(n, shape.recipe())}"


def materialise(n: int, shape: Shape) -> Path:
    """Generate (once) the period of n invoices in the shape; return its folder, which holds
    `allocations.parquet` (the base's) and `invoices/invoices_NNNN.{parquet,csv}`."""
    if shape.is_base:
        return base(n)
    out = folder_of(n, shape)
    if (out / "DONE").exists():
        return out
    import polars as pl

    source = _ordered(n, shape.order)
    print(f"  writing {label(n)} invoices as shape {shape.name} in {out} …", flush=True)
    t = time.perf_counter()
    shutil.rmtree(out, ignore_errors=True)
    staging = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    rows = row_count(source)
    n_files = shape.files or math.ceil(rows / GEN["chunk_rows"])
    sink = _Sink(staging / "invoices", rows, n_files, shape.fmt, shape.strings)
    for path in invoice_files(source):
        sink.write(_transform(pl.read_parquet(path), shape))
    sink.close()
    alloc = allocations(source)
    shutil.copy2(alloc, staging / alloc.name)
    (staging / "DONE").write_text(json.dumps(shape.recipe()))
    os.replace(staging, out)
    print(f"    in {time.perf_counter() - t:.1f} s, {disk_use(out) / 1e9:.2f} GB", flush=True)
    return out


def disk_use(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def iter_materialised(n: int, shapes: Iterable[Shape]) -> Iterator[tuple[Shape, Path]]:
    for shape in shapes:
        yield shape, materialise(n, shape)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="1M")
    ap.add_argument("--shapes", default=os.environ.get("BENCH_SHAPES"))
    ap.add_argument("--quick", action="store_true", help="the smoke test's small period")
    args = ap.parse_args(argv)
    if args.quick:
        use_quick_period()
    text = args.size.strip().lower()
    n = int(float(text.rstrip("km")) * {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1))
    t = time.perf_counter()
    for shape, folder in iter_materialised(n, pick(args.shapes)):
        print(f"{shape.name:<32} {disk_use(folder) / 1e9:7.2f} GB  {folder}")
    print(f"all in {time.perf_counter() - t:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
