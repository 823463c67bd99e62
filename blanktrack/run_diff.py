"""What a correction changes: two archived runs of a period compared.

Per BAN, type and track, the blank ranges removed and added (read from the runs' MOF upload
files ``{BAN}_{period}.csv``, or their E0402 files where a run has no upload file) and how many
numbers stop or start being blank; the tracks a re-upload therefore replaces (the platform
replaces a whole track, spec §5.3); the findings that appeared or went; and the inputs whose
SHA-256 in the manifests differ. Files are found by pattern anywhere in the run folder, so every
export layout is read.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

from blanktrack.archive import read_manifest
from blanktrack.e0402_lint import lint_e0402_files
from blanktrack.errors import InputError, Problem
from blanktrack.labels import read_people_csv

Track = tuple[str, str, str]  # (BAN, invoice type, track)
Span = tuple[int, int]
_UPLOAD_NAME = re.compile(r"[0-9]{8}_(?P<period>[0-9]{5})\.csv")
# A finding is the same finding when these agree; its sentence names input lines, which move.
FINDING_KEY = ("severity", "code", "period", "ban", "invoice_type", "track", "begin_no",
               "end_no", "machine")


@dataclass
class TrackChange:
    track: Track
    removed: list[Span]
    added: list[Span]
    no_longer_blank: int
    newly_blank: int


@dataclass
class RunDiff:
    run_a: Path
    run_b: Path
    period: str
    tracks: list[TrackChange] = field(default_factory=list)
    unchanged_tracks: int = 0
    findings_went: list[dict[str, str]] = field(default_factory=list)
    findings_appeared: list[dict[str, str]] = field(default_factory=list)
    inputs: list[tuple[str, str]] = field(default_factory=list)  # (how, what)

    @property
    def same(self) -> bool:
        return not (self.tracks or self.findings_went or self.findings_appeared or self.inputs)


def _period(run_dir: Path) -> tuple[str, dict]:
    try:
        manifest = read_manifest(run_dir)
    except (OSError, ValueError) as exc:
        raise InputError(Problem(str(run_dir / "manifest.json"), None, None,
                                 f"not an archived run: {exc}",
                                 "give two run folders, e.g. archive/11302/{run-id}")) from exc
    return str(manifest.get("parameters", {}).get("period") or run_dir.parent.name), manifest


def blank_ranges(run_dir: Path, period: str) -> dict[Track, list[Span]]:
    """The run's exported blank ranges per (BAN, type, track)."""
    tracks: dict[Track, list[Span]] = {}
    uploads = sorted(p for p in run_dir.rglob(f"*_{period}.csv")
                     if _UPLOAD_NAME.fullmatch(p.name) and not _hidden(p, run_dir))
    for path in uploads:
        with open(path, encoding="utf-8", newline="") as fh:
            for lineno, row in enumerate(csv.reader(fh), start=1):
                if len(row) != 7 or not (row[4].isdigit() and row[5].isdigit()):
                    raise InputError(Problem(str(path), lineno, None,
                                             "not a row of an MOF upload file",
                                             f"run `blanktrack check {path}`"))
                tracks.setdefault((row[1], row[6], row[3]), []).append((int(row[4]), int(row[5])))
    if uploads:
        return {k: sorted(v) for k, v in tracks.items()}
    xmls = sorted(p for p in run_dir.rglob("*.xml") if not _hidden(p, run_dir))
    for doc in lint_e0402_files(xmls).documents:
        if doc.period == period:
            tracks.setdefault((doc.ban, doc.invoice_type, doc.track), []).extend(
                (r.begin, r.end) for r in doc.ranges)
    return {k: sorted(v) for k, v in tracks.items()}


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def _count(spans: list[Span]) -> int:
    return sum(e - b + 1 for b, e in spans)


def _subtract(spans: list[Span], minus: list[Span]) -> list[Span]:
    """The numbers of ``spans`` not in ``minus`` (both sorted, each without overlaps)."""
    out: list[Span] = []
    j = 0
    for b, e in spans:
        start = b
        while j < len(minus) and minus[j][1] < start:
            j += 1
        k = j
        while k < len(minus) and minus[k][0] <= e:
            mb, me = minus[k]
            if mb > start:
                out.append((start, mb - 1))
            start = max(start, me + 1)
            k += 1
        if start <= e:
            out.append((start, e))
    return out


def _findings(run_dir: Path) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for path in sorted(run_dir.rglob("findings.csv")):
        if _hidden(path, run_dir):
            continue
        rows.extend(read_people_csv(path))
    return rows


def _finding_key(row: dict[str, str]) -> tuple[str, ...]:
    return tuple(row.get(k) or "" for k in FINDING_KEY)


def diff_runs(run_a: Path, run_b: Path) -> RunDiff:
    run_a, run_b = Path(run_a), Path(run_b)
    period_a, manifest_a = _period(run_a)
    period_b, manifest_b = _period(run_b)
    if period_a != period_b:
        raise InputError(Problem(str(run_b), None, None,
                                 f"is a run of period {period_b}, {run_a} of {period_a}",
                                 "compare two runs of one period"))
    d = RunDiff(run_a, run_b, period_a)

    ranges_a, ranges_b = blank_ranges(run_a, period_a), blank_ranges(run_b, period_b)
    for track in sorted(set(ranges_a) | set(ranges_b)):
        a, b = ranges_a.get(track, []), ranges_b.get(track, [])
        if a == b:
            d.unchanged_tracks += 1
            continue
        d.tracks.append(TrackChange(
            track, sorted(set(a) - set(b)), sorted(set(b) - set(a)),
            _count(_subtract(a, b)), _count(_subtract(b, a))))

    found_a = {_finding_key(r): r for r in _findings(run_a)}
    found_b = {_finding_key(r): r for r in _findings(run_b)}
    d.findings_went = [found_a[k] for k in sorted(set(found_a) - set(found_b))]
    d.findings_appeared = [found_b[k] for k in sorted(set(found_b) - set(found_a))]

    inputs_a: dict[str, str] = manifest_a.get("inputs", {})
    inputs_b: dict[str, str] = manifest_b.get("inputs", {})
    for path in sorted(set(inputs_a) | set(inputs_b)):
        ha, hb = inputs_a.get(path), inputs_b.get(path)
        if ha == hb:
            continue
        if ha is None:
            d.inputs.append(("added", f"{path} (sha256 {hb})"))
        elif hb is None:
            d.inputs.append(("removed", f"{path} (sha256 {ha})"))
        else:
            d.inputs.append(("changed", f"{path} (sha256 {ha} → {hb})"))
    return d


def render(d: RunDiff) -> str:
    lines = [f"period {d.period}: {d.run_a} → {d.run_b}"]
    if d.same:
        lines.append("the same blank ranges, findings and inputs")
        return "\n".join(lines) + "\n"
    lines.append(f"blank ranges: {len(d.tracks)} track(s) changed, {d.unchanged_tracks} unchanged")
    for t in d.tracks:
        ban, itype, track = t.track
        lines.append(f"  {ban} type {itype} track {track}: {t.no_longer_blank} number(s) no "
                     f"longer blank, {t.newly_blank} newly blank")
        lines.extend(f"    - {track}{b:08d}–{track}{e:08d}" for b, e in t.removed)
        lines.extend(f"    + {track}{b:08d}–{track}{e:08d}" for b, e in t.added)
    if d.tracks:
        shown = ", ".join(f"{ban} {track} ({itype})" for ban, itype, track in (t.track for t in d.tracks))
        lines.append(f"a re-upload replaces these whole tracks on the platform: {shown}")
    lines.append(f"findings: {len(d.findings_appeared)} appeared, {len(d.findings_went)} went")
    for sign, rows in (("+", d.findings_appeared), ("-", d.findings_went)):
        for r in rows:
            where = r.get("track", "") + r.get("begin_no", "")
            if r.get("end_no") and r.get("end_no") != r.get("begin_no"):
                where += f"–{r.get('track', '')}{r['end_no']}"
            lines.append(f"  {sign} {r.get('severity', '')} {r.get('code', '')} "
                         f"{r.get('ban', '')} {where}: {r.get('message', '')}")
    lines.append(f"inputs: {len(d.inputs)} changed")
    lines.extend(f"  {how} {what}" for how, what in d.inputs)
    return "\n".join(lines) + "\n"
