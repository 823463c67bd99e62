"""A reader that stops early (`blanktrack check … | head`, `blanktrack runs | head`): the command
ends quietly, with the exit code a shell gives a command that SIGPIPE ended, and no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PIPE_CLOSED = 141  # 128 + SIGPIPE (13): what the shell reports for `yes` in `yes | head`
# Far more output than a pipe holds (64 KiB on Linux) plus Python's own buffer: the command is
# still writing when the reader goes.
ROWS = 3000


def first_line_then_close(args: list[str], cwd: Path) -> tuple[bytes, int, str]:
    """Run `blanktrack args`, read one line of its output, stop reading (as `head -1` does);
    the line, the exit code and what it said on stderr."""
    proc = subprocess.Popen([sys.executable, "-m", "blanktrack", *args], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode("utf-8", "replace")
    proc.stderr.close()
    return first, proc.wait(timeout=300), err


def test_check_piped_into_head_ends_quietly(tmp_path: Path) -> None:
    # every range overlaps the one before: a problem line for each row
    rows = [f"{i:05d},53567686,10312,MB,{i * 100:08d},{i * 100 + 120:08d},07\r\n"
            for i in range(1, ROWS + 1)]
    (tmp_path / "53567686_10312.csv").write_bytes("".join(rows).encode("ascii"))
    first, code, err = first_line_then_close(["check", "53567686_10312.csv"], tmp_path)
    assert first.startswith(b"53567686_10312.csv:2: MB00000200")
    assert code == PIPE_CLOSED
    assert err == ""


def test_runs_piped_into_head_ends_quietly(tmp_path: Path) -> None:
    runs = tmp_path / "archive" / "10312"
    for i in range(ROWS):  # folders without a manifest: each an `unreadable` row
        (runs / f"run-{i:04d}").mkdir(parents=True)
    first, code, err = first_line_then_close(
        ["runs", "--archive", "archive", "--limit", str(ROWS)], tmp_path)
    assert first.split() == [b"period", b"run", b"by", b"started", b"finished", b"status",
                             b"platform", b"note", b"folder"]
    assert code == PIPE_CLOSED
    assert err == ""


def test_check_read_to_the_end_keeps_its_exit_code(tmp_path: Path) -> None:
    # the same command, read whole: its own verdict (1, problems found), not the closed pipe's
    rows = [f"{i:05d},53567686,10312,MB,{i * 100:08d},{i * 100 + 120:08d},07\r\n"
            for i in range(1, ROWS + 1)]
    (tmp_path / "53567686_10312.csv").write_bytes("".join(rows).encode("ascii"))
    done = subprocess.run([sys.executable, "-m", "blanktrack", "check", "53567686_10312.csv"],
                          cwd=tmp_path, capture_output=True, timeout=300)
    assert done.returncode == 1
    assert done.stdout.count(b"\n") == ROWS - 1
    assert done.stderr == b""
