"""What the dense scan reads of a Parquet invoice file, told from its footer alone: which
columns, of which types, the text keys as dictionary codes, and the columns it need not read
(one value in every row). pyarrow only, no polars: read_ahead.py plans with it before polars is
loaded."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ..invoice_columns import RAW_COLUMNS, REQUIRED, TEXT_KEYS, normal_name
from .one_value_columns import one_value

PER_ROW = ("invoice_date", "seller_ban", "machine", "status", "upload_status")  # tally's order


@dataclass(frozen=True)
class ParquetPlan:
    """How the dense scan reads one Parquet file."""

    columns: dict[str, str]  # normal column name → the file's own, of the columns read
    row_group_rows: list[int]  # rows of each row group
    # Per-row text columns whose statistics show one value in every row (normal name → the
    # value), coded as that value and not read (one_value_columns.py).
    one_values: dict[str, str]
    metadata: pq.FileMetaData  # the footer, parsed once



def plan(parquet: pq.ParquetFile) -> ParquetPlan | None:
    """The plan of an open file, or None where the dense scan does not read it as it is (a
    required column missing, two columns of one name, a column of a type it does not take):
    the polars paths then read it, and name what they refuse."""
    schema = parquet.schema_arrow
    names = {normal_name(n): n for n in schema.names}
    if len(names) != len(schema.names) or any(c not in names for c in REQUIRED):
        return None
    columns = {c: names[c] for c in RAW_COLUMNS if c in names}
    if not all(takes(c, schema.field(n).type) for c, n in columns.items()):
        return None
    meta = parquet.metadata
    texts = [c for c in PER_ROW if c in columns
             and text_type(value_type(schema.field(columns[c]).type))]
    one_values = {c: v for c in texts if (v := one_value(meta, columns[c])) is not None}
    return ParquetPlan({c: n for c, n in columns.items() if c not in one_values},
                       [meta.row_group(g).num_rows for g in range(meta.num_row_groups)],
                       one_values, meta)


def reader(path: str | Path, columns: dict[str, str], metadata: pq.FileMetaData | None
           ) -> pq.ParquetFile:
    """A reader of the file on its footer parsed once, the text keys among `columns` (normal →
    own) read as dictionaries: as the scan reads it."""
    return pq.ParquetFile(path, metadata=metadata, read_dictionary=dictionary_columns(columns))


def use_scan_pool() -> pa.MemoryPool | None:
    """Make jemalloc pyarrow's default pool, where pyarrow has it and the user chose no pool
    (ARROW_DEFAULT_MEMORY_POOL); return the pool it replaced, None if it replaced none. The
    scan's batches then reuse their memory from batch to batch, where mimalloc (pyarrow's
    default) takes fresh pages that the kernel must clear, and holds more (bench/README.md,
    "Datetime and date order"). Buffers remember the pool they came from, so the caller may
    put the pool back whenever it likes."""
    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        return None
    try:
        jemalloc = pa.jemalloc_memory_pool()
    except NotImplementedError:  # a build without jemalloc: its default
        return None
    before = pa.default_memory_pool()
    pa.set_memory_pool(jemalloc)
    return before


def dictionary_columns(columns: dict[str, str]) -> list[str]:
    """The file's own names of the text keys among `columns` (normal → own): pyarrow reads
    them as dictionaries, so that each distinct value is looked at once."""
    return [columns[c] for c in TEXT_KEYS if c in columns]


def text_type(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)


def value_type(t: pa.DataType) -> pa.DataType:
    return t.value_type if pa.types.is_dictionary(t) else t


def takes(column: str, t: pa.DataType) -> bool:
    """Whether the dense scan reads a Parquet column of this type as invoices._scan_parquet
    does: text (plain, large, view or dictionary), a date or timestamp for the date, integers
    for the seller, the date and the till. Any other type is left to that path's message."""
    t = value_type(t)
    if text_type(t):
        return True
    if column == "invoice_number":
        return False
    if column == "invoice_date" and (pa.types.is_date(t) or pa.types.is_timestamp(t)):
        return True
    return pa.types.is_integer(t) and column in ("seller_ban", "invoice_date", "machine")
