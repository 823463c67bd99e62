"""The bench's shapes (bench/shapes.py): every shape holds the base's rows, stored the way its
name says (types, encodings, order, files, columns), cached by recipe. A small period, written
to a temporary folder, several base files and several shuffle buckets."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parent.parent
N = 20_000
COLUMNS = ["invoice_number", "invoice_date", "seller_ban", "status", "machine", "upload_status"]


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    spec = importlib.util.spec_from_file_location("bench_shapes", ROOT / "bench" / "shapes.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_shapes"] = module
    spec.loader.exec_module(module)
    mp = pytest.MonkeyPatch()
    mp.setattr(module, "DATA", tmp_path_factory.mktemp("data"))
    mp.setattr(module, "GEN", {**module.QUICK_GEN, "chunk_rows": 6_000})  # 4 base files
    mp.setattr(module, "RANDOM_BUCKET_ROWS", 3_000)  # 7 shuffle buckets
    yield module
    mp.undo()


def _rows(shapes, name: str) -> pl.DataFrame:
    files = shapes.invoice_files(shapes.materialise(N, shapes.BY_NAME[name]))
    if name.startswith("csv"):
        return pl.concat([pl.read_csv(f, infer_schema=False) for f in files])
    return pl.read_parquet(files)


def _as_text(frame: pl.DataFrame) -> pl.DataFrame:
    """The base's columns and spelling (dates as YYYY-MM-DD text, categoricals as text)."""
    date = frame.schema["invoice_date"]
    if date in (pl.Date, pl.Datetime("us")):
        frame = frame.with_columns(pl.col("invoice_date").dt.date().dt.to_string("%Y-%m-%d"))
    return frame.with_columns(pl.col(pl.Categorical).cast(pl.String))


def _schema(shapes, name: str) -> dict[str, str]:
    first = shapes.invoice_files(shapes.materialise(N, shapes.BY_NAME[name]))[0]
    schema = pq.read_schema(first)
    return {f.name: str(f.type) for f in schema}


@pytest.mark.parametrize("name", [s for s in (
    "date", "datetime", "string", "large-string", "plain", "categorical", "date-order", "random",
    "one-file", "200-files", "no-optional", "date+random", "datetime+date-order",
    "categorical+random+200-files", "plain+date-order+no-optional", "csv", "csv-date-order",
    "csv-random", "csv-200-files")])
def test_every_shape_holds_the_base_rows(shapes, name) -> None:
    base = _rows(shapes, "base")
    assert base.columns == COLUMNS
    assert base.height > N  # a void and its re-issue are two rows
    rows = _as_text(_rows(shapes, name))
    assert rows.height == base.height
    keep = [c for c in COLUMNS if c in rows.columns]
    assert rows.select(keep).sort(keep).equals(base.select(keep).sort(keep))


def test_the_shape_list_is_the_matrix(shapes) -> None:
    assert list(shapes.BY_NAME) == [
        "base", "date", "datetime", "string", "large-string", "plain", "categorical",
        "date-order", "random", "one-file", "200-files", "no-optional", "date+random",
        "datetime+date-order", "categorical+random+200-files", "plain+date-order+no-optional",
        "csv", "csv-date-order", "csv-random", "csv-200-files"]
    assert [s.name for s in shapes.SHAPES if s.is_base] == ["base"]


def test_types_and_encodings(shapes) -> None:
    assert set(_schema(shapes, "base").values()) == {"large_string"}
    assert _schema(shapes, "date")["invoice_date"] == "date32[day]"
    assert _schema(shapes, "datetime")["invoice_date"] == "timestamp[us]"
    assert set(_schema(shapes, "string").values()) == {"string"}
    assert set(_schema(shapes, "large-string").values()) == {"large_string"}
    assert _schema(shapes, "categorical") == {
        "invoice_number": "large_string",
        **{c: "dictionary<values=string, indices=uint32, ordered=0>" for c in COLUMNS[1:]}}
    assert _schema(shapes, "no-optional").keys() == {
        "invoice_number", "invoice_date", "seller_ban", "status"}

    def dictionary_pages(name: str) -> set[bool]:
        files = shapes.invoice_files(shapes.materialise(N, shapes.BY_NAME[name]))
        meta = pq.ParquetFile(files[0]).metadata
        return {meta.row_group(g).column(c).has_dictionary_page
                for g in range(meta.num_row_groups) for c in range(meta.num_columns)}

    assert dictionary_pages("plain") == {False}
    assert dictionary_pages("string") == {True}


def test_files(shapes) -> None:
    def count(name: str) -> int:
        return len(shapes.invoice_files(shapes.materialise(N, shapes.BY_NAME[name])))

    assert count("base") == 4  # 20,0xx rows, 6,000 a file
    assert count("date") == 4
    assert count("one-file") == 1
    assert count("200-files") == 200
    assert count("categorical+random+200-files") == 200
    assert count("csv-200-files") == 200
    for path in shapes.invoice_files(shapes.materialise(N, shapes.BY_NAME["csv-200-files"])):
        with open(path, encoding="utf-8") as f:
            assert f.readline() == ",".join(COLUMNS) + "\n"


def _tills_in_issuing_order(frame: pl.DataFrame, by_day: bool = False) -> bool:
    """Each till's numbers rise in file order (of each day: a re-issue comes the day after its
    void, when the till has gone on issuing higher numbers)."""
    numbers = _as_text(frame).with_columns(n=pl.col("invoice_number").str.slice(2).cast(pl.Int64))
    till = ["seller_ban", "machine", *(["invoice_date"] if by_day else [])]
    return bool(numbers.select((pl.col("n").diff().over(till).fill_null(0) >= 0).all()).item())


def _dates_rise(frame: pl.DataFrame) -> bool:
    return bool(_as_text(frame).select(
        (pl.col("invoice_date") >= pl.col("invoice_date").shift(1)).fill_null(True).all()).item())


def test_row_orders(shapes) -> None:
    base = _rows(shapes, "base")
    assert _tills_in_issuing_order(base) and not _dates_rise(base)
    for name in ("date-order", "csv-date-order", "datetime+date-order"):
        frame = _rows(shapes, name)
        # date order across tills, each till's rows of a day still in issuing order
        assert _dates_rise(frame), name
        assert _tills_in_issuing_order(frame, by_day=True), name
        assert frame["seller_ban"].head(50).n_unique() > 1, name  # tills side by side
    for name in ("random", "csv-random", "date+random"):
        frame = _rows(shapes, name)
        assert not _dates_rise(frame), name
        assert not _tills_in_issuing_order(frame, by_day=True), name
    assert _rows(shapes, "random")["invoice_number"].equals(
        _rows(shapes, "date+random")["invoice_number"])  # one shuffle for every random shape


def test_datetime_has_a_time_within_its_day(shapes) -> None:
    frame = _rows(shapes, "datetime")
    times = frame["invoice_date"].dt.time()
    assert times.n_unique() > 10  # not all at midnight
    text = _rows(shapes, "base").sort("invoice_number", "invoice_date")
    assert frame.sort("invoice_number", "invoice_date")["invoice_date"].dt.date().dt.to_string(
        "%Y-%m-%d").equals(text["invoice_date"])


def test_cached_by_recipe(shapes) -> None:
    folder = shapes.materialise(N, shapes.BY_NAME["date"])
    done = (folder / "DONE").stat().st_mtime_ns
    assert shapes.materialise(N, shapes.BY_NAME["date"]) == folder
    assert (folder / "DONE").stat().st_mtime_ns == done
    assert shapes.folder_of(N, shapes.BY_NAME["datetime"]) != folder
    assert shapes.folder_of(N + 1, shapes.BY_NAME["date"]) != folder
    assert (folder / "allocations.parquet").read_bytes() == (
        shapes.base_folder(N) / "allocations.parquet").read_bytes()


def test_unknown_shape_names_are_refused(shapes) -> None:
    assert [s.name for s in shapes.pick("random,base")] == ["base", "random"]
    with pytest.raises(SystemExit, match="unknown shape"):
        shapes.pick("base,nope")
