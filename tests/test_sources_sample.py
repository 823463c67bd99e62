"""The shipped sample's Turnkey folder (POS-3's invoices as MIG 4.1 messages): every file valid
against the MOF's schema, and the sample's report the same from the folder as from the CSV."""

from __future__ import annotations

import pytest
from mig_factory import check
from sources_period import REPORT_DATE, blanks

from blanktrack.demo import SAMPLE_DIR, SAMPLE_EXPECTED, SAMPLE_TURNKEY
from blanktrack.reconcile import reconcile
from blanktrack.sources.mig_write import envelope

FOLDER = SAMPLE_DIR / SAMPLE_TURNKEY
CSV_FILES = ["invoices_erp.csv", "invoices_pos-1.csv", "invoices_pos-2.csv"]


def test_every_message_of_the_sample_folder_is_valid():
    files = sorted(FOLDER.rglob("*.xml"))
    assert len(files) == 43  # 41 POS-3 rows, each an F0401; one also an F0501, one an F0701
    for path in files:
        message = path.relative_to(FOLDER).parts[2]
        check(path.read_bytes(), message, "4.1")
    check(envelope([files[0].read_text(encoding="utf-8").split("\n", 1)[1]]),
          "InvoiceEnvelope", "4.1")


@pytest.mark.parametrize("split", ["none", "allocation"])
def test_sample_from_the_turnkey_folder_equals_the_csv(split):
    def run(pos3):
        return reconcile("10312", [SAMPLE_DIR / "allocations.csv"],
                         [SAMPLE_DIR / f for f in CSV_FILES] + [pos3], split=split,
                         report_date=REPORT_DATE)

    folder, table = run(FOLDER), run(SAMPLE_DIR / "invoices_pos-3.csv")
    assert blanks(folder) == blanks(table)
    key = ["code", "ban", "track", "begin_no", "end_no"]
    assert folder.findings.select(key).equals(table.findings.select(key))
    assert folder.invoice_rows == table.invoice_rows == SAMPLE_EXPECTED["totals"]["invoice_rows"]
    found = folder.input_kinds[-1]
    assert dict(found.kinds) == {"F0401 4.1": 41, "F0501 4.1": 1, "F0701 4.1": 1}
    assert (found.files_read, found.rows) == (43, 41)

