"""Reading MIG XML (issue 15): N invoices as a Turnkey folder of single-message files, and as
envelopes of K messages, reconciled end to end by `blanktrack reconcile`, side by side with the
floor: a single-threaded loop of plain `lxml.etree.parse` over the same files that extracts
nothing. Target: blanktrack's wall time at most the floor's (≤1×).

    python bench/xml_bench.py [--invoices N] [--layouts single,envelopes] [--envelope-size K]
                              [--repeat R] [--memory-at M]

--invoices N        invoices of each layout (default 1,000,000)
--layouts L         which layouts, comma-separated: single, envelopes (default both)
--envelope-size K   messages per envelope (default 1,000, as Turnkey packs them)
--repeat R          runs of each contender, taken in turns so drift hits both alike (default 3)
--memory-at M       also run blanktrack on M invoices of each layout and compare the peak
                    memory of the two sizes (flat: the larger at most 1.1× the smaller)
--data DIR          where the data are written once and read (default bench/data)
--out-dir DIR       where blanktrack writes its reports (default: beside the data; a folder
                    in memory such as /dev/shm spares a disk that is slow to create files)

The files are read once untimed first (the page cache then holds them for both contenders).
Each contender runs in a fresh process; wall time and peak memory (the sum of the resident
memory of the process and its workers, sampled every 20 ms) are medians of the runs. A
table for people, then one JSON line per measurement (for bench/run.py):
{"shape": "single", "invoices": N, "files": F, "blanktrack_s": …, "parse_loop_s": …,
 "ratio": …, "peak_rss": …, "parse_loop_peak_rss": …, "load": …, "target": "≤1×", "pass": …}
and with --memory-at {"shape": "single-memory", "invoices": [N, M], "peak_rss": [a, b],
"growth": b/a, "target": "≤1.1×", "pass": …}.

Data are written once under bench/data/xml-{N}/ (gitignored) and reused.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
PY = sys.executable
BAN = "53567686"
PERIOD = "11312"  # Nov–Dec 2024
PER_FOLDER = 1000  # files per BAK/yyyyMMdd/HH folder, as Turnkey spreads them
FLAT = 1.1  # memory: the larger size's peak at most this many times the smaller's

FLOOR = """
import os, sys
from lxml import etree
for root, _, files in os.walk(sys.argv[1]):
    for name in files:
        etree.parse(os.path.join(root, name))
"""


def _message(issue: Callable[[str, str, str], str], i: int, n: int) -> str:
    day = 1 + (i * 61 // n)  # spread over the two months
    date = f"202411{day:02d}" if day <= 30 else f"202412{day - 30:02d}"
    return issue(f"AB{i:08d}", date, BAN)


def _layout(folder: Path, layout: str, size: int) -> Path:
    return folder / ("single" if layout == "single" else f"envelopes-{size}")


def _write(folder: Path, n: int, layout: str, size: int) -> Path:
    """The layout's Turnkey folder of n invoices (written once), and the allocation file."""
    sys.path.insert(0, str(HERE.parent))
    from blanktrack.sources.mig_write import document, envelope, issue

    data = _layout(folder, layout, size)
    done = data.with_suffix(".done")
    if done.exists():
        return data
    print(f"writing {n:,} invoices to {data} …", file=sys.stderr)
    bak = data / "UpCast" / "B2SSTORAGE" / "F0401" / "BAK"
    if layout == "single":
        for start in range(0, n, PER_FOLDER):
            part = bak / f"{start // PER_FOLDER:06d}"
            part.mkdir(parents=True, exist_ok=True)
            for i in range(start, min(n, start + PER_FOLDER)):
                (part / f"{i:08d}.xml").write_bytes(document(_message(issue, i, n)))
    else:
        bak.mkdir(parents=True, exist_ok=True)
        for start in range(0, n, size):
            messages = (_message(issue, i, n) for i in range(start, min(n, start + size)))
            (bak / f"{start:08d}.xml").write_bytes(envelope(messages))
    end = ((n + 49) // 50) * 50 - 1
    (folder / "allocations.csv").write_text(
        "ban,invoice_type,period,track,begin_no,end_no\n"
        f"{BAN},07,{PERIOD},AB,00000000,{end:08d}\n", encoding="utf-8")
    done.write_text("ok\n")
    return data


def _tree_rss(pid: int) -> int:
    """Resident bytes of `pid` and every process descended from it (Linux /proc)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as fh:
                    stat = fh.read()
            except OSError:
                continue
            parents[int(entry)] = int(stat[stat.rindex(b")") + 2:].split()[1])
    tree, grew = {pid}, True
    while grew:
        more = {p for p, parent in parents.items() if parent in tree} - tree
        grew = bool(more)
        tree |= more
    total = 0
    for p in tree:
        try:
            with open(f"/proc/{p}/statm", "rb") as fh:
                total += int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:
            continue
    return total


def _timed(args: list[str]) -> tuple[float, int]:
    """Wall seconds and peak resident bytes (the process and its workers) of one fresh
    process."""
    start = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, _tree_rss(proc.pid))
        time.sleep(0.02)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(args)}\n{err[-2000:]}")
    return wall, peak


def _reconcile(folder: Path, data: Path, out: Path | None = None) -> list[str]:
    reports = (out / folder.name if out is not None else folder) / f"out-{data.name}"
    return [PY, "-m", "blanktrack", "reconcile", "--period", PERIOD,
            "--allocations", str(folder / "allocations.csv"), "--invoices", str(data),
            "--out-dir", str(reports), "--report-date", "2025-01-05"]


def _in_turns(commands: dict[str, list[str]], repeat: int, loads: list[float]
              ) -> dict[str, tuple[float, int]]:
    """Each command `repeat` times in turns; (median wall, median peak) of each."""
    runs: dict[str, list[tuple[float, int]]] = {name: [] for name in commands}
    for _ in range(repeat):
        for name, command in commands.items():
            runs[name].append(_timed(command))
            loads.append(os.getloadavg()[0])
    return {name: (statistics.median(w for w, _ in timed), int(statistics.median(
        r for _, r in timed))) for name, timed in runs.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--invoices", type=int, default=1_000_000)
    parser.add_argument("--layouts", default="single,envelopes")
    parser.add_argument("--envelope-size", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--memory-at", type=int, default=None)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    layouts = [x for x in args.layouts.split(",") if x]
    if not layouts or set(layouts) - {"single", "envelopes"}:
        parser.error("--layouts: single, envelopes or both")
    if args.invoices < 1 or args.envelope_size < 1 or args.repeat < 1:
        parser.error("--invoices, --envelope-size and --repeat must be at least 1")
    rows, lines = [], []
    for layout in layouts:
        loads: list[float] = []
        folder = args.data / f"xml-{args.invoices}"
        data = _write(folder, args.invoices, layout, args.envelope_size)
        # one untimed pass first, so neither contender pays for reading the files from disk
        _timed([PY, "-c", FLOOR, str(data)])
        timed = _in_turns({"floor": [PY, "-c", FLOOR, str(data)],
                           "blanktrack": _reconcile(folder, data, args.out_dir)}, args.repeat, loads)
        (floor, floor_rss), (ours, rss) = timed["floor"], timed["blanktrack"]
        load = statistics.median(loads)
        files = (args.invoices if layout == "single"
                 else -(-args.invoices // args.envelope_size))
        ratio = ours / floor
        rows.append(f"| {layout} | {args.invoices:,} | {files:,} | {floor:.2f} s | "
                    f"{ours:.2f} s | {ratio:.2f}× | {rss / 2**20:.0f} MiB | {load:.1f} | "
                    f"{'PASS' if ratio <= 1 else 'FAIL'} |")
        lines.append({"shape": layout, "invoices": args.invoices, "files": files,
                      "envelope_size": args.envelope_size if layout == "envelopes" else None,
                      "blanktrack_s": round(ours, 3), "parse_loop_s": round(floor, 3),
                      "ratio": round(ratio, 3), "peak_rss": rss, "parse_loop_peak_rss": floor_rss,
                      "load": round(load, 1), "target": "≤1×", "pass": ratio <= 1})
        if args.memory_at:
            other = args.data / f"xml-{args.memory_at}"
            more = _write(other, args.memory_at, layout, args.envelope_size)
            _, rss_more = _in_turns({"blanktrack": _reconcile(other, more, args.out_dir)}, args.repeat,
                                    loads)["blanktrack"]
            sizes = sorted([(args.invoices, rss), (args.memory_at, rss_more)])
            growth = sizes[1][1] / sizes[0][1]
            rows.append(f"| {layout} memory | {sizes[0][0]:,} → {sizes[1][0]:,} | | | | | "
                        f"{sizes[0][1] / 2**20:.0f} → {sizes[1][1] / 2**20:.0f} MiB "
                        f"({growth:.2f}×) | | {'PASS' if growth <= FLAT else 'FAIL'} |")
            lines.append({"shape": f"{layout}-memory", "invoices": [s for s, _ in sizes],
                          "peak_rss": [r for _, r in sizes], "growth": round(growth, 3),
                          "target": f"≤{FLAT}×", "pass": growth <= FLAT})
    print(f"MIG XML against a plain lxml.etree.parse loop: median of {args.repeat}, "
          f"{os.cpu_count()} cores (load: 1-minute average, median over the runs)")
    print("| layout | invoices | files | parse loop (floor) | blanktrack reconcile | vs floor "
          "| peak RSS | load | ≤1× |\n|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    for line in lines:
        print(json.dumps(line, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
