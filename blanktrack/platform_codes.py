"""The MOF platform's result codes for blank-track messages and their sentences (spec §5.5).

The sentences ship with the package (``data/platform-result-codes.{zh_TW,en_US}.txt``, copied
from the Turnkey 3.2 message bundle): users do not have the project's shared folder. Lint names
the code the platform would most likely answer beside its own sentence; ``results`` shows the
sentence of each code the platform did answer.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
LANGUAGES = ("zh_TW", "en_US")

# The codes lint names (spec §5.5).
DETAIL_OUTSIDE_MAIN = "E0603"
DETAIL_REPEATED = "E0604"
DETAIL_RANGE_REPEATED = "E0609"
BRANCH_NOT_OF_HEAD = "E0606"
WRONG_INVOICE_TYPE = "E0607"
SENDER_HEAD_OR_BRANCH = "E0611"
RANGES_OVERLAP = "E0612"
NOT_ALLOCATED = "E0613"
SENDER_HEAD_ONLY = "E0614"
PARTLY_FAILED = "E0615"
WHOLLY_FAILED = "E0616"


@functools.cache
def sentences(language: str) -> dict[str, str]:
    """code → the platform's sentence in ``language`` ('zh_TW' or 'en_US')."""
    if language not in LANGUAGES:
        raise ValueError(f"language {language!r} is not one of {', '.join(LANGUAGES)}")
    path = DATA / f"platform-result-codes.{language}.txt"
    table: dict[str, str] = {}
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line or line.startswith("#"):
            continue
        code, sep, text = line.partition("=")
        if not sep:
            raise ValueError(f"{path}:{lineno}: not CODE=sentence")
        table[code] = text
    return table


@dataclass(frozen=True)
class PlatformCode:
    """A result code with the platform's sentence in both languages ('' where not known)."""

    code: str
    zh_tw: str
    en: str

    def __str__(self) -> str:
        if not (self.zh_tw or self.en):
            return self.code
        return f"{self.code} {self.zh_tw} / {self.en}"


def platform_code(code: str) -> PlatformCode:
    return PlatformCode(code, sentences("zh_TW").get(code, ""), sentences("en_US").get(code, ""))


def describe(codes: str | tuple[str, ...]) -> str:
    """``likely E0604/E0609: 明細資料重複… / Data of the Details element is repeated.``

    ``codes``: one code, several as a tuple, or several joined by '/'.
    """
    if isinstance(codes, str):
        codes = tuple(codes.split("/"))
    first = platform_code(codes[0])
    return f"likely {'/'.join(codes)}: {first.zh_tw} / {first.en}"
