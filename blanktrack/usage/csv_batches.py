"""CSV invoice files as the dense scan reads them: Arrow record batches of text columns, as a
Parquet file's, so that one decoding (dense._Scan._parquet_batch) serves both.

A CSV that polars reads from disk (invoices.read_from_disk: large, or plain UTF-8) is read by
pyarrow's streaming reader, block by block, only the invoice columns, every cell as text: no
Categorical, whose category insertion was a quarter of a CSV run's CPU (bench/README.md, "CSV
(this round)"). A small file that is not plain (a BOM, quotes, another encoding) is decoded as
the validating path decodes it (invoices.scan_csv_file) and handed over whole.

Whatever pyarrow reads otherwise than polars would is declined (NotClean) and the polars paths
decide, naming file, line and field: a row of another width, a line that is not UTF-8, a bare
CR inside the file (pyarrow ends a line there, polars does not).
"""

from __future__ import annotations

import mmap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv

from .. import invoices
from .distinct_values import NotClean
from .one_pass import raw_frame

BLOCK_BYTES = 1 << 21  # pyarrow reads (and hands out) a file this many bytes a batch
_CR_CHECK_BYTES = 1 << 23  # a file's bytes looked at a time for a bare CR


@dataclass(frozen=True)
class CsvBatches:
    """One CSV invoice file's batches: `columns` maps each invoice column it has to the file's
    own name of it (the batches' names)."""

    path: Path
    columns: dict[str, str]
    whole: pa.Table | None = None  # a small file decoded here (not read from disk)

    def collect_batches(self, chunk_size: int | None = None) -> Iterator[pa.RecordBatch]:
        """The file's record batches, in order (chunk_size: unused; pyarrow reads BLOCK_BYTES
        a batch). NotClean where pyarrow and polars could read the file differently."""
        if self.whole is not None:
            yield from self.whole.to_batches()
            return
        if _has_bare_cr(self.path):
            raise NotClean(f"{self.path}: a bare CR")
        own = list(self.columns.values())
        try:
            reader = pacsv.open_csv(
                self.path,
                read_options=pacsv.ReadOptions(block_size=BLOCK_BYTES),
                # As polars reads a CSV: a quoted field may span lines, a blank line is a row
                # (of nulls: the polars path then names it), an empty field is null, "" is text.
                parse_options=pacsv.ParseOptions(newlines_in_values=True,
                                                  ignore_empty_lines=False),
                convert_options=pacsv.ConvertOptions(
                    include_columns=own, column_types=dict.fromkeys(own, pa.string()),
                    strings_can_be_null=True, null_values=[""],
                    quoted_strings_can_be_null=False),
            )
            with reader:
                yield from reader
        except pa.ArrowInvalid as exc:  # a ragged row, text not UTF-8, a quote never closed
            raise NotClean(f"{self.path}: {type(exc).__name__}") from None


def csv_batches(path: Path) -> CsvBatches | None:
    """The dense scan's reading of one CSV invoice file; None if its header lacks a required
    column or names one twice (the polars paths name the problem)."""
    if not invoices.read_from_disk(path, str(path)):
        frame = raw_frame(path)  # decoded as the validating path decodes it; a small file
        if frame is None:
            return None
        whole = frame.collect().to_arrow(compat_level=pl.CompatLevel.oldest())
        return CsvBatches(path, {c: c for c in invoices.RAW_COLUMNS}, whole)
    try:
        with pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=1 << 16)) as head:
            header = head.schema.names
    except pa.ArrowInvalid:
        return None  # e.g. a header line longer than the block: the polars paths read it
    names = {invoices.normal_name(n): n for n in header}
    if len(names) != len(header) or any(c not in names for c in invoices.REQUIRED):
        return None
    return CsvBatches(path, {c: names[c] for c in invoices.RAW_COLUMNS if c in names})


def _has_bare_cr(path: Path) -> bool:
    """Whether a CR in the file is not followed by LF: a memchr over the mapped file, and only
    where it finds a CR (a CRLF file) a look at the byte after each."""
    with path.open("rb") as fh:
        if path.stat().st_size == 0:
            return False
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
            if data.find(b"\r") < 0:
                return False
            return _bare_cr(np.frombuffer(data, np.uint8))  # (no view outlives the call)


def _bare_cr(data: np.ndarray) -> bool:
    for start in range(0, len(data), _CR_CHECK_BYTES):
        chunk = data[start:start + _CR_CHECK_BYTES + 1]  # and the next chunk's first byte
        after = np.flatnonzero(chunk[:_CR_CHECK_BYTES] == 13) + 1
        if len(after) and (after[-1] == len(chunk) or np.any(chunk[after] != 10)):
            return True
    return False
