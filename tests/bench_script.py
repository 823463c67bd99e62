"""bench/run.py loaded as a module for the tests (it is a script in a folder of scripts, not a
package module)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent


def load_bench_run(name: str) -> ModuleType:
    """bench/run.py as a module called `name` (each test file its own copy to patch)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
