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
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from .. import invoices
from .distinct_values import NotClean
from .one_pass import TEXT_KEYS, raw_frame

BLOCK_BYTES = 1 << 21  # pyarrow reads (and hands out) a file this many bytes a batch
_CR_CHECK_BYTES = 1 << 23  # a file's bytes looked at a time for a bare CR
RUN_SAMPLE = 1024  # a batch's first rows: where their values come in runs, code it by its runs
# As polars reads a CSV: a quoted field may span lines, a blank line is a row (of nulls: the
# polars path then names it).
_PARSE = pacsv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False)


@dataclass(frozen=True)
class CsvBatches:
    """One CSV invoice file's batches. `columns` maps each invoice column the file has to its
    own name (the batches' names); it is filled when the file is opened, in the scanning thread
    that reads it (the checks read a small file whole: two hundred daily files are then not
    read one after another before the scan starts)."""

    path: Path
    columns: dict[str, str] = field(default_factory=dict)

    def collect_batches(self, chunk_size: int) -> Iterator[pa.RecordBatch]:
        """The file's record batches in order, of at most chunk_size rows (pyarrow reads
        BLOCK_BYTES a batch), the text keys dictionary-coded. NotClean where the dense scan does
        not take the file, or where pyarrow and polars could read it differently."""
        name = str(self.path)
        # A file not large is read from disk only where plain, and a plain one has no bare CR.
        large = self.path.stat().st_size > invoices.LARGE_FILE_BYTES
        if not large and not invoices.read_from_disk(self.path, name):
            frame = raw_frame(self.path)  # decoded as the validating path decodes it
            if frame is None:
                raise NotClean(f"{name}: the header lacks a column")
            self.columns.update({c: c for c in invoices.RAW_COLUMNS})
            whole = frame.collect().to_arrow(compat_level=pl.CompatLevel.oldest())
            for batch in whole.to_batches(max_chunksize=chunk_size):
                yield _keys_coded(batch, self.columns)
            return
        if large and _has_bare_cr(self.path):
            raise NotClean(f"{name}: a bare CR")
        try:
            with pacsv.open_csv(self.path, read_options=pacsv.ReadOptions(block_size=1 << 16),
                                parse_options=_PARSE) as head:
                header = head.schema.names
            names = {invoices.normal_name(n): n for n in header}
            if len(names) != len(header) or any(c not in names for c in invoices.REQUIRED):
                raise NotClean(f"{name}: the header lacks a column or names one twice")
            self.columns.update({c: names[c] for c in invoices.RAW_COLUMNS if c in names})
            own = list(self.columns.values())
            reader = pacsv.open_csv(
                self.path,
                read_options=pacsv.ReadOptions(block_size=BLOCK_BYTES),
                parse_options=_PARSE,
                # As polars reads a CSV: an empty field is null, a quoted "" is text.
                convert_options=pacsv.ConvertOptions(
                    include_columns=own, column_types=dict.fromkeys(own, pa.string()),
                    strings_can_be_null=True, null_values=[""],
                    quoted_strings_can_be_null=False),
            )
            with reader:
                for block in reader:
                    for start in range(0, block.num_rows, chunk_size):
                        yield _keys_coded(block.slice(start, chunk_size), self.columns)
        except pa.ArrowInvalid:  # a ragged row, text not UTF-8, a quote never closed
            raise NotClean(f"{name}: pyarrow cannot read it as polars would") from None


def _keys_coded(batch: pa.RecordBatch, columns: dict[str, str]) -> pa.RecordBatch:
    """The batch with its text keys dictionary-coded: through their runs where the rows come
    in runs of one value (a till's rows in issuing order), which is cheaper than hashing every
    row; else by pyarrow's hashing."""
    keys = {columns[c] for c in TEXT_KEYS if c in columns}
    coded = [_coded(column) if name in keys and _is_text(column.type) else column
             for name, column in zip(batch.schema.names, batch.columns, strict=True)]
    return pa.RecordBatch.from_arrays(coded, names=batch.schema.names)


def _is_text(kind: pa.DataType) -> bool:
    return pa.types.is_string(kind) or pa.types.is_large_string(kind)


def _coded(column: pa.Array) -> pa.Array:
    sample = column.slice(0, RUN_SAMPLE)
    if len(sample) == RUN_SAMPLE and len(pc.run_end_encode(sample).run_ends) * 8 < RUN_SAMPLE:
        runs = pc.run_end_encode(column)
        ends = runs.run_ends.to_numpy()
        if len(ends) * 8 < len(column):
            values = pc.dictionary_encode(runs.values)  # a null stays null (-1 here)
            per_run = values.indices.fill_null(-1).to_numpy()
            per_row = np.repeat(per_run, np.diff(ends, prepend=0))
            return pa.DictionaryArray.from_arrays(pa.array(per_row, mask=per_row < 0),
                                                  values.dictionary)
    return pc.dictionary_encode(column)


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
