"""A CSV invoice file as the dense scan reads it: polars' batches of its raw text, the text keys
parsed straight into Categorical (one_pass.raw_frame).

What polars cannot read as it goes (a row of more fields than the header, a line that is not
UTF-8, a quote never closed: a large file is checked only at its head before the scan) is
NotClean: the dense scan declines, and the validating path reads the file again and names the
file, line and field, instead of polars' error escaping from the scanning thread.
(pyarrow's streaming reader was measured here instead and not kept: bench/README.md, "CSV (this
round)".)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from .distinct_values import NotClean
from .one_pass import raw_frame


@dataclass
class CsvBatches:
    """One CSV invoice file (RAW_COLUMNS, the text keys of `text_dtypes`: Categorical). Its
    frame is made by the thread that reads it: one_pass.raw_frame reads a small file whole to
    learn whether polars may read it from disk, which, for many daily files, done before the
    threads start, would keep a core idle."""

    path: Path
    text_dtypes: Mapping[str, pl.DataType] | None = None
    # Kept once made, as long as this object: polars frees a Categorical's categories when
    # nothing names them, and the codes of the files read after it would start again at 0.
    frame: pl.LazyFrame | None = field(default=None, init=False)

    def collect_batches(self, chunk_size: int) -> Iterator[pl.DataFrame]:
        """The frame's batches of at most chunk_size rows, in order; NotClean where a header
        lacks a column or polars cannot read the file."""
        self.frame = raw_frame(self.path, self.text_dtypes)
        if self.frame is None:
            raise NotClean(f"{self.path}: a column is missing")
        try:
            yield from self.frame.collect_batches(chunk_size=chunk_size)
        except pl.exceptions.PolarsError:  # its message quotes records of the file: not shown
            raise NotClean(f"{self.path}: polars cannot read it") from None

    def rows(self, offset: int, length: int) -> pl.DataFrame:
        """Rows offset..offset + length of the frame, read again (a batch the scan let go)."""
        if self.frame is None:
            raise NotClean(f"{self.path}: not read yet")
        try:
            return self.frame.slice(offset, length).collect()
        except pl.exceptions.PolarsError:
            raise NotClean(f"{self.path}: polars cannot read it") from None
