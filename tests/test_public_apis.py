"""The package uses other libraries through their public APIs only (issue 14): none of the
private internals the run code once leaned on comes back."""

from __future__ import annotations

import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "blanktrack"
PRIVATE = re.compile(r"\._(library|tm|handle_kernel_info_reply|async_is_alive|init_resources"
                     r"|nb_metadata|final_module)\b|codegen\(\)\._")


def test_no_private_internals_of_numba_jupyter_client_papermill_nbconvert() -> None:
    found = [f"{path.relative_to(PACKAGE)}:{n}: {line.strip()}"
             for path in sorted(PACKAGE.rglob("*.py"))
             for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if PRIVATE.search(line)]
    assert found == []


def test_the_pattern_finds_what_it_looks_for() -> None:
    assert PRIVATE.search("part = fn._library._final_module.as_bitcode()")
    assert PRIVATE.search("cpu_target.target_context.codegen()._tm.emit_object(m)")
    assert PRIVATE.search("self._handle_kernel_info_reply(reply)")
    assert not PRIVATE.search("fn.inspect_llvm()")
