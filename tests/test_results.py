"""`blanktrack results`: Turnkey's ProcessResult / SummaryResult files for blank reports, and
their attachment to archived runs (a new record, never an edit of the run)."""

from __future__ import annotations

from pathlib import Path

from archived_runs import make_run
from lxml import etree
from platform_answers import MB_FILE, process_result, result_schema, summary_result

from blanktrack import register
from blanktrack.archive import verify_run
from blanktrack.cli import main
from blanktrack.platform_results import RESULT_ENTRY, platform_status, read_results


def test_the_official_enum_lacks_e0402() -> None:
    plain = result_schema("ProcessResult", with_e0402=False)
    data = process_result([("E0616",)])
    assert not plain.validate(etree.fromstring(data).getroottree())
    assert "MessageType" in str(plain.error_log)


def test_accepted_partly_failed_and_failed(tmp_path: Path, capsys) -> None:
    files = {
        "ok.xml": process_result([("0",)], message_id="53567686_10312_07_KT_001"),
        "partly.xml": process_result([("E0615",), ("E0612", "MB02034268", "MB02034299")]),
        "failed.xml": process_result([("E0616",), ("E0613", "XA00012320")],
                                     message_id="53567686_10312_08_XA_001"),
        "invoice.xml": process_result([("E0616",)], message_type="F0401"),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    # A Turnkey folder holds the messages themselves too: they are no results and are skipped.
    sent = tmp_path / "UpCast" / "B2PMESSAGE" / "E0402" / "BAK" / f"{MB_FILE}.xml"
    sent.parent.mkdir(parents=True)
    sent.write_bytes(b'<BranchTrackBlank xmlns="urn:GEINV:eInvoiceMessage:E0402:4.1"/>')
    read = read_results([tmp_path])
    assert [(Path(r.file).name, r.outcome) for r in read.results] == [
        ("failed.xml", "failed"), ("ok.xml", "accepted"), ("partly.xml", "partly failed")]
    assert read.other_messages == 1 and read.problems == []

    assert main(["results", str(tmp_path), "--no-attach"]) == 1
    out = capsys.readouterr().out
    assert (f"{tmp_path / 'partly.xml'}:4: E0402 {MB_FILE}: partly failed\n"
            "  E0615 字軌訊息處理部份成功 / Partial success\n"
            "  E0612 發票號碼區間已存在重疊區間 / The intervals of the invoice number are "
            "overlapped. [MB02034268, MB02034299]\n") in out
    assert ("  E0616 字軌訊息處理全部失敗 / Total failure\n"
            "  E0613 發票號碼區間非配號區間 / The intervals of the brranch number don't conform "
            "to those the E-Invoice Platform assigned. [XA00012320]\n") in out
    assert out.endswith("3 blank-track result(s), 1 about other messages\n")


def test_summary_result_counts(tmp_path: Path) -> None:
    valid = tmp_path / "summary.xml"
    valid.write_bytes(summary_result([("b", "E0402", 1, 1), ("d", "C0401", 1, 1)]))
    # The official Count is a positiveInteger, so a message with no failure (or none good)
    # cannot validate; Turnkey's files carry 0 all the same, and they are read.
    zeros = tmp_path / "summary-zeros.xml"
    data = summary_result([("a", "E0402", 2, 0), ("c", "E0402", 0, 3)], validate=False)
    schema = result_schema("SummaryResult")
    assert not schema.validate(etree.fromstring(data).getroottree())
    assert all("positiveInteger" in e.message for e in schema.error_log)
    zeros.write_bytes(data)
    read = read_results([valid, zeros])
    assert [(r.message_id, r.outcome, r.good, r.failed) for r in read.results] == [
        ("b", "partly failed", 1, 1), ("a", "accepted", 2, 0), ("c", "failed", 0, 3)]
    assert read.other_messages == 1


def test_unsafe_or_foreign_files_are_problems(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.xml"
    bomb.write_bytes(b'<!DOCTYPE x [<!ENTITY a "aaaa">]><ProcessResult>&a;</ProcessResult>')
    other = tmp_path / "other.xml"
    other.write_bytes(b"<x/>")
    read = read_results([bomb, other])
    assert read.results == []
    assert read.problems == [
        f"{bomb}:1: the document carries a DOCTYPE; refused (an E0402 or a platform result "
        "never has one)",
        f"{other}: not a Turnkey ProcessResult or SummaryResult",
    ]


def test_results_are_attached_to_the_run_without_touching_it(tmp_path: Path, capsys) -> None:
    archive = tmp_path / "archive"
    older = make_run(archive, "20150105T000000Z-aaaaaa", started="2015-01-05T00:00:00+00:00")
    newer = make_run(archive, "20150107T000000Z-bbbbbb", started="2015-01-07T00:00:00+00:00")
    capsys.readouterr()
    results = tmp_path / "turnkey" / "results"
    results.mkdir(parents=True)
    # By file name: the MB file; by BAN, period and track (an Id that is not a file name).
    (results / "mb.xml").write_bytes(process_result([("0",)]))
    (results / "xa.xml").write_bytes(process_result(
        [("E0616",), ("E0613", "53567686", "10312", "XA")], message_id="7f3c2a"))
    (results / "none.xml").write_bytes(process_result([("0",)], message_id="99999999_10312_07_ZZ"))

    assert main(["results", str(results), "--archive", str(archive)]) == 1
    out = capsys.readouterr().out
    run = "10312/20150107T000000Z-bbbbbb"
    assert (f"  attached to run {run} (exports/10312/53567686/e0402/{MB_FILE}.xml, matched by file name)"
            in out)
    assert (f"  attached to run {run} (exports/10312/53567686/e0402/53567686_10312_08_XA_001.xml, matched by "
            "BAN, period and track)") in out
    assert "  no archived run has this E0402" in out

    records = [e for e in register.read(archive)[0] if e.kind == RESULT_ENTRY]
    assert len(records) == 2  # new entries on the register, chained like the runs'
    assert {e.fields["payload"]["outcome"] for e in records} == {"accepted", "failed"}
    assert register.check_chain(archive) == []
    assert verify_run(newer) == [] and verify_run(older) == []
    assert platform_status(archive) == {newer: "partly failed"}

    # Reading the same answers again records nothing new.
    assert main(["results", str(results), "--archive", str(archive)]) == 1
    assert "already attached to run" in capsys.readouterr().out
    assert len([e for e in register.read(archive)[0] if e.kind == RESULT_ENTRY]) == 2


def test_a_later_accepted_answer_makes_the_run_uploaded(tmp_path: Path, capsys) -> None:
    archive = tmp_path / "archive"
    run = make_run(archive, "r1", started="2015-01-05T00:00:00+00:00")
    first = tmp_path / "first.xml"
    first.write_bytes(process_result([("E0616",)]))
    assert main(["results", str(first), "--archive", str(archive)]) == 1
    assert platform_status(archive) == {run: "failed"}
    second = tmp_path / "second.xml"
    second.write_bytes(process_result([("0",)], size="513"))
    assert main(["results", str(second), "--archive", str(archive)]) == 0
    capsys.readouterr()
    assert platform_status(archive) == {run: "uploaded"}
