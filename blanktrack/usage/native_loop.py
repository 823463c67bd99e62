"""The dense scan's compiled loop (slot_tally.py) and key coding (key_coding.py: CSV text keys,
typed days) as native code, loaded without numba.

Loading numba's own cache of the loop means numba's import and the set-up of its typing system
before the first row is tallied (bench/README.md, "Public APIs only"). So the first run compiles
C-callable wrappers of the loop with numba's public `cfunc`, takes their LLVM IR
(`inspect_llvm`), emits one object file with llvmlite and keeps it (beside numba's own cache);
later runs load that file with llvmlite (numba's code generator) and call it through ctypes,
which lets go of the GIL as numba's nogil does. Only public numba and llvmlite API is used.

The file is named by a key of everything that shapes the code: the source of slot_tally.py,
key_coding.py and this module, the numba and llvmlite versions, Python's version and the CPU. A stale or foreign
file is never loaded, only a new one built, and writing it removes the stale ones (one file per
folder, never a pile). When this cannot work (a folder nobody may write, an llvmlite that
refuses the IR), the loop runs through numba's own dispatcher instead, as fast once loaded, and
a warning says why.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import importlib.machinery
import importlib.metadata
import importlib.util
import json
import os
import re
import sys
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

_HERE = Path(__file__).resolve().parent
_COMPILED = ("slot_tally", "key_coding")  # the modules whose functions numba compiles
_SOURCES = (*(_HERE / f"{module}.py" for module in _COMPILED), Path(__file__).resolve())
_FORMAT = b"blanktrack-native-7\n"

# slot_tally.tally_batch's parameters in order: a name, then the dtype of an array ("offsets": int32
# or int64, one wrapper each) or None for an integer. An array goes to C as pointer and length.
_TALLY_PARAMS: tuple[tuple[str, str | None], ...] = (
    ("n", None), ("views", None), ("offsets", "offsets"), ("data", "uint8"),
    ("date_codes", "int32"), ("ban_codes", "int32"), ("machine_codes", "int32"),
    ("status_codes", "int32"), ("upload_codes", "int32"),
    ("date_offset", "int32"), ("date_day", "int32"), ("ban_id", "int32"),
    ("machine_id", "int32"), ("status_class", "int8"), ("upload_failed", "bool"),
    ("track_slot", "int32"), ("track_first", "int64"), ("track_base", "int64"),
    ("track_span", "int64"), ("booklet_slot", "int32"), ("slot_owner", "int32"),
    ("slot_state", "uint64"), ("group_table", "int64"), ("group_key", "int64"),
    ("day_counts", "uint32"), ("n_groups", None),
    ("exceptions", "int64"), ("ne", None), ("start", None),
)
_PER_ROW_PARAMS = _TALLY_PARAMS[:19]  # the batch's columns, per-code and track tables
_PARTITION_PARAMS: tuple[tuple[str, str | None], ...] = (
    *_PER_ROW_PARAMS, ("shift", None), ("records", "uint64"), ("fill", "int64"),
    ("ends", "int64"), ("exceptions", "int64"), ("ne", None), ("first_row", None),
    ("start", None),
)
_RECORDS_PARAMS: tuple[tuple[str, str | None], ...] = (
    ("records", "uint64"), ("fill", "int64"), ("ends", "int64"), ("bucket", None),
    ("start", None), ("shift", None), ("seen", "uint64"), ("booklet_seat", "int32"),
    ("slot_track_code", "int32"), ("slot_owner", "int32"),
    ("slot_state", "uint64"), ("group_table", "int64"), ("group_key", "int64"),
    ("day_counts", "uint32"), ("n_groups", None), ("exceptions", "int64"), ("ne", None),
)
_REHASH_PARAMS: tuple[tuple[str, str | None], ...] = (("table", "int64"), ("new_table", "int64"))
# key_coding.code_keys' parameters (a CSV batch's text key coded)
_CODE_KEYS_PARAMS: tuple[tuple[str, str | None], ...] = (
    ("views", "uint64"), ("validity", "uint8"), ("bit_offset", None), ("null_code", None),
    ("table", "int64"), ("keys", "uint64"), ("n_codes", None), ("codes", "int32"),
    ("start", None),
)
# key_coding.day_codes' parameters (a typed date's days coded)
_DAY_CODES_PARAMS: tuple[tuple[str, str | None], ...] = (
    ("ticks", "int64"), ("unit", None), ("span", None), ("codes", "int32"),
)
_OFFSETS = ("int32", "int64")
# Each function of slot_tally.py and key_coding.py kept as machine code: its parameters, whether
# it takes the number column's offsets (one wrapper per offsets type, then), and how many
# integers it returns.
_FUNCTIONS: dict[str, tuple[tuple[tuple[str, str | None], ...], bool, int]] = {
    "tally_batch": (_TALLY_PARAMS, True, 4),
    "partition_batch": (_PARTITION_PARAMS, True, 4),
    "tally_records": (_RECORDS_PARAMS, False, 4),
    "group_rehash": (_REHASH_PARAMS, False, 0),
    "code_keys": (_CODE_KEYS_PARAMS, False, 3),
    "key_rehash": (_REHASH_PARAMS, False, 0),
    "day_codes": (_DAY_CODES_PARAMS, False, 2),
}
_IN_KEY_CODING = ("code_keys", "key_rehash", "day_codes")  # the rest are slot_tally.py's


def _compiled_by_numba(name: str) -> Callable[..., Any]:
    """The numba function of that name (slot_tally.py's or key_coding.py's); imports numba."""
    from . import key_coding, slot_tally

    return getattr(key_coding if name in _IN_KEY_CODING else slot_tally, name)


class Kernels:
    """slot_tally.py's functions and the growing of the issuing groups, as dense.py calls them
    (numpy arrays in, tuple out)."""

    def __init__(self, functions: dict[str, Callable[..., Any]], kind: str) -> None:
        self.tally_batch: Callable[..., tuple[int, int, int, int]] = functions["tally_batch"]
        self.partition_batch: Callable[..., tuple[int, int, int, int]] = functions[
            "partition_batch"]
        self.tally_records: Callable[..., tuple[int, int, int, int]] = functions["tally_records"]
        self._rehash: Callable[..., None] = functions["group_rehash"]
        self.code_keys: Callable[..., tuple[int, int, int]] = functions["code_keys"]
        self.key_rehash: Callable[..., None] = functions["key_rehash"]
        self.day_codes: Callable[..., tuple[int, int]] = functions["day_codes"]
        self.kind = kind  # 'native' | 'numba'

    def issuing_grow(self, counts: IssuingCounts) -> IssuingCounts:
        """The issuing groups in a table twice the size (rehashed), their keys and counts kept."""
        entries = len(counts.table)  # twice the entries: len(table) // 2 now
        grown = IssuingCounts.empty(entries)
        self._rehash(counts.table, grown.table)
        grown.group_key[:len(counts.group_key)] = counts.group_key
        grown.day_counts[:len(counts.day_counts)] = counts.day_counts
        grown.groups = counts.groups
        return grown


# slot_tally.GROUP_DAYS and TILL_SHIFT / TILL_BITS (slot_tally.py imports numba, which a run
# does not load; tests/test_layout_mirrors.py holds the copies to the originals).
GROUP_DAYS = 64
TILL_SHIFT, TILL_BITS = 18, 0xFFFFFF


class IssuingCounts:
    """A scanning thread's issuing counts, as slot_tally.tally_batch keeps them: the issuing
    groups (seller, till, track) found by key in `table` (open addressing, `entries` a power
    of 2, key and group number interleaved, -1 empty; grown when half full), each group's key,
    and its count per day of the period (GROUP_DAYS a group)."""

    def __init__(self, table: np.ndarray, group_key: np.ndarray, day_counts: np.ndarray) -> None:
        self.table, self.group_key, self.day_counts = table, group_key, day_counts
        self.groups = 0

    @classmethod
    def empty(cls, entries: int) -> IssuingCounts:
        table = np.zeros(2 * entries, np.int64)
        table[0::2] = -1
        # Half full at most: a group more than entries // 2 never gets a number.
        capacity = max(1, entries // 2)
        return cls(table, np.full(capacity, -1, np.int64),
                   np.zeros(capacity * GROUP_DAYS, np.uint32))

    def arguments(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """tally_batch's group_table, group_key, day_counts and n_groups."""
        return self.table, self.group_key, self.day_counts, self.groups

    def tills(self, groups: np.ndarray) -> np.ndarray:
        """The till of each group number (-1 stays -1), int32."""
        keys = self.group_key[np.maximum(groups, 0)]
        return np.where(groups >= 0, (keys >> TILL_SHIFT) & TILL_BITS, -1).astype(np.int32)

    def keyed(self) -> np.ndarray:
        """The counts as (key, count) interleaved, int64, only those above 0: the key is the
        group's key with the day in its low 8 bits."""
        counts = self.day_counts[:self.groups * GROUP_DAYS].reshape(-1, GROUP_DAYS)
        group, day = np.nonzero(counts)
        out = np.empty(2 * len(group), np.int64)
        out[0::2] = self.group_key[group] | day
        out[1::2] = counts[group, day]
        return out



_lock = threading.Lock()
_kernels: Kernels | None = None


def kernels() -> Kernels:
    """The loop, loaded once per process: native code when it can be, else numba's dispatcher.
    Raises ImportError when neither llvmlite nor numba is installed (a broken install)."""
    global _kernels
    with _lock:
        if _kernels is None:
            _kernels = _load()
        return _kernels


def cache_folders() -> list[Path]:
    """Where the machine code is kept: beside numba's cache of slot_tally.py, else the user's cache."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return [_HERE / "__pycache__", Path(base) / "blanktrack"]


def _load() -> Kernels:
    try:
        import llvmlite.binding as llvm
    except ImportError:
        return _numba_kernels()
    key = _key(llvm)
    name = f"tally-native-{key}.bin"
    for folder in cache_folders():
        path = folder / name
        try:
            data = path.read_bytes()
        except OSError:  # not there (or removed meanwhile by another install's run): the next
            continue
        else:
            try:
                return _native_kernels(llvm, data)
            except ImportError:
                raise
            except Exception as exc:  # unreadable or damaged: build it again
                _warn(f"the native loop in {path} could not be loaded ({exc}); it is built "
                      "again")
                break
    try:
        data = _build(llvm)
        _save(name, data)
        remove_stale_numba_files(numba_cache_folder(), _numba_functions())
        return _native_kernels(llvm, data)
    except ImportError:
        raise
    except Exception as exc:  # numba's internals are not an API: say so, and go on slower
        _warn(f"the native loop could not be built ({type(exc).__name__}: {exc}); the dense "
              "scan loads numba instead (slower to start, every run)")
        return _numba_kernels()


def _warn(what: str) -> None:
    warnings.warn(what, RuntimeWarning, stacklevel=4)


def _key(llvm: Any) -> str:
    """What shapes the machine code: sources, compiler versions, Python, the CPU."""
    digest = hashlib.sha256(_FORMAT)
    for source in _SOURCES:
        digest.update(source.read_bytes())
    for package in ("numba", "llvmlite"):
        try:
            digest.update(f"{package}={importlib.metadata.version(package)};".encode())
        except importlib.metadata.PackageNotFoundError:
            digest.update(f"{package}=none;".encode())
    digest.update(f"{sys.version_info[:2]};{sys.platform};".encode())
    digest.update(f"{llvm.get_process_triple()};{llvm.get_host_cpu_name()};"
                  f"{llvm.get_host_cpu_features().flatten()}".encode())
    return digest.hexdigest()[:24]


def _save(name: str, data: bytes) -> None:
    """Keep the file in the first folder that takes it (written whole, then renamed)."""
    for folder in cache_folders():
        try:
            folder.mkdir(parents=True, exist_ok=True)
            tmp = folder / f".{name}.{os.getpid()}-{threading.get_ident()}"
            try:
                with open(tmp, "xb") as fh:  # the usual permissions: others may load it too
                    fh.write(data)
                os.replace(tmp, folder / name)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
            _remove_stale(folder, name)
            return
        except OSError:
            continue  # read-only install: the next folder; none: built again next run


_STALE = re.compile(r"^tally-native-[0-9a-f]+\.bin$")
_PARTIAL = re.compile(r"^\.tally-native-[0-9a-f]+\.bin\.[0-9]+-[0-9]+$")
_PARTIAL_AGE = 3600  # seconds: a file is written in milliseconds; older, its writer was killed


def _remove_stale(folder: Path, current: str) -> None:
    """The files of other keys (an older slot_tally.py, numba, Python or CPU) and the partial files
    of processes that are gone. Safe beside a concurrent run: a run only ever loads its own
    key's file, reads it whole in one call (a removed file still reads to its end once opened),
    and takes a file that vanished before it was opened for one not built yet. Partial files
    go by age, not by process id: the user's cache may be shared by several hosts."""
    _remove_where(folder, lambda entry: bool(
        (entry.name != current and _STALE.match(entry.name))
        or (_PARTIAL.match(entry.name)
            and time.time() - entry.stat(follow_symlinks=False).st_mtime > _PARTIAL_AGE)))


def _remove_where(folder: Path, stale: Callable[[os.DirEntry[str]], bool]) -> None:
    """The files of `folder` that `stale` picks, removed; a folder that cannot be read, or a
    file gone meanwhile or not ours to remove, is left as it is."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        with contextlib.suppress(OSError):
            if stale(entry):
                os.unlink(entry.path)


def numba_cache_folder() -> Path:
    """Where numba keeps its own cache of slot_tally.py and key_coding.py (their functions are
    compiled with cache=True): beside them, as long as that folder can be written."""
    return _HERE / "__pycache__"


# numba names a function's cache files by its module, name and first line (numba/core/caching.py:
# {module}.{function}-{line}.py{version}{abiflags}.nbi, with .{k}.nbc beside it); a file of an
# older source, whose function began on another line, is never read again. test_native.py holds
# this to the files numba writes.
_NUMBA_FILE = re.compile(
    rf"^({'|'.join(_COMPILED)})\.(\w+)-([0-9]+)\.py[0-9]+[a-z]*\.(?:[0-9]+\.nbc|nbi)$")


def _numba_functions() -> set[tuple[str, str, int]]:
    """(module, function, first line) of each function numba compiles in slot_tally.py and
    key_coding.py, as they are now (imports numba)."""
    modules = [importlib.import_module(f"{__package__}.{name}") for name in _COMPILED]
    return {(module.__name__.rpartition(".")[2], f.py_func.__qualname__,
             f.py_func.__code__.co_firstlineno)
            for module in modules for f in vars(module).values()
            if getattr(getattr(f, "py_func", None), "__module__", None) == module.__name__}


def remove_stale_numba_files(folder: Path, current: set[tuple[str, str, int]]) -> None:
    """numba's cache files of slot_tally.py's and key_coding.py's functions that are not among
    `current` (a function since moved, renamed or gone): numba leaves them, and each change of a
    source would add to the pile. Made when the sources change (a build) and when numba runs the
    loop; a file another run is reading is only compiled again by that run."""
    def stale(entry: os.DirEntry[str]) -> bool:
        found = _NUMBA_FILE.match(entry.name)
        return found is not None and (found[1], found[2], int(found[3])) not in current

    _remove_where(folder, stale)


# ---------------------------------------------------------------------------------------------
# Built once, with numba


def _build(llvm: Any) -> bytes:
    """The wrappers compiled by numba, as one object file with a header naming them."""
    from numba import carray, cfunc, types

    def c_type(dtype: str | None, offsets: str) -> Any:
        return types.int64 if dtype is None else types.CPointer(
            getattr(types, offsets if dtype == "offsets" else
                    "boolean" if dtype == "bool" else dtype))

    def wrapper(name: str, params: tuple[tuple[str, str | None], ...], offsets: str,
                inner: Any, returns: int) -> Any:
        # Generated, so that the parameter list is written once (above): each array comes as
        # pointer and length and is viewed with carray, the integers come as they are.
        c_params, args, sig = [], [], []
        for p, dtype in params:
            if dtype is None:
                c_params.append(p)
                args.append(p if p != "views" else "views != 0")
                sig.append(c_type(None, offsets))
            else:
                c_params += [p, f"{p}_len"]
                args.append(f"carray({p}, ({p}_len,))")
                sig += [c_type(dtype, offsets), types.int64]
        if returns:
            c_params.append("out")
            sig.append(types.CPointer(types.int64))
            outs = ", ".join(f"o[{k}]" for k in range(returns))
            results = ", ".join(f"r[{k}]" for k in range(returns))
            body = (f"    r = inner({', '.join(args)})\n"
                    f"    o = carray(out, ({returns},))\n"
                    f"    {outs} = {results}\n")
        else:
            body = f"    inner({', '.join(args)})\n"
        source = f"def {name}({', '.join(c_params)}):\n{body}"
        scope: dict[str, Any] = {"carray": carray, "inner": inner}
        exec(compile(source, f"<blanktrack.usage.native_loop {name}>", "exec"), scope)
        return cfunc(types.void(*sig), nogil=True, error_model="numpy")(scope[name])

    compiled = {}
    for name, (params, by_offsets, returns) in _FUNCTIONS.items():
        for o in _OFFSETS if by_offsets else ("int64",):
            c_name = f"{name}_{o}" if by_offsets else name
            compiled[c_name] = wrapper(c_name, params, o, _compiled_by_numba(name), returns)
    # Each cfunc's optimised LLVM IR (its public inspect_llvm), linked into one module and
    # emitted by llvmlite with the options numba's JIT uses for this CPU.
    module = None
    for fn in compiled.values():
        part = llvm.parse_assembly(fn.inspect_llvm())
        if module is None:
            module = part
        else:
            module.link_in(part)
    assert module is not None
    module.verify()
    obj = _target_machine(llvm).emit_object(module)
    names = {k: fn.native_name for k, fn in compiled.items()}
    header = json.dumps({"names": names, "sha256": hashlib.sha256(obj).hexdigest()}).encode()
    return _FORMAT + header + b"\n" + obj


def _target_machine(llvm: Any) -> Any:
    """A target machine for this CPU, as numba's JIT makes one: static relocation on x86 (what
    MCJIT wants there), the JIT code model, optimisation level 3."""
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    target = llvm.Target.from_default_triple()
    reloc = ("static" if target.name.startswith("x86") else
             "pic" if target.name.startswith("ppc") else "default")
    return target.create_target_machine(
        cpu=llvm.get_host_cpu_name(), features=llvm.get_host_cpu_features().flatten(), opt=3,
        reloc=reloc, codemodel="jitdefault", jit=True)


# ---------------------------------------------------------------------------------------------
# Loaded each run, without numba

_engines: list[Any] = []  # the code lives as long as its engine: for the process


def _native_kernels(llvm: Any, data: bytes) -> Kernels:
    if not data.startswith(_FORMAT):
        raise ValueError("not a file of this format")
    header, obj = data[len(_FORMAT):].split(b"\n", 1)
    meta = json.loads(header)
    # LLVM takes an object file on trust (a damaged one can crash the process): check it first.
    if hashlib.sha256(obj).hexdigest() != meta["sha256"]:
        raise ValueError("the machine code does not match its checksum (a damaged file)")
    names = meta["names"]
    _load_numba_helpers(llvm)
    engine = llvm.create_mcjit_compiler(llvm.parse_assembly(""), _target_machine(llvm))
    engine.add_object_file(llvm.ObjectFileRef.from_data(obj))
    engine.finalize_object()
    _engines.append(engine)

    def c_function(name: str, params: tuple[tuple[str, str | None], ...], returns: int) -> Any:
        n_args = sum(1 if d is None else 2 for _, d in params) + (returns > 0)
        address = engine.get_function_address(names[name])
        if not address:
            raise ValueError(f"{name} is not in the file")
        return ctypes.CFUNCTYPE(None, *[ctypes.c_int64] * n_args)(address)

    def python_function(name: str) -> Callable[..., Any]:
        params, by_offsets, returns = _FUNCTIONS[name]
        c_fns = {o: c_function(f"{name}_{o}" if by_offsets else name, params, returns)
                 for o in (_OFFSETS if by_offsets else ("int64",))}

        def call(*args: Any) -> Any:
            offsets = ("int64" if not by_offsets or args[2].dtype == _DTYPES["int64"]
                       else "int32")  # another type: refused by _c_args
            c_args = _c_args(params, args, offsets)
            if not returns:
                c_fns[offsets](*c_args)
                return None
            out = np.zeros(returns, np.int64)
            c_fns[offsets](*c_args, out.ctypes.data)  # ctypes lets go of the GIL meanwhile
            return tuple(int(v) for v in out)

        return call

    return Kernels({name: python_function(name) for name in _FUNCTIONS}, "native")


# The dtypes the parameters name: compared as dtypes (a dtype's name is made anew each time it is
# asked for, microseconds a call: several thousand calls a large CSV period).
_DTYPES = {name: np.dtype(name) for name in ("int8", "int32", "int64", "uint8", "uint32",
                                             "uint64", "bool")}


def _c_args(params: tuple[tuple[str, str | None], ...], args: tuple[Any, ...],
            offsets: str) -> list[int]:
    """Pointers and lengths of the arrays, checked: C reads whatever it is given."""
    if len(args) != len(params):
        raise TypeError(f"{len(params)} arguments expected, got {len(args)}")
    out: list[int] = []
    for (name, dtype), value in zip(params, args, strict=True):
        if dtype is None:
            out.append(int(value))
            continue
        want = offsets if dtype == "offsets" else dtype
        if not (isinstance(value, np.ndarray) and value.dtype == _DTYPES[want]
                and value.ndim == 1 and value.flags.c_contiguous):
            got = getattr(value, "dtype", type(value).__name__)
            raise TypeError(f"{name}: a contiguous 1-d {want} array expected, got {got}")
        out += [value.ctypes.data, len(value)]
    return out


def _load_numba_helpers(llvm: Any) -> None:
    """The machine code names a few of numba's C helpers on error paths it never takes (the
    loop raises nothing): their libraries are opened, not imported (no numba start-up)."""
    spec = importlib.util.find_spec("numba")
    if spec is None or spec.origin is None:
        raise ImportError("numba is not installed")
    root = os.path.dirname(spec.origin)
    for stem in ("_helperlib", os.path.join("core", "runtime", "_nrt_python")):
        found = [p for suffix in importlib.machinery.EXTENSION_SUFFIXES
                 if os.path.isfile(p := os.path.join(root, stem + suffix))]
        if not found:
            raise ImportError(f"numba's {stem} library is missing")
        llvm.load_library_permanently(found[0])


def _numba_kernels() -> Kernels:
    # ImportError when numba is not installed
    kernels = Kernels({name: _compiled_by_numba(name) for name in _FUNCTIONS}, "numba")
    remove_stale_numba_files(numba_cache_folder(), _numba_functions())
    return kernels


__all__ = ["GROUP_DAYS", "IssuingCounts", "Kernels", "cache_folders", "kernels", "numba_cache_folder",
           "remove_stale_numba_files"]
