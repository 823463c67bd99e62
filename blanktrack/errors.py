"""Errors that stop a run because the input cannot be trusted."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One bad value: where it is, which field, what is wrong and what to do about it."""

    file: str
    line: int | None  # 1-based line of a text file, or 1-based row of a Parquet file
    field: str | None
    message: str
    fix: str = ""

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
        if self.field:
            where += f": field '{self.field}'"
        text = f"{where}: {self.message}"
        if self.fix:
            text += f" — {self.fix}"
        return text


class InputError(Exception):
    """Input that cannot be used: nothing is written, the command exits 1."""

    def __init__(self, problems: list[Problem] | Problem, more: int = 0) -> None:
        self.problems = [problems] if isinstance(problems, Problem) else list(problems)
        self.more = more  # problems found beyond those listed
        super().__init__(str(self))

    def __str__(self) -> str:
        lines = [str(p) for p in self.problems]
        if self.more:
            lines.append(f"… and {self.more} more problem(s) of the same kind")
        return "\n".join(lines)
