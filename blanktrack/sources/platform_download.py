"""The MOF platform's invoice download (發票查詢 → 非即時查詢, spec §5.2): `M` rows are
invoices, `D` rows their items. A buyer name may hold an unquoted comma, so an M row is read
by position from both ends: number, status and date from the start, the seller BAN from the end.
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from .. import textio
from .dates import iso_dates
from .streamed import streamed

M_COLUMNS = 27  # 發票號碼 … 傳送方名稱, after the leading `M`
_SELLER_FROM_END = M_COLUMNS - 7  # 賣方統一編號 is the 8th of the 27
PLATFORM_STATUSES = {"開立已確認": "issued", "作廢已確認": "cancelled", "開立": "issued",
                     "作廢": "cancelled"}
_M_ROW = re.compile(r'^\ufeff?"?M"?\s*,\s*"?[A-Z]{2}[0-9]{8}"?\s*,')


def is_platform_row(line: str) -> bool:
    return bool(_M_ROW.match(line))


def read_platform(path: Path, name: str) -> pl.LazyFrame:
    """The raw invoice frame (invoices.RAW_COLUMNS as text, dates as YYYY-MM-DD, source, line) of
    the M rows, with
    `__problem`, `__field` and `__fix` set on a row that cannot be read (checked by the caller
    after the one pass over the file, resolve.checked)."""
    if streamed(path, name):  # a large UTF-8 file: read by polars, never held whole
        lines = pl.scan_lines(path, name="text", row_index_name="line", row_index_offset=1)
    else:
        text = textio.normalise_newlines(textio.read_text(path).text)
        lines = pl.LazyFrame({"text": text.split("\n")}).with_row_index("line", offset=1)
    m = lines.filter(pl.col("text").str.contains(r'^\ufeff?"?M"?\s*,'))
    fields = pl.col("text").str.split(",")
    m = m.with_columns(fields=fields, n=fields.list.len())

    def field(i: int) -> pl.Expr:
        value = (pl.col("fields").list.get(i, null_on_oob=True).str.strip_chars()
                 .str.strip_chars('"').str.strip_chars())
        return pl.when(value.str.len_bytes() > 0).then(value)

    raw = m.select(
        invoice_number=field(1),
        invoice_date=field(5).map_batches(iso_dates, return_dtype=pl.String,
                                          is_elementwise=True),
        seller_ban=field(-_SELLER_FROM_END),
        status=field(4),
        machine=pl.lit(None, pl.String),
        upload_status=pl.lit(None, pl.String),
        source=pl.lit(name),
        line=pl.col("line").cast(pl.Int64),
        n=pl.col("n"),
    )
    short = pl.col("n") < M_COLUMNS + 1
    known = pl.col("status").is_in(list(PLATFORM_STATUSES)).fill_null(False)
    # Each word by its own when/then, not replace: replace holds the whole column in memory.
    status = pl.coalesce(*[pl.when(pl.col("status") == word).then(pl.lit(canonical))
                           for word, canonical in PLATFORM_STATUSES.items()], pl.col("status"))
    return raw.with_columns(
        status=status,
        __problem=pl.when(short).then(pl.format(
            "an M row has {} fields, expected {} (M and the 27 invoice columns)", "n",
            pl.lit(M_COLUMNS + 1))).when(~known).then(pl.format(
                "status '{}' is not one blanktrack knows ({})", pl.col("status").fill_null(""),
                pl.lit(", ".join(PLATFORM_STATUSES)))),
        __field=pl.when(short).then(pl.lit(None, pl.String)).when(~known).then(pl.lit("發票狀態")),
        __fix=pl.when(short).then(pl.lit("download the invoices again (CSV of 非即時查詢)")).when(
            ~known).then(pl.lit("tell the blanktrack maintainers what this status means; "
                                "it is not guessed")),
    ).drop("n")
