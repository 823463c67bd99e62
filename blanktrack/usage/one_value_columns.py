"""Text columns of a Parquet file that hold one value in every row, told by its statistics.

A period's files often repeat one value down a whole column: every upload accepted, one
seller's or one till's export. A Parquet writer's statistics say so for each row group: a
minimum equal to the maximum and no nulls. Both are bounds (a writer may shorten a long value,
never past a bound), so when they are equal every row holds exactly that value. The dense scan
then codes such a column as that one value and does not read it: with plain-encoded pages,
reading a text column is pyarrow decoding (and, as dictionary codes, hashing) every row's text
(bench/README.md, "Plain and Categorical columns").
"""

from __future__ import annotations

import pyarrow.parquet as pq


def one_value(metadata: pq.FileMetaData, name: str) -> str | None:
    """The text every row of the flat column `name` holds, in every row group; None when the
    statistics do not show one (a null, two values, no statistics, no rows, not UTF-8 text)."""
    leaf = _leaf_index(metadata, name)
    if leaf is None or metadata.num_rows == 0:
        return None
    value: bytes | None = None
    for g in range(metadata.num_row_groups):
        group = metadata.row_group(g)
        if group.num_rows == 0:
            continue  # an empty row group holds no value to differ
        stats = group.column(leaf).statistics
        if (stats is None or not stats.has_min_max or not stats.has_null_count
                or stats.null_count != 0 or stats.num_values != group.num_rows
                or stats.physical_type != "BYTE_ARRAY"):
            return None
        low, high = stats.min_raw, stats.max_raw
        if not isinstance(low, bytes) or low != high or (value is not None and low != value):
            return None
        value = low
    if value is None:
        return None
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return None  # read as it is: the validation names the row


def _leaf_index(metadata: pq.FileMetaData, name: str) -> int | None:
    """The index of the column chunks of the top-level, non-nested column `name`."""
    schema = metadata.schema
    found = [j for j in range(metadata.num_columns) if schema.column(j).path == name]
    return found[0] if len(found) == 1 else None
