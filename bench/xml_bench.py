"""Reading MIG XML (issue 15): N invoices as a Turnkey folder of single-message files, and as
envelopes of 1,000, reconciled end to end by `blanktrack reconcile`, side by side with the
floor: a single-threaded loop of plain `lxml.etree.parse` over the same files that extracts
nothing. Each contender runs in a fresh process, in turns; medians of wall time and peak RSS are
printed with the load average.

    python bench/xml_bench.py [--invoices 1000000] [--repeat 3] [--keep]

Data are written once under bench/data/xml-{N}/ (gitignored) and reused.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
PY = sys.executable
BAN = "53567686"
PERIOD = "11312"  # Nov–Dec 2024
PER_ENVELOPE = 1000
PER_FOLDER = 1000  # files per BAK/yyyyMMdd/HH folder, as Turnkey spreads them

FLOOR = """
import os, sys
from lxml import etree
for root, _, files in os.walk(sys.argv[1]):
    for name in files:
        etree.parse(os.path.join(root, name))
"""


def _write(folder: Path, n: int) -> None:
    sys.path.insert(0, str(HERE.parent))
    from blanktrack.sources.mig_write import document, envelope, issue

    def message(i: int) -> str:
        day = 1 + (i * 61 // n)  # spread over the two months
        date = f"202411{day:02d}" if day <= 30 else f"202412{day - 30:02d}"
        return issue(f"AB{i:08d}", date, BAN)

    single = folder / "single" / "UpCast" / "B2SSTORAGE" / "F0401" / "BAK"
    packed = folder / "envelopes" / "UpCast" / "B2SSTORAGE" / "F0401" / "BAK"
    for start in range(0, n, PER_FOLDER):
        part = single / f"{start // PER_FOLDER:06d}"
        part.mkdir(parents=True, exist_ok=True)
        for i in range(start, min(n, start + PER_FOLDER)):
            (part / f"{i:08d}.xml").write_bytes(document(message(i)))
    packed.mkdir(parents=True, exist_ok=True)
    for start in range(0, n, PER_ENVELOPE):
        messages = (message(i) for i in range(start, min(n, start + PER_ENVELOPE)))
        (packed / f"{start:08d}.xml").write_bytes(envelope(messages))
    end = ((n + 49) // 50) * 50 - 1
    (folder / "allocations.csv").write_text(
        "ban,invoice_type,period,track,begin_no,end_no\n"
        f"{BAN},07,{PERIOD},AB,00000000,{end:08d}\n", encoding="utf-8")
    (folder / "done").write_text("ok\n")


def _timed(args: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (bytes) of one fresh process."""
    start = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(args)}")
    return wall, usage.ru_maxrss * 1024


def in_turns(label: str, contenders: dict[str, list[str]], floor: str, repeat: int,
             loads: list[float]) -> list[str]:
    """Each contender `repeat` times in turns (so drift hits all alike); a table row per
    contender: median wall, ratio to the floor's median, median peak RSS."""
    runs: dict[str, list[tuple[float, int]]] = {name: [] for name in contenders}
    for _ in range(repeat):
        for name, command in contenders.items():
            runs[name].append(_timed(command))
            loads.append(os.getloadavg()[0])
    floor_wall = statistics.median(w for w, _ in runs[floor])
    rows = []
    for name, timed in runs.items():
        wall = statistics.median(w for w, _ in timed)
        rss = statistics.median(r for _, r in timed)
        rows.append(f"| {label} | {name} | {wall:.2f} s | {wall / floor_wall:.2f}× | "
                    f"{rss / 2**20:.0f} MiB |")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--invoices", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    folder = DATA / f"xml-{args.invoices}"
    if not (folder / "done").exists():
        print(f"writing {args.invoices:,} invoices to {folder} …", file=sys.stderr)
        _write(folder, args.invoices)
    rows = []
    loads: list[float] = []
    for layout in ("single", "envelopes"):
        data = folder / layout
        out = folder / f"out-{layout}"
        contenders = {
            "lxml.etree.parse loop (floor)": [PY, "-c", FLOOR, str(data)],
            "blanktrack reconcile": [PY, "-m", "blanktrack", "reconcile", "--period", PERIOD,
                                     "--allocations", str(folder / "allocations.csv"),
                                     "--invoices", str(data), "--out-dir", str(out),
                                     "--report-date", "2025-01-05"],
        }
        rows += in_turns(layout, contenders, "lxml.etree.parse loop (floor)", args.repeat, loads)
    print(f"{args.invoices:,} invoices, median of {args.repeat}, {os.cpu_count()} cores, "
          f"load average {statistics.median(loads):.1f} (1 min, median over the runs)")
    print("| layout | contender | wall | vs floor | peak RSS |\n|---|---|---|---|---|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
