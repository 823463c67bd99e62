"""A CSV invoice file as the dense scan reads it: polars' batches of its raw text
(one_pass.raw_frame), and each text key coded by a scanning thread's KeyCodes.

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

import numpy as np
import polars as pl
import pyarrow as pa

from .. import invoices
from . import native_loop
from .distinct_values import NotClean
from .one_pass import raw_frame

# key_coding's constants (key_coding.py imports numba, which a run does not load;
# tests/test_key_codes.py holds the copies to the originals).
ENTRY_WORDS, INLINE_BYTES = 4, 12
DONE, TABLE_FULL, LONG_VALUE = 0, 1, 2


@dataclass
class CsvBatches:
    """One CSV invoice file (RAW_COLUMNS, as text). Its frame is made by the thread that reads
    it: one_pass.raw_frame reads a small file whole to learn whether polars may read it from
    disk, which, for many daily files, done before the threads start, would keep a core idle."""

    path: Path

    def collect_batches(self, chunk_size: int) -> Iterator[pl.DataFrame]:
        """The file's batches of at most chunk_size rows, in order; NotClean where a header
        lacks a column or polars cannot read the file. polars starts reading at this call, not
        at the first batch asked for (the dense scan reads a small file while it tallies the
        one before), and reads a small plain file from the bytes its checks read
        (invoices.plain_bytes), held only while its batches are read."""
        frame = raw_frame(self.path, checked_here=True,
                          data=invoices.plain_bytes(self.path, str(self.path)))
        if frame is None:
            raise NotClean(f"{self.path}: a column is missing")
        try:
            batches = frame.collect_batches(chunk_size=chunk_size)
        except pl.exceptions.PolarsError:
            raise NotClean(f"{self.path}: polars cannot read it") from None
        return self._read(batches)

    def _read(self, batches: Iterator[pl.DataFrame]) -> Iterator[pl.DataFrame]:
        try:
            yield from batches
        except pl.exceptions.PolarsError:  # its message quotes records of the file: not shown
            raise NotClean(f"{self.path}: polars cannot read it") from None

    def rows(self, offset: int, length: int) -> pl.DataFrame:
        """Rows offset..offset + length of the file, read again (a batch the scan let go): from
        the file (its checks were made when it was first read)."""
        frame = raw_frame(self.path)
        if frame is None:
            raise NotClean(f"{self.path}: a column is missing")
        try:
            return frame.slice(offset, length).collect()
        except pl.exceptions.PolarsError:
            raise NotClean(f"{self.path}: polars cannot read it") from None


class KeyCodes:
    """One text key's codes as one scanning thread meets its values: a value's code is its
    place in `texts` (None: the null), the same in every batch and file the thread reads.
    The compiled kernel (key_coding.code_keys) codes values of at most INLINE_BYTES bytes;
    a batch with a longer value is coded through pyarrow's dictionary_encode instead, its
    distinct values then coded as the kernel would (a long one by a dict)."""

    def __init__(self, kernels: native_loop.Kernels, entries: int = 64) -> None:
        self.kernels = kernels
        self.table = _empty_table(entries)
        self.keys = np.zeros(entries, np.uint64)  # two words a code: room for entries // 2
        self.texts: list[str | None] = []
        self.null_code = -1
        self.long: dict[str, int] = {}  # values longer than INLINE_BYTES
        # The codes' memory, used again batch after batch (fresh pages each batch cost the
        # kernel's zeroing): what codes() returns is valid until its next call.
        self.buffer = np.empty(0, np.int32)

    def codes(self, column: pa.Array | pa.ChunkedArray) -> np.ndarray:
        """The code of each row of a string_view column, chunk by chunk (polars' batches
        come in chunks: one array of them would be a copy), int32, read-only, valid until the
        next call; new values' texts appended to `texts`."""
        chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
        if len(self.buffer) < len(column):
            self.buffer = np.empty(len(column), np.int32)
        codes = self.buffer[:len(column)]
        at = 0
        for chunk in chunks:
            self._code_chunk(chunk, codes[at:at + len(chunk)])
            at += len(chunk)
        codes = codes.view()
        codes.setflags(write=False)  # as pyarrow's dictionary indices: numba's one specialisation
        return codes

    def _code_chunk(self, column: pa.Array, codes: np.ndarray) -> None:
        if not pa.types.is_string_view(column.type):
            raise NotClean(f"a text key as {column.type}")  # not polars' text: polars decides
        if not len(column):
            return
        if column.null_count:
            if self.null_code < 0:
                self.null_code = len(self.texts)
                self.texts.append(None)
            if column.null_count == len(column):  # a column the file lacks: no views to read
                codes.fill(self.null_code)
                return
        views, validity, bit_offset = _view_buffers(column)
        done = 0
        while True:
            known = len(self.texts)
            done, n_codes, why = self.kernels.code_keys(
                views, validity, bit_offset, self.null_code, self.table, self.keys, known,
                codes, done)
            self._named(known, n_codes)
            if why == DONE:
                return
            if why == LONG_VALUE:
                codes[:] = self._encoded(column)
                return
            self._grow()

    def _named(self, known: int, n_codes: int) -> None:
        """The texts of codes known..n_codes the kernel gave: each view's inline bytes."""
        if n_codes > known:
            raw = self.keys[2 * known:2 * n_codes].view(np.uint8).reshape(-1, 16)
            lengths = raw[:, :4].copy().view(np.uint32).ravel()
            self.texts += [bytes(v[4:4 + k]).decode() for v, k in zip(raw, lengths, strict=True)]

    def _grow(self) -> None:
        entries = 2 * (len(self.table) // ENTRY_WORDS)
        table = _empty_table(entries)
        self.kernels.key_rehash(self.table, table)
        keys = np.zeros(entries, np.uint64)
        keys[:len(self.keys)] = self.keys
        self.table, self.keys = table, keys

    def _encoded(self, column: pa.Array) -> np.ndarray:
        """The codes of a column with a value longer than INLINE_BYTES: its distinct values
        (pyarrow's dictionary_encode), each coded once, then looked up per row."""
        encoded = column.dictionary_encode()
        values = encoded.dictionary.to_pylist()
        by_index = np.empty(len(values) + 1, np.int32)
        by_index[-1] = self.null_code  # a null row's index is filled with len(values)
        short = [k for k, v in enumerate(values) if len(v.encode()) <= INLINE_BYTES]
        if short:
            inline = pa.array([values[k] for k in short], pa.string_view())
            self._code_chunk(inline, inline_codes := np.empty(len(short), np.int32))
            by_index[short] = inline_codes
        for k, v in enumerate(values):
            if len(v.encode()) > INLINE_BYTES:
                if v not in self.long:
                    self.long[v] = len(self.texts)
                    self.texts.append(v)
                by_index[k] = self.long[v]
        indices = encoded.indices.fill_null(len(values)).to_numpy(zero_copy_only=False)
        return by_index[indices]


def _empty_table(entries: int) -> np.ndarray:
    table = np.zeros(ENTRY_WORDS * entries, np.int64)
    table[2::ENTRY_WORDS] = -1
    return table


def _view_buffers(column: pa.Array) -> tuple[np.ndarray, np.ndarray, int]:
    """(views as uint64 words, the validity bitmap or an empty array, its first bit)."""
    validity, views = column.buffers()[:2]
    words = np.frombuffer(views, np.uint64)[2 * column.offset:2 * (column.offset + len(column))]
    if column.null_count and validity is not None:
        return words, np.frombuffer(validity, np.uint8), column.offset
    return words, np.zeros(0, np.uint8), 0
