"""The analyst's alternative: blank ranges by a gaps-and-islands SQL query in DuckDB.

Usage: python bench/duck.py PERIOD ALLOCATIONS INVOICE_FILE... → prints a JSON line with the
number of blank ranges and blank numbers (the benchmark compares the latter with blanktrack's).

What a capable analyst would write: the allocated numbers of the period (generate_series per
allocation), minus the numbers the same BAN used on the same track with an invoice dated in the
period or an adjacent one (anti-join), then islands of consecutive blank numbers
(n - row_number()) per BAN and track.
"""

from __future__ import annotations

import json
import sys

import duckdb


def main(argv: list[str]) -> int:
    period, allocations, *invoices = argv
    year, month = int(period[:3]) + 1911, int(period[3:])
    p = year * 6 + (month - 2) // 2
    reader = "read_parquet" if allocations.endswith(".parquet") else "read_csv"
    inv_reader = "read_parquet" if invoices[0].endswith(".parquet") else "read_csv"
    inv_opts = "" if inv_reader == "read_parquet" else ", all_varchar = true"
    alloc_opts = "" if reader == "read_parquet" else ", all_varchar = true"
    con = duckdb.connect()
    sql = f"""
    WITH alloc AS (
        SELECT ban, track, CAST(begin_no AS BIGINT) AS lo, CAST(end_no AS BIGINT) AS hi
        FROM {reader}(?{alloc_opts}) WHERE period = ?
    ),
    used AS (
        SELECT DISTINCT seller_ban AS ban, substr(invoice_number, 1, 2) AS track,
               CAST(substr(invoice_number, 3) AS BIGINT) AS n
        FROM {inv_reader}(?{inv_opts})
        WHERE abs(year(CAST(invoice_date AS DATE)) * 6
                  + (month(CAST(invoice_date AS DATE)) - 1) // 2 - ?) <= 1
    ),
    allocated AS (
        SELECT ban, track, unnest(generate_series(lo, hi)) AS n FROM alloc
    ),
    blank AS (
        SELECT a.ban, a.track, a.n FROM allocated a
        ANTI JOIN used u ON a.ban = u.ban AND a.track = u.track AND a.n = u.n
    ),
    islands AS (
        SELECT ban, track, n, n - row_number() OVER (PARTITION BY ban, track ORDER BY n) AS g
        FROM blank
    ),
    ranges AS (
        SELECT ban, track, min(n) AS begin_no, max(n) AS end_no, count(*) AS count
        FROM islands GROUP BY ban, track, g
    )
    SELECT count(*) AS ranges, coalesce(sum(count), 0) AS blank FROM ranges
    """
    ranges, blank = con.execute(sql, [allocations, period, invoices, p]).fetchone()
    print(json.dumps({"ranges": int(ranges), "blank": int(blank)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
