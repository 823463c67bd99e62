"""Bilingual labels, Traditional Chinese first, in the words of the MOF platform and its users
(統一編號, 字軌, 起號, 迄號, 空白, 跳號, 作廢, 註銷).

A column's label is `中文 column_name` (e.g. `字軌 track`): a person reads the Chinese, the
English name stays the frame's own, so a program can still find the column (the last word)."""

from __future__ import annotations

import csv
from pathlib import Path

import polars as pl

COLUMNS: dict[str, str] = {
    "period": "期別",
    "head_ban": "總機構統一編號",
    "ban": "統一編號",
    "seller_ban": "賣方統一編號",
    "invoice_type": "發票類別",
    "track": "字軌",
    "begin_no": "起號",
    "end_no": "迄號",
    "count": "張數",
    "reported_by": "申報系統",
    "severity": "嚴重度",
    "code": "代碼",
    "machine": "機台",
    "message": "說明",
    "allocated": "配號",
    "used": "已使用",
    "blank": "空白",
    "skipped": "跳號",
    "reported_elsewhere": "他系統申報",
    "utilisation": "使用率",
    "invoices": "發票張數",
    "invoice_date": "發票日期",
    "invoice_number": "發票號碼",
    "status": "發票狀態",
    "role": "用途",
    "file": "檔案",
    "rows": "筆數",
    "bytes": "位元組",
    "sha256": "SHA-256",
    "source": "來源檔案",
    "line": "行",
    "found": "內容",
    "files_read": "已讀檔案",
    "passed_over": "略過",
    "unknown": "無法辨識",
}

SEVERITIES: dict[str, str] = {"error": "錯誤", "warning": "警告", "info": "資訊"}

STATUSES: dict[str, str] = {"issued": "開立", "cancelled": "作廢", "voided": "註銷"}

# Columns that hold a fraction shown as a percentage (0.712 -> 71.2%).
PERCENT_COLUMNS = frozenset({"utilisation"})

# Words of the report page and charts, (zh-TW, English).
WORDS: dict[str, tuple[str, str]] = {
    "report_title": ("空白未使用字軌號碼", "blank unused number report"),
    "period": ("期別", "period"),
    "reporting_ban": ("申報統一編號", "reporting BAN"),
    "blank_numbers": ("空白號碼", "blank numbers to report"),
    "blank_ranges": ("空白區間", "blank ranges"),
    "errors": ("錯誤", "errors"),
    "warnings": ("警告", "warnings"),
    "deadline": ("申報期限", "deadline"),
    "days_left": ("尚餘天數", "days left"),
    "days_late": ("逾期天數", "days late"),
    "used": ("已使用", "used"),
    "skipped": ("跳號", "skipped"),
    "blank": ("空白", "blank (reported)"),
    "elsewhere": ("他系統申報", "blank (other system)"),
    "numbers": ("號碼數", "numbers"),
    "invoices_per_day": ("每日發票張數", "invoices per day"),
    "date": ("日期", "date"),
    "usage_title": ("各字軌使用情形", "utilisation per BAN / type / track"),
    "issuing_title": ("各機台每日開立", "issuing over the period, per till"),
    "other_tills": ("其他機台", "other tills"),
    "inputs": ("輸入檔案", "inputs"),
    "validation": ("檢核", "validation"),
    "summary": ("彙總", "summary per BAN / type / track"),
    "findings": ("待查事項", "findings"),
    "exports": ("匯出檔案", "exports"),
    "parameters": ("執行參數", "parameters of this run"),
    "due_status": ("申報進度", "status (as blanktrack due)"),
}


# Finding sentences open with the finding in Chinese, then its English name before the English
# sentence: code → (zh-TW term, zh-TW gist, English name). One table, so the wording stays the
# platform's (跳號, 註銷, 配號, 字軌) wherever a finding is shown.
FINDINGS: dict[str, tuple[str, str, str]] = {
    "outside-allocation": ("非配號範圍", "發票號碼不在該統一編號本期配號之字軌號碼內",
                           "outside the allocation"),
    "duplicate-number": ("重複開立", "同一發票號碼開立兩次以上", "duplicate number"),
    "void-not-reissued": ("註銷未重開", "發票已註銷但未重新開立，號碼仍計為已使用",
                          "voided, not re-issued"),
    "skipped-number": ("跳號", "已使用最大號碼以下有未開立之號碼，列為空白申報", "skipped numbers"),
    "dated-outside-period": ("跨期開立", "發票日期在相鄰期別，號碼仍計為已使用",
                             "dated outside the period"),
    "dated-far-from-period": ("發票日期異常", "發票日期與本期相距一期以上，號碼不計為已使用",
                              "dated far from the period"),
    "allocation-misaligned": ("配號非整本", "配號字軌號碼未以每本50張為單位",
                              "allocation not whole booklets"),
    "allocation-overlap": ("配號重疊", "兩筆配號之字軌號碼重疊", "allocations overlap"),
    "upload-failed": ("上傳失敗", "發票未經財政部電子發票整合服務平台接受", "upload failed"),
    "late-report": ("申報期限", "空白未使用之字軌號碼應於次期開始十日內傳輸至整合服務平台",
                    "report deadline"),
    "allocation-duplicate": ("配號重複列示", "同一筆配號列示多次，只計一次",
                             "allocation listed twice"),
    "reported-elsewhere": ("他系統申報", "此空白號碼由其他系統申報，不列入本檔",
                           "reported by another system"),
    "no-invoices": ("無發票", "有配號或輸入檔但無任何發票（漏給檔案？）", "no invoices"),
    "allocation-unused": ("配號未使用", "整段配號未使用，全數列為空白申報", "allocation unused"),
    "invoice-rejected": ("發票退回", "買方退回之發票，號碼仍計為已使用", "invoice rejected"),
    "unknown-file": ("無法辨識之檔案", "輸入資料夾中有無法讀取之檔案，未納入", "unknown files"),
    "unofficial-namespace": ("非官方命名空間", "E0501 之命名空間非財政部公告之 schema，仍予讀取",
                             "unofficial namespace"),
}


def finding_head(code: str) -> str:
    """What a finding's sentence opens with: `跳號（已使用最大號碼以下…） skipped numbers: `; the
    English sentence follows. A code without a row here gets no head (a test keeps the table
    complete)."""
    row = FINDINGS.get(code)
    if row is None:
        return ""
    zh, gist, en = row
    return f"{zh}（{gist}） {en}: "


def column(name: str) -> str:
    """`字軌 track` for `track`; a name without a Chinese label is returned as it is."""
    zh = COLUMNS.get(name)
    return f"{zh} {name}" if zh and zh != name else name


def word(key: str) -> str:
    """`期別 period`: a word of the report, Chinese first."""
    zh, en = WORDS[key]
    return f"{zh} {en}"


def severity(value: str) -> str:
    """`錯誤 error` for `error`."""
    zh = SEVERITIES.get(value)
    return f"{zh} {value}" if zh else value


def bilingual(df: pl.DataFrame) -> pl.DataFrame:
    """`df` with every known column renamed to its bilingual label."""
    return df.rename({c: column(c) for c in df.columns if column(c) != c})


def percent_text(df: pl.DataFrame) -> pl.DataFrame:
    """Fractions of PERCENT_COLUMNS as text with one decimal and a percent sign (`71.2%`): what a
    person reads, and what a spreadsheet opens as a percentage."""
    return df.with_columns(
        pl.when(pl.col(c).is_null()).then(None)
        .otherwise(pl.format("{}%", (pl.col(c) * 100).round(1)))
        .alias(c)
        for c in df.columns if c in PERCENT_COLUMNS
    )


def key(header: str) -> str:
    """The column's name in a bilingual header: its last word (`字軌 track` → `track`)."""
    return header.rsplit(" ", 1)[-1]


def read_people_csv(path: str | Path) -> list[dict[str, str]]:
    """The rows of a findings.csv or summary.csv (BOM, bilingual header, or an older English
    one) keyed by column name."""
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return [{key(k): v for k, v in row.items() if k is not None}
                for row in csv.DictReader(fh)]
