"""Finding sentences open in Traditional Chinese, in the platform's words, and keep the English
sentence after it (issue 16 item 2); the upload files stay exactly as specified."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
from factories import allocations, invoices
from test_findings import run

from blanktrack import labels
from blanktrack.findings import CATALOGUE
from blanktrack.reconcile import reconcile


def test_every_finding_code_has_its_chinese_words() -> None:
    # a code added without words would open in English only
    assert set(CATALOGUE) <= set(labels.FINDINGS)
    for code, (zh, gist, en) in labels.FINDINGS.items():
        assert zh and gist and en, code
        assert not any(ch.isascii() and ch.isalpha() for ch in zh), code


def test_the_head_is_chinese_first_then_the_english_name() -> None:
    assert labels.finding_head("skipped-number") == (
        "跳號（已使用最大號碼以下有未開立之號碼，列為空白申報） skipped numbers: ")
    assert labels.finding_head("void-not-reissued") == (
        "註銷未重開（發票已註銷但未重新開立，號碼仍計為已使用） voided, not re-issued: ")
    assert labels.finding_head("no-such-code") == ""


def test_sentences_open_in_chinese_and_keep_the_english(tmp_path: Path) -> None:
    f = run(tmp_path, allocations([{"begin": 0, "end": 99}]),
            invoices([{"number": n} for n in range(0, 60) if n not in (10, 11, 45)]
                     + [{"number": 3}, {"number": 45, "status": "voided"},
                        {"track": "ZZ", "number": 5}]))
    messages = dict(f.select("code", "message").iter_rows())
    assert messages["skipped-number"] == (
        "跳號（已使用最大號碼以下有未開立之號碼，列為空白申報） skipped numbers: "
        "AB00000010–AB00000011 (2 number(s)) were never issued although the allocation issued "
        "up to AB00000059 (跳號). They are reported blank; confirm they were not issued on paper "
        "or another system.")
    assert messages["duplicate-number"].startswith(
        "重複開立（同一發票號碼開立兩次以上） duplicate number: AB00000003 was issued 2 times — ")
    assert messages["void-not-reissued"].startswith(
        "註銷未重開（發票已註銷但未重新開立，號碼仍計為已使用） voided, not re-issued: "
        "AB00000045 was voided (註銷) and never re-issued — ")
    assert messages["outside-allocation"].startswith(
        "非配號範圍（發票號碼不在該統一編號本期配號之字軌號碼內） outside the allocation: "
        "Invoice ZZ00000005 dated ")
    for message in messages.values():
        assert not message[0].isascii(), message


def test_late_report_opens_with_the_deadline_words(tmp_path: Path) -> None:
    f = run(tmp_path, allocations([{"begin": 0, "end": 49}]),
            invoices([{"number": n} for n in range(50)]), report_date=dt.date(2024, 5, 20))
    [late] = f.filter(pl.col("code") == "late-report")["message"].to_list()
    assert late.startswith(
        "申報期限（空白未使用之字軌號碼應於次期開始十日內傳輸至整合服務平台） report deadline: ")
    assert "late" in late


def test_the_upload_csv_carries_no_finding_words(tmp_path: Path) -> None:
    a_path, i_path = tmp_path / "allocations.csv", tmp_path / "invoices.csv"
    allocations([{"begin": 0, "end": 99}]).drop("source", "line").write_csv(a_path)
    invoices([{"number": n} for n in range(60) if n != 10]).collect().select(
        "invoice_number", "invoice_date", "seller_ban", "status", "machine",
        "upload_status").write_csv(i_path)
    result = reconcile("11302", [a_path], [i_path], report_date=dt.date(2024, 3, 5))
    assert not result.findings.is_empty()
    from blanktrack.exports import write_exports

    written = write_exports(result, tmp_path / "out")
    [upload] = [p for p in written if p.suffix == ".csv" and p.name[0].isdigit()]
    text = upload.read_text(encoding="ascii")  # the MOF file stays ASCII, no sentence in it
    assert text.splitlines() == ["00001,53567686,11302,AB,00000010,00000010,07",
                                 "00002,53567686,11302,AB,00000060,00000099,07"]
