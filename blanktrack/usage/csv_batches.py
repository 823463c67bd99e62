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

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from .distinct_values import NotClean


@dataclass(frozen=True)
class CsvBatches:
    """One CSV invoice file's lazy frame (RAW_COLUMNS, the text keys Categorical)."""

    path: Path
    frame: pl.LazyFrame

    def collect_batches(self, chunk_size: int) -> Iterator[pl.DataFrame]:
        """The frame's batches of at most chunk_size rows, in order; NotClean where polars
        cannot read the file."""
        try:
            yield from self.frame.collect_batches(chunk_size=chunk_size)
        except pl.exceptions.PolarsError:  # its message quotes records of the file: not shown
            raise NotClean(f"{self.path}: polars cannot read it") from None
