"""MIG 4.1 message E0402 (空白未使用字軌檔) for the MOF Turnkey software (domain spec §5.4).

One document per (BAN, invoice type, track) of a period, 1 to 10,000 items each; larger sets
are split into several documents with the same Main. Turnkey picks them up from its folder
``UpCast/B2PMESSAGE/E0402/SRC``.

The document is built by string formatting: every value is checked first to be digits or
upper-case letters, so nothing needs escaping, and the bytes are the same on every run and
every lxml/ElementTree version. Elements are written in the order of the MIG 3.1 sequence
(4.1 accepts any order), so every Turnkey version takes the file.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import polars as pl

from blanktrack.atomic import write_files
from blanktrack.ban import is_valid_ban
from blanktrack.mof_csv import exportable_ranges
from blanktrack.period import Period

NAMESPACE = "urn:GEINV:eInvoiceMessage:E0402:4.1"
# The project's own, stricter schema of what this module writes (package data; the tests validate
# every document against it and against the MOF's 4.1 schema with lxml).
SCHEMA = Path(__file__).resolve().parent / "schema" / "E0402.xsd"
MAX_ITEMS = 10_000  # maxOccurs of BranchTrackBlankItem in the 4.1 schema

_DIGITS8 = re.compile(r"[0-9]{8}")
_TRACK = re.compile(r"[A-Z]{2}")

_HEAD = """\
<?xml version="1.0" encoding="UTF-8"?>
<BranchTrackBlank xmlns="{ns}">
  <Main>
    <HeadBan>{head_ban}</HeadBan>
    <BranchBan>{ban}</BranchBan>
    <InvoiceType>{invoice_type}</InvoiceType>
    <YearMonth>{period}</YearMonth>
    <InvoiceTrack>{track}</InvoiceTrack>
  </Main>
  <Details>
"""
_ITEM = """\
    <BranchTrackBlankItem>
      <InvoiceBeginNo>{begin}</InvoiceBeginNo>
      <InvoiceEndNo>{end}</InvoiceEndNo>
    </BranchTrackBlankItem>
"""
_TAIL = """\
  </Details>
</BranchTrackBlank>
"""


def render_e0402(
    head_ban: str,
    ban: str,
    invoice_type: str,
    period: str,
    track: str,
    items: Sequence[tuple[str, str]],
) -> bytes:
    """One E0402 document as UTF-8 bytes (2-space indent, LF, final newline).

    ``items`` are (begin, end) 8-digit strings, written in the order given. Raises ValueError
    for a bad value, an empty or oversized item list, begin > end, or overlapping items: the
    schema checks none of the last two, and Turnkey would pass them to the platform.
    """
    itype = _checked_main(head_ban, ban, invoice_type, period, track)
    if not 1 <= len(items) <= MAX_ITEMS:
        raise ValueError(f"an E0402 holds 1 to {MAX_ITEMS} items, got {len(items)}")
    for begin, end in items:
        if not (_DIGITS8.fullmatch(begin) and _DIGITS8.fullmatch(end)):
            raise ValueError(f"range {begin!r}–{end!r} is not two 8-digit numbers")
        if end < begin:  # same length, digits only: string order is number order
            raise ValueError(f"range {track}{begin}–{track}{end}: end is below begin")
    _check_no_overlap(track, items)

    parts = [_head(head_ban, ban, itype, period, track)]
    parts.extend(_ITEM.format(begin=b, end=e) for b, e in items)
    parts.append(_TAIL)
    return "".join(parts).encode("utf-8")


def _checked_main(head_ban: str, ban: str, invoice_type: str, period: str, track: str) -> str:
    """The invoice type as written (2 digits), after checking every value of Main."""
    for what, value in (("HeadBan", head_ban), ("BranchBan", ban)):
        if not is_valid_ban(value):
            raise ValueError(f"{what} {value!r} is not a valid 8-digit BAN")
    itype = invoice_type.zfill(2) if invoice_type in ("7", "8") else invoice_type
    if itype not in ("07", "08"):
        raise ValueError(f"invoice type {invoice_type!r} is not 07 or 08")
    if Period.parse(period).code != period:
        raise ValueError(f"period {period!r} is not a period code like 11302")
    if not _TRACK.fullmatch(track):
        raise ValueError(f"track {track!r} is not 2 upper-case letters")
    return itype


def _head(head_ban: str, ban: str, itype: str, period: str, track: str) -> str:
    return _HEAD.format(ns=NAMESPACE, head_ban=head_ban, ban=ban, invoice_type=itype,
                        period=period, track=track)


def e0402_name(ban: str, period: str, invoice_type: str, track: str, part: int) -> str:
    """``{ban}_{period}_{invoice_type}_{track}_{part:03d}.xml``, part from 1."""
    return f"{ban}_{period}_{invoice_type}_{track}_{part:03d}.xml"


def write_e0402(ranges: pl.DataFrame, out_dir: Path, max_items: int = MAX_ITEMS, *,
                atomic: bool = True, folder_of: Callable[[str, str], Path] | None = None,
                on_written: Callable[[Path, bytes], None] | None = None) -> list[Path]:
    """Write the E0402 documents of the blank ranges into ``out_dir``.

    One document per (period, ban, invoice_type, track), ranges sorted by begin; more than
    ``max_items`` ranges give several documents (parts 001, 002, …) with the same Main.
    HeadBan is the row's head_ban, BranchBan its ban. Rows with ``reported_by`` set are left
    out; a key with no row gets no file. All documents are rendered (and so checked) before
    any is written, each atomically (``atomic=False``: plainly, into a staging folder the
    caller syncs and renames as a whole). Returns the paths in file-name order.
    ``folder_of(period, head_ban)``, when given, is the folder of each document instead of
    ``out_dir`` (the set folders of exports, in one call); ``on_written(path, bytes)`` is told
    of each file once it is written.
    """
    if not 1 <= max_items <= MAX_ITEMS:
        raise ValueError(f"max_items must be 1 to {MAX_ITEMS}, got {max_items}")
    df = exportable_ranges(ranges).sort(
        "period", "ban", "invoice_type", "track", "begin_no", "end_no", maintain_order=True)
    documents = _documents(df, max_items)
    if documents is None:  # something is wrong: found and worded item by item
        documents = _documents_item_by_item(df, max_items)
    files = sorted(
        ((folder_of(period, head) if folder_of else Path(out_dir)) / name, data)
        for period, head, name, data in documents)
    return write_files(files, atomic, on_written)


_KEYS = ["period", "ban", "invoice_type", "track"]
# An item's text around its begin and end (the _ITEM template cut at its two fields).
_ITEM_START, _ITEM_REST = _ITEM.split("{begin}")
_ITEM_MIDDLE, _ITEM_END = _ITEM_REST.split("{end}")


def _documents(df: pl.DataFrame, max_items: int) -> list[tuple[str, str, str, bytes]] | None:
    """(period, head BAN, file name, bytes) of each document of the sorted rows, the items'
    text made by one query on whole columns (a run of hundreds of sets writes thousands of
    items); None when any item is not fit (not 8 digits, end below begin, overlapping the one
    before it) or a key has several head offices: _documents_item_by_item words it."""
    number = r"^[0-9]{8}$"
    item_fit = (
        pl.col("begin_no").str.contains(number) & pl.col("end_no").str.contains(number)
        & (pl.col("begin_no") <= pl.col("end_no"))
        & (pl.col("begin_no") > pl.col("end_no").shift(1).over(_KEYS)).fill_null(True)
    )
    parts = (
        df.lazy()
        .with_columns(
            part=pl.int_range(pl.len()).over(_KEYS) // max_items,
            fit=item_fit & (pl.col("head_ban").n_unique().over(_KEYS) == 1),
        )
        .group_by([*_KEYS, "part"], maintain_order=True)
        .agg(
            pl.col("fit").all(),
            head_ban=pl.col("head_ban").first(),
            items=pl.concat_str(pl.lit(_ITEM_START), "begin_no", pl.lit(_ITEM_MIDDLE), "end_no",
                                pl.lit(_ITEM_END)).str.join(""),
        )
        .collect()
    )
    if not parts["fit"].all():
        return None
    documents = []
    for period, ban, itype, track, part, head, items in parts.drop("fit").select(
            *_KEYS, "part", "head_ban", "items").iter_rows():
        checked_type = _checked_main(head, ban, itype, period, track)
        data = (_head(head, ban, checked_type, period, track) + items + _TAIL).encode("utf-8")
        documents.append((period, head, e0402_name(ban, period, itype, track, part + 1), data))
    return documents


def _documents_item_by_item(df: pl.DataFrame, max_items: int
                            ) -> list[tuple[str, str, str, bytes]]:
    """As _documents, each item checked by render_e0402: the ValueError of the first unfit."""
    documents = []
    # The rows as Python values once, cut into documents here.
    columns = [df[c].to_list() for c in (*_KEYS, "head_ban", "begin_no", "end_no")]
    for (period, ban, itype, track), group in itertools.groupby(
        zip(*columns, strict=True), key=lambda row: row[:4]
    ):
        rows = list(group)
        heads = sorted({row[4] for row in rows})
        if len(heads) != 1:
            raise ValueError(
                f"BAN {ban}, period {period}, track {track} has several head offices: {heads}"
            )
        items = [(row[5], row[6]) for row in rows]
        _check_no_overlap(track, items)  # across parts: render_e0402 sees one part at a time
        for start in range(0, len(items), max_items):
            data = render_e0402(heads[0], ban, itype, period, track,
                                items[start : start + max_items])
            name = e0402_name(ban, period, itype, track, start // max_items + 1)
            documents.append((period, heads[0], name, data))
    return documents


def _check_no_overlap(track: str, items: Sequence[tuple[str, str]]) -> None:
    for (b1, e1), (b2, e2) in itertools.pairwise(sorted(items)):
        if b2 <= e1:
            raise ValueError(f"ranges {track}{b1}–{track}{e1} and {track}{b2}–{track}{e2} overlap")
