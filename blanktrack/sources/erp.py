"""ERP exports: CSV or Excel (.xlsx) with Chinese headers and their common synonyms, ROC or
Western dates, 字軌 and 號碼 in separate columns; any other header through a column mapping
(`--columns invoice_number=單據號碼,…`, or `columns:` in the params file)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import cast

import polars as pl

from .. import invoices as inv
from .. import textio
from ..errors import InputError, Problem
from .dates import iso_dates
from .streamed import streamed

# canonical name → headers that mean it (compared without spaces, case-insensitively)
SYNONYMS: dict[str, tuple[str, ...]] = {
    "invoice_number": ("invoice_number", "發票號碼", "發票號", "發票編號", "發票字軌號碼"),
    "track": ("track", "字軌", "發票字軌"),
    "number": ("number", "號碼", "發票號碼8碼"),
    "invoice_date": ("invoice_date", "發票日期", "開立日期"),
    # Not a bare 統一編號: in a sales export that is as often the buyer's.
    "seller_ban": ("seller_ban", "賣方統編", "賣方統一編號", "賣方統編號"),
    "status": ("status", "發票狀態", "狀態"),
    "machine": ("machine", "機台", "機台號碼", "機台編號", "收銀機", "收銀機號"),
    "upload_status": ("upload_status", "上傳狀態", "上傳結果"),
}
MAPPABLE = tuple(SYNONYMS)
# Columns of few distinct values: read as Categorical, worked out once per value.
FEW = ("invoice_date", "seller_ban", "status", "machine", "upload_status")
# Status words of ERP exports and the platform's Excel download → the canonical words.
STATUS_WORDS = {
    "已開立": "issued", "開立已確認": "issued", "正常": "issued",
    "已作廢": "cancelled", "作廢已確認": "cancelled",
    "已註銷": "voided",
}
UPLOAD_WORDS = {"成功": "accepted", "已上傳": "accepted", "失敗": "failed", "上傳失敗": "failed"}


def _key(header: str) -> str:
    return "".join(inv.normal_name(header).split())


def mapping(header: list[str], columns: dict[str, str] | None = None) -> dict[str, str] | None:
    """canonical name → the header that holds it; None when the header does not name an
    invoice number (or 字軌 + 號碼), a date, a seller BAN and a status."""
    by_key = {_key(h): h for h in header}
    found: dict[str, str] = {}
    for canonical, header_name in (columns or {}).items():
        if _key(header_name) in by_key:
            found[canonical] = by_key[_key(header_name)]
    for canonical, names in SYNONYMS.items():
        if canonical in found:
            continue
        for name in names:
            if _key(name) in by_key and by_key[_key(name)] not in found.values():
                found[canonical] = by_key[_key(name)]
                break
    has_number = "invoice_number" in found or {"track", "number"} <= set(found)
    if not has_number or not {"invoice_date", "seller_ban", "status"} <= set(found):
        return None
    return found


def missing_mapped(header: list[str], columns: dict[str, str], name: str) -> InputError | None:
    """The error for a column mapping that names a header the file does not have."""
    keys = {_key(h) for h in header}
    absent = [f"{c}={h}" for c, h in columns.items() if _key(h) not in keys]
    if not absent:
        return None
    return InputError(Problem(name, 1, None,
                              f"the column mapping names header(s) this file lacks: {', '.join(absent)} "
                              f"(found: {', '.join(header)})", "correct --columns or the params file"))


def _read_table(path: Path, name: str, kind: str, columns: dict[str, str] | None
                ) -> tuple[pl.LazyFrame, list[str], int, dict[str, str], bool]:
    """Every cell as text (the columns of few distinct values as Categorical, so that the CSV
    reader hashes each cell once and a value is worked out once per category), the header, the
    line of the first row, the column mapping (canonical → header) and whether a record spans
    lines (a quoted value with a line end)."""
    if kind == "xlsx":
        try:
            sheet = pl.read_excel(path, sheet_id=1, engine="calamine", infer_schema_length=0)
        except Exception as exc:  # fastexcel raises its own types
            raise InputError(Problem(name, None, None, f"cannot read the Excel file: {exc}",
                                     "save it again as .xlsx, or export CSV")) from exc
        header = [str(c).lstrip("\ufeff") for c in sheet.columns]
        cells = sheet.with_columns(pl.all().cast(pl.String)).rename(
            dict(zip(sheet.columns, header, strict=True)))
        return cells.lazy(), header, 2, _mapping_of(header, columns, name, 1), False
    if streamed(path, name):  # a large UTF-8 file: read by polars, never held whole
        first = textio.first_line(textio.read_head(path, 2**20, name).decode("utf-8", "replace"))
        source: Path | bytes = path
    else:
        text = textio.normalise_newlines(textio.read_text(path).text)
        first = textio.first_line(text)
        source = text.encode("utf-8")
    if first is None:
        raise InputError(Problem(name, None, None, "the file is empty", "export it again"))
    textio.check_delimiter(first[1], name, first[0])
    skip = first[0] - 1
    try:
        written = pl.scan_csv(source, infer_schema=False, skip_lines=skip).collect_schema().names()
        header = [c.lstrip("\ufeff") for c in written]
        found = _mapping_of(header, columns, name, first[0])
        spans = _spans_lines(source, name)
        # Where a record spans lines, every column is text: its line ends are counted.
        few = {} if spans else {written[header.index(found[c])]:
                                pl.Categorical(pl.Categories.random()) for c in FEW if c in found}
        frame = pl.scan_csv(source, schema_overrides=few, infer_schema=False,
                            skip_lines=skip).rename(dict(zip(written, header, strict=True)))
    except pl.exceptions.PolarsError as exc:
        raise InputError(Problem(name, None, None, f"malformed CSV: {exc}",
                                 "quote values that contain commas")) from exc
    return frame, header, first[0] + 1, found, spans


_CHUNK_BYTES = 2**24


def _spans_lines(source: Path | bytes, name: str) -> bool:
    """Whether a record of the CSV spans lines: some line has an odd number of quotes, so a
    quoted value goes on past its end. A file without a quote is known by one byte search."""
    if isinstance(source, bytes):
        if b'"' not in source:
            return False
    else:
        with textio.open_regular(source, name) as fh:
            while chunk := fh.read(_CHUNK_BYTES):
                if b'"' in chunk:
                    break
            else:
                return False
    odd = pl.col("line").str.count_matches('"', literal=True) % 2 == 1
    return bool(pl.scan_lines(source).select(odd.any()).collect(engine="streaming").item())


def _mapping_of(header: list[str], columns: dict[str, str] | None, name: str, line: int
                ) -> dict[str, str]:
    if columns:
        err = missing_mapped(header, columns, name)
        if err is not None:
            raise err
    found = mapping(header, columns)
    if found is None:
        raise InputError(Problem(name, line, None,
                                 f"cannot tell which column is which (found: {', '.join(header)})",
                                 "name the columns with --columns invoice_number=…,invoice_date=…,"
                                 "seller_ban=…,status=… (or columns: in the params file)"))
    return found


def per_distinct(values: pl.Series, words: dict[str, str] | None = None) -> pl.Series:
    """Each value stripped (empty → null) and, with `words`, put in the canonical words."""
    distinct = values.unique().drop_nulls().to_frame("raw")
    table = distinct.select("raw", new=_cleaned(pl.col("raw"), words))
    return values.replace(table["raw"], table["new"])


def _cleaned(value: pl.Expr, words: dict[str, str] | None) -> pl.Expr:
    value = value.str.strip_chars()
    value = pl.when(value.str.len_bytes() > 0).then(value)
    return value.replace(words) if words else value


class PerCategory:
    """A Categorical column's values worked out once per category, as map_batches' function:
    each batch's codes pick from the values of the codes met so far. A code is its value's
    index in the column's categories, which only grow: a batch with a code past those worked
    out works out the categories added since (whatever order the threads hand the batches
    in). The result is Categorical too, so a row costs a code, not a string, here, in the
    engine's Parquet and in the engine, which looks at a column's few values once."""

    def __init__(self, words: dict[str, str] | None = None, dates: bool = False) -> None:
        self.words, self.dates = words, dates
        self.lock = threading.Lock()
        self.dtype = pl.Categorical(pl.Categories.random())
        self.by_code = pl.Series("new", [], pl.String)
        self.out_by_code = pl.Series("new", [], self.dtype)
        self.alive: pl.Series | None = None

    def __call__(self, values: pl.Series) -> pl.Series:
        if not isinstance(values.dtype, pl.Categorical):  # an Excel sheet's column, text
            return self._clean(values.cast(pl.String)).cast(self.dtype)
        codes = values.to_physical()
        top = cast("int | None", codes.max())  # codes: an integer column; None: all null
        with self.lock:
            if top is not None and top >= self.by_code.len():
                self._learn(values)
            by_code = self.out_by_code
        return by_code.gather(codes).alias(values.name)

    def _learn(self, values: pl.Series) -> None:
        # Categories live while a column of them does (not its dtype): a code must keep its
        # meaning from batch to batch.
        self.alive = values
        dtype = cast("pl.Categorical", values.dtype)
        new = dtype.categories.to_series()[self.by_code.len():]
        self.by_code = pl.concat([self.by_code, self._clean(new).alias("new")])
        self.out_by_code = self.by_code.cast(self.dtype)

    def _clean(self, values: pl.Series) -> pl.Series:
        if self.dates:
            return iso_dates(values)
        return per_distinct(values, self.words)


def read_erp(path: Path, name: str, kind: str, columns: dict[str, str] | None = None
             ) -> pl.LazyFrame:
    """The raw invoice frame (invoices.RAW_COLUMNS as text, dates as YYYY-MM-DD where they are
    one of the spellings sources.dates knows, source, line) of an ERP export."""
    frame, header, first_line, found, spans = _read_table(path, name, kind, columns)
    # A record's line: the header's next plus the rows before it (a blank line is a row of
    # nulls, so it counts) plus the line ends inside quoted values of earlier records.
    line = pl.col("__row").cast(pl.Int64) + first_line
    if spans:
        breaks = pl.sum_horizontal(pl.col(h).str.count_matches("\n", literal=True).fill_null(0)
                                   for h in header).cast(pl.Int64)
        line = line + breaks.cum_sum() - breaks

    def text(canonical: str) -> pl.Expr:
        if canonical not in found:
            return pl.lit(None, pl.String)
        return _cleaned(pl.col(found[canonical]).cast(pl.String), None)

    def few(canonical: str, clean: PerCategory) -> pl.Expr:
        """text(canonical), worked out once per distinct value (dates, BANs, statuses and
        tills repeat over millions of rows)."""
        if canonical not in found:
            return pl.lit(None, pl.String)
        return pl.col(found[canonical]).map_batches(clean, return_dtype=clean.dtype,
                                                    is_elementwise=True)

    number = text("invoice_number")
    if {"track", "number"} <= set(found):
        # Each part stripped (a padded 字軌 or 號碼 makes no space inside the number); an
        # empty part is left to the engine, which names the number as written.
        def part(canonical: str) -> pl.Expr:
            return pl.col(found[canonical]).cast(pl.String).str.strip_chars()

        number = pl.concat_str(part("track"), part("number"))
    elif "track" in found:  # 字軌 beside an 8-digit 發票號碼
        number = pl.when(number.str.len_chars() == 8).then(pl.concat_str(text("track"), number)
                                                           ).otherwise(number)
    raw = frame.with_row_index("__row").select(
        invoice_number=number,
        invoice_date=few("invoice_date", PerCategory(dates=True)),
        seller_ban=few("seller_ban", PerCategory()),
        status=few("status", PerCategory(STATUS_WORDS)),
        machine=few("machine", PerCategory()),
        upload_status=few("upload_status", PerCategory(UPLOAD_WORDS)),
        source=pl.lit(name),
        line=line,
    )
    return raw.filter(~pl.all_horizontal(pl.col(c).is_null() for c in inv.RAW_COLUMNS))
