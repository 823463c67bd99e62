"""The analyst's alternatives: the blank total by a SQL query in DuckDB.

Usage: python bench/duck.py [--query booklet|naive] PERIOD ALLOCATIONS INVOICE_FILE... → prints a
JSON line with the number of blank numbers (and, for the naive query, of blank ranges); the
benchmark compares the total with blanktrack's.

- booklet (issue 14's anchor): what a capable analyst writes with blanktrack's own idea — a bitmask
  of the used numbers per (BAN, track, booklet of 50), `bit_or(1::UBIGINT << (n % 50))` in a
  group-by over the invoices dated within one period of P, joined to the masks of the allocated
  booklets (generate_series over each allocation's booklets), `sum(bit_count(alloc & ~used))`.
- naive: the allocated numbers of the period (generate_series per allocation), minus the numbers
  the same BAN used on the same track with an invoice dated in the period or an adjacent one
  (anti-join), then islands of consecutive blank numbers (n - row_number()) per BAN and track.

Either reads Parquet or CSV (all text), one file or a list, with the invoice date as text
(YYYY-MM-DD), DATE or TIMESTAMP: the query casts it to DATE.
"""

from __future__ import annotations

import argparse
import json
import sys

import duckdb


def _readers(allocations: str, invoices: list[str]) -> tuple[str, str]:
    def reader(path: str) -> str:
        return "read_parquet(?)" if path.endswith(".parquet") else "read_csv(?, all_varchar = true)"

    return reader(allocations), reader(invoices[0])


# The period index of a date: six periods a year (Jan–Feb is 0); ? is P's index.
_USED_DATES = """
    WHERE abs(year(CAST(invoice_date AS DATE)) * 6
              + (month(CAST(invoice_date AS DATE)) - 1) // 2 - ?) <= 1
"""

BOOKLET = """
WITH alloc AS (
    SELECT ban, track, CAST(begin_no AS BIGINT) AS lo, CAST(end_no AS BIGINT) AS hi
    FROM {alloc} WHERE period = ?
),
alloc_booklets AS (
    SELECT ban, track, b,
           bit_or(((1::UBIGINT << (least(hi, b * 50 + 49) - b * 50 + 1)::INTEGER) - 1)
                  & ~((1::UBIGINT << (greatest(lo, b * 50) - b * 50)::INTEGER) - 1)) AS alloc
    FROM (SELECT ban, track, lo, hi, unnest(generate_series(lo // 50, hi // 50)) AS b FROM alloc)
    GROUP BY ban, track, b
),
used AS (
    SELECT seller_ban AS ban, substr(invoice_number, 1, 2) AS track,
           CAST(substr(invoice_number, 3) AS BIGINT) // 50 AS b,
           bit_or(1::UBIGINT << (CAST(substr(invoice_number, 3) AS BIGINT) % 50)::INTEGER) AS used
    FROM {inv} {used_dates}
    GROUP BY ALL
)
SELECT coalesce(sum(bit_count(a.alloc & ~coalesce(u.used, 0::UBIGINT))), 0) AS blank
FROM alloc_booklets a LEFT JOIN used u USING (ban, track, b)
"""

NAIVE = """
WITH alloc AS (
    SELECT ban, track, CAST(begin_no AS BIGINT) AS lo, CAST(end_no AS BIGINT) AS hi
    FROM {alloc} WHERE period = ?
),
used AS (
    SELECT DISTINCT seller_ban AS ban, substr(invoice_number, 1, 2) AS track,
           CAST(substr(invoice_number, 3) AS BIGINT) AS n
    FROM {inv} {used_dates}
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
SELECT coalesce(sum(count), 0) AS blank, count(*) AS ranges FROM ranges
"""


def blank_total(query: str, period: str, allocations: str, invoices: list[str]) -> dict[str, int]:
    """The blank total (and, naive, the ranges) of the period by the named query."""
    alloc, inv = _readers(allocations, invoices)
    year, month = int(period[:3]) + 1911, int(period[3:])
    index = year * 6 + (month - 2) // 2
    sql = {"booklet": BOOKLET, "naive": NAIVE}[query].format(
        alloc=alloc, inv=inv, used_dates=_USED_DATES)
    row = duckdb.connect().execute(sql, [allocations, period, invoices, index]).fetchone()
    assert row is not None
    result = {"blank": int(row[0])}
    if query == "naive":
        result["ranges"] = int(row[1])
    return result


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--query", choices=("booklet", "naive"), default="naive")
    ap.add_argument("period")
    ap.add_argument("allocations")
    ap.add_argument("invoices", nargs="+")
    args = ap.parse_args(argv)
    print(json.dumps(blank_total(args.query, args.period, args.allocations, args.invoices)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
