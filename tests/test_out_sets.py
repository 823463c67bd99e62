"""out_sets' rules on their own: which set folder may be replaced (its ledger), which input lies
in a set folder, and what recover() does with what a dead run left."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from blanktrack import out_sets
from blanktrack.errors import InputError

LEDGER = ".blanktrack-set.json"  # the ledger's name, as the README gives it
NAMES = st.sampled_from(["53567686_10312.csv", "findings.csv", "summary.csv",
                         "e0402/53567686_10312_07_MB_001.xml", "e0402/x.xml", "note.txt"])


def write_set(folder: Path, files: dict[str, bytes], period: str = "10312",
              ban: str = "53567686") -> None:
    for rel, data in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
    (folder / LEDGER).write_bytes(out_sets.ledger_bytes(
        period, ban, {rel: hashlib.sha256(data).hexdigest() for rel, data in files.items()}))


@settings(max_examples=60, deadline=None)
@given(recorded=st.dictionaries(NAMES, st.binary(max_size=8), max_size=4),
       added=st.dictionaries(NAMES, st.binary(max_size=8), max_size=2),
       removed=st.sets(NAMES, max_size=2))
@example(recorded={}, added={}, removed=set())  # an empty set with its ledger
@example(recorded={"findings.csv": b"a"}, added={"findings.csv": b"a"}, removed=set())  # same
@example(recorded={"findings.csv": b"a"}, added={"findings.csv": b"b"}, removed=set())  # edited
@example(recorded={"findings.csv": b"a"}, added={}, removed={"findings.csv"})  # deleted: fine
@example(recorded={}, added={"note.txt": b""}, removed=set())  # an empty note is still a file
def test_a_set_may_be_replaced_exactly_when_it_holds_only_unchanged_recorded_files(
        tmp_path_factory: pytest.TempPathFactory, recorded: dict[str, bytes],
        added: dict[str, bytes], removed: set[str]) -> None:
    folder = tmp_path_factory.mktemp("set") / "10312" / "53567686"
    folder.mkdir(parents=True)
    write_set(folder, recorded)
    for rel in removed & set(recorded):
        (folder / rel).unlink()
    for rel, data in added.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
    foreign = sorted(rel for rel, data in added.items() if recorded.get(rel) != data)
    problems = out_sets.check_replaceable(folder, folder, "10312", "53567686")
    assert sorted(Path(p.file).relative_to(folder).as_posix() for p in problems) == foreign
    for p in problems:
        assert p.fix.startswith("move it out of the set folder")
    # The ledger of another BAN's set never lets a set be replaced.
    assert out_sets.check_replaceable(folder, folder, "10312", "04595257") != []


def test_a_missing_or_empty_set_folder_may_be_replaced(tmp_path: Path) -> None:
    assert out_sets.check_replaceable(tmp_path / "none", tmp_path / "none", "10312",
                                      "53567686") == []
    (tmp_path / "empty" / "e0402").mkdir(parents=True)
    assert out_sets.check_replaceable(tmp_path / "empty", tmp_path / "empty", "10312",
                                      "53567686") == []


@pytest.mark.parametrize(("rel", "refused"), [
    ("10312/53567686/invoices.csv", True),
    ("10312/53567686/e0402/deep/invoices.csv", True),
    ("11302/04595257/invoices.csv", True),
    ("notes/12345678/invoices.csv", True),  # any D/*/<8 digits>/ is a set folder
    ("10312/.53567686.old-12-ab/invoices.csv", True),
    (".blanktrack-staging-12-ab/10312/53567686/invoices.csv", True),
    (".blanktrack-staging-12-ab/invoices.csv", True),
    ("10312/invoices.csv", False),
    ("invoices.csv", False),
    ("10312/5356768/invoices.csv", False),  # 7 digits
    ("10312/535676860/invoices.csv", False),  # 9 digits
    ("10312/5356768a/invoices.csv", False),
    ("10312/53567686", False),  # a file named like a set folder is no input inside one
    ("../elsewhere/10312/53567686/invoices.csv", False),
])
def test_which_inputs_lie_in_a_set_folder(tmp_path: Path, rel: str, refused: bool) -> None:
    out = tmp_path / "out"
    out.mkdir()
    given_path = out / rel
    if refused:
        with pytest.raises(InputError, match="lies inside a set folder") as info:
            out_sets.refuse_inputs_in_sets(out, [given_path])
        assert info.value.problems[0].file == str(given_path)
    else:
        out_sets.refuse_inputs_in_sets(out, [given_path])


def test_recover_puts_a_set_moved_aside_back_or_removes_it(tmp_path: Path) -> None:
    dead = 2**22 + 1  # above Linux's default pid_max: no process has it
    out = tmp_path / "out"
    period = out / "10312"
    aside = period / f".53567686.old-{dead}-ab"
    write_set(aside, {"findings.csv": b"old"})
    staging = out / f".blanktrack-staging-{dead}-cd"
    (staging / "10312" / "53567686").mkdir(parents=True)
    out_sets.recover(out)
    assert not staging.exists() and not aside.exists()
    assert (period / "53567686" / "findings.csv").read_bytes() == b"old"  # put back
    write_set(aside, {"findings.csv": b"older"})
    out_sets.recover(out)
    assert not aside.exists()  # a set is in place: the hidden copy goes
    assert (period / "53567686" / "findings.csv").read_bytes() == b"old"
    (period / "notes").mkdir()
    (out / ".mine").write_text("x")
    out_sets.recover(out)  # anything else is left alone
    assert (period / "notes").is_dir() and (out / ".mine").is_file()


@settings(max_examples=80, deadline=None)
@given(files=st.dictionaries(st.text(max_size=12), st.text(max_size=8), max_size=5),
       period=st.text(max_size=6), ban=st.text(max_size=9))
@example(files={}, period="10312", ban="53567686")  # a set of no file yet
@example(files={"e0402/x.xml": "ab", "空白.csv": "\"\\\n"}, period="10312", ban="53567686")
def test_the_ledger_is_indented_json_with_sorted_keys(files: dict[str, str], period: str,
                                                      ban: str) -> None:
    """The same bytes as json.dumps(indent=2, sort_keys=True) and a line end: the layout the
    ledgers of earlier runs have."""
    import json

    from blanktrack import __version__

    expected = json.dumps({"blanktrack": __version__, "period": period, "reporting_ban": ban,
                           "files": files}, indent=2, sort_keys=True) + "\n"
    assert out_sets.ledger_bytes(period, ban, files) == expected.encode("utf-8")
