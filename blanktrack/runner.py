"""Period runs: execute the reconcile notebook with papermill into the audit archive.

`blanktrack run --params params/11302.yaml` → archive/11302/{run-id}/ with the executed notebook,
a self-contained HTML rendering, the exports and manifest.json (the commands that run and list
periods are in run_commands.py).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib.metadata
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from queue import Empty
from typing import Any

from . import archive, register
from .errors import InputError
from .params import RunParams, run_folder_target

EXECUTED = "reconcile.ipynb"
# The kernel's record of the inputs it read (path, sha256), in its socket folder, not the run's.
INPUT_LEDGER = "inputs.jsonl"
RENDERED = "reconcile.html"
RECORD_HIDDEN_TAG = "hide-in-record"  # a notebook cell the archived HTML leaves out
EXPORTS = "exports"
_PACKAGES = ("blanktrack", "polars", "pyarrow", "numba", "papermill", "nbconvert", "nbformat",
             "ipykernel", "matplotlib", "ipywidgets", "pyyaml")


@dataclass(frozen=True)
class RunOutcome:
    run_dir: Path
    status: str  # completed | failed
    error: str
    # The notebook's strict cell stopped the run (strict mode, error findings): recorded by the
    # cell (strict.StrictOutcome), read here, never guessed from the error message.
    stopped_by_strict: bool = False


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def git_state(folder: Path) -> dict[str, Any] | None:
    """The commit the code came from, and whether the work tree differed from it."""
    try:
        head = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"],
                              capture_output=True, text=True, timeout=10)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(folder), "status", "--porcelain",
                                "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return {"commit": head.stdout.strip(), "dirty": bool(dirty.stdout.strip())}


def render_html(notebook: Path, target: Path, exporter: Any = None) -> None:
    """A self-contained HTML page: inline CSS and SVG, no script fetched from the network.
    `exporter`: one from html_exporter() (its templates compiled already), else a new one."""
    import nbformat

    exporter = exporter or html_exporter()
    body, _ = exporter.from_notebook_node(nbformat.read(notebook, as_version=4))
    # The template links require.js and MathJax from a CDN; nothing in a report needs them and an
    # auditor's offline copy must not try to load them.
    body = re.sub(r"<script[^>]*\bsrc=\"https?://[^\"]*\"[^>]*>\s*</script>", "", body)
    body = re.sub(r"<script[^>]*>(?:(?!</script>).)*?https?://cdn(?:(?!</script>).)*</script>", "",
                  body, flags=re.DOTALL)
    archive.write_text_atomic(target, body)


def _skip_iri_grammar() -> None:
    """nbformat's jsonschema compiles an IRI grammar (rfc3987_syntax; its cost: bench/README.md)
    at import for a format no notebook schema uses; jsonschema skips that checker when the import
    fails."""
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]


def _import_papermill() -> Any:
    """papermill, imported without pyarrow (a start-up cost, bench/README.md): it imports it
    only to offer HDFS paths, which a run never uses, and does without when the import fails."""
    hide = "pyarrow" not in sys.modules
    if hide:
        sys.modules["pyarrow"] = None  # type: ignore[assignment]
    try:
        import papermill
    finally:
        if hide and sys.modules.get("pyarrow", 0) is None:
            del sys.modules["pyarrow"]
    return papermill


def _engine_keeping_the_notebook(kept: list[Any]) -> str:
    """A papermill engine (registered, its name returned) that keeps the run's notebook manager
    in `kept`: after the run, a failed or timed-out one too, its `nb` is the notebook as far as
    it ran (papermill's notebook_complete has finalised it). papermill is given no output path,
    so it writes nothing; the runner writes the notebook once, atomically, under its final
    name. A write per cell would serialise and validate the whole notebook between two cells,
    and papermill writes in place, which would leave half a notebook on a full disk. The engine
    implements papermill's documented extension point, execute_managed_notebook."""
    from papermill.engines import NBClientEngine, papermill_engines

    class Engine(NBClientEngine):  # type: ignore[misc]
        @classmethod
        def execute_managed_notebook(cls, nb_man: Any, kernel_name: str, **kwargs: Any) -> Any:
            kept[:] = [nb_man]
            return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)

    papermill_engines.register("blanktrack", Engine)
    return "blanktrack"


def _result_or_error(future: Future[str]) -> str:
    try:
        return future.result()
    except OSError as exc:  # moved or removed during the run: the record says so
        return f"unreadable: {exc}"


def _ipc_kernel_manager() -> type:
    """A kernel manager that talks to the kernel over local sockets, not TCP: nothing listens on
    the network while a period runs (and the kernel does not warn about unencrypted TCP)."""
    from jupyter_client.asynchronous import AsyncKernelClient
    from jupyter_client.manager import AsyncKernelManager

    class ReadyClient(AsyncKernelClient):
        async def wait_for_ready(self, timeout: float | None = None) -> None:
            """As jupyter_client's: ready once the kernel answers kernel_info and IOPub works.
            That one then listens a while longer for IOPub to fall quiet, in every run; here the
            status that ends the kernel_info request on IOPub ends the wait, since IOPub
            delivers in order whatever the kernel published before it."""
            deadline = time.monotonic() + (timeout if timeout is not None else math.inf)
            while True:
                request = self.kernel_info()
                try:
                    reply = await self.shell_channel.get_msg(timeout=1)
                except Empty:
                    reply = None
                while reply is not None and reply["msg_type"] == "kernel_info_reply":
                    try:  # IOPub not connected yet, it may miss the status: ask again
                        msg = await self.iopub_channel.get_msg(timeout=0.2)
                    except Empty:
                        break
                    if (msg["msg_type"] == "status"
                            and msg["parent_header"].get("msg_id") == request
                            and msg["content"].get("execution_state") == "idle"):
                        _adapt_protocol(self.session, reply)
                        return
                if not await self.is_alive():
                    raise RuntimeError("Kernel died before replying to kernel_info")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"Kernel didn't respond in {timeout} seconds")

    class IPCKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.transport = "ipc"
            self.clients: list[Any] = []
            self.client_factory = ReadyClient

        def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
            # The python3 kernel, started by blanktrack.notebook_kernel (no debugger: it starts sooner).
            cmd: list[str] = super().format_kernel_cmd(extra_arguments)
            for i in range(len(cmd) - 1):
                if cmd[i] == "-m" and cmd[i + 1] == "ipykernel_launcher":
                    cmd[i + 1] = "blanktrack.notebook_kernel"
            return cmd

        def client(self, **kwargs: Any) -> Any:
            # Kept, so that whoever started the kernel also closes the channels of a client
            # papermill made and left open (it leaves a kernel it did not start alone).
            kc = super().client(**kwargs)
            self.clients.append(kc)
            return kc

    return IPCKernelManager


def _adapt_protocol(session: Any, reply: dict[str, Any]) -> None:
    """As jupyter_client does with a kernel_info reply: a kernel speaking another major version
    of the messaging protocol gets its messages adapted (the session's public adapt_version)."""
    from jupyter_client import protocol_version_info

    version = reply["content"].get("protocol_version", "")
    major = version.split(".")[0]
    if major.isdigit() and int(major) != protocol_version_info[0]:
        session.adapt_version = int(major)


_KERNEL_FOLDER = re.compile(r"^blanktrack-kernel-(?P<pid>[0-9]+)-")


def _kernel_folder() -> str:
    """A new folder in the temporary folder for a kernel's sockets, named after this process.
    Folders of runs whose process is gone (killed: a run removes its own) are removed first."""
    parent = tempfile.gettempdir()
    with contextlib.suppress(OSError), os.scandir(parent) as entries:
        for entry in entries:
            found = _KERNEL_FOLDER.match(entry.name)
            if (found and entry.is_dir(follow_symlinks=False)
                    and not archive.running_here(int(found["pid"]))):
                shutil.rmtree(entry.path, ignore_errors=True)
    return tempfile.mkdtemp(prefix=f"blanktrack-kernel-{os.getpid()}-", dir=parent)


def _start_kernel(cwd: Path) -> Any:
    """A python3 kernel (this environment's python) started in cwd, reached over IPC; None if it
    cannot be started here (papermill then tries itself and the run records why it failed)."""
    import asyncio

    kernel = _ipc_kernel_manager()(kernel_name="python3")
    # The sockets live in a folder of their own, not in the run folder (the kernel's cwd), and
    # go with it: a kernel stopped at once does not remove them itself.
    folder = _kernel_folder()
    kernel.ip = os.path.join(folder, "kernel-ipc")
    # reconcile() in the kernel records there the digests of the inputs it read
    env = {**os.environ, archive.INPUT_LEDGER_ENV: os.path.join(folder, INPUT_LEDGER)}
    try:
        asyncio.run(kernel.start_kernel(cwd=str(cwd), env=env))
    except Exception:
        shutil.rmtree(os.path.dirname(kernel.ip), ignore_errors=True)
        return None
    return kernel


def _stop_kernel(kernel: Any) -> None:
    """Stop the kernel at once: every cell has run and its files are in place, so there is no
    point waiting for it to free the gigabytes of a large period."""
    import asyncio

    if kernel is None:
        return

    async def stop() -> None:
        for client in kernel.clients:
            client.stop_channels()
        process = getattr(kernel.provisioner, "process", None)  # jupyter_client's Popen
        if process is not None and process.poll() is None:
            # Killed and waited for here: the manager's own kill polls at intervals whether
            # the process is gone, which would lengthen every run's end.
            process.kill()
            process.wait()
        if await kernel.is_alive():
            await kernel.shutdown_kernel(now=True)
        else:
            await kernel.cleanup_resources()

    try:
        asyncio.run(stop())
    finally:
        shutil.rmtree(os.path.dirname(kernel.ip), ignore_errors=True)


def html_exporter() -> Any:
    """The HTML exporter of the archived page, its templates compiled: made (importing nbconvert
    and compiling the lab template take a while, bench/README.md) while the kernel works, not
    after it. It renders a notebook of one cell with the kinds of output a report has once, so
    that the code highlighter and the HTML cleaner are set up too, before the first real page."""
    import nbformat
    from traitlets.config import Config

    v4 = nbformat.v4
    # The record reads as a report: no code, no prompts (the executed notebook keeps the code),
    # and the cells tagged for the live notebook only (its intro) are left out.
    config = Config()
    config.TemplateExporter.exclude_input = True
    config.TemplateExporter.exclude_input_prompt = True
    config.TemplateExporter.exclude_output_prompt = True
    config.TagRemovePreprocessor.enabled = True
    config.TagRemovePreprocessor.remove_cell_tags = {RECORD_HIDDEN_TAG, "parameters",
                                                     "injected-parameters"}
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="lab", config=config)
    cell = v4.new_code_cell("from blanktrack import report\nreport.summary(result)", outputs=[
        v4.new_output("stream", name="stdout", text="text\n"),
        v4.new_output("display_data", data={"text/html": "<p>table</p>"}),
        v4.new_output("display_data", data={"image/svg+xml": "<svg></svg>"}),
        v4.new_output("error", ename="Error", evalue="", traceback=[]),
    ])
    notebook = v4.new_notebook(cells=[v4.new_markdown_cell("# report"), cell], metadata={
        "language_info": {"name": "python", "pygments_lexer": "ipython3"}})
    exporter.from_notebook_node(notebook)  # compiles and caches templates, lexer, cleaner
    return exporter


class _KernelStop:
    """Stop the kernel once, from whichever thread asks first: as soon as the cells are done it
    goes in the background (it frees a large period, which takes a while) while the
    HTML is rendered; the run waits for it before returning."""

    def __init__(self, kernel: Any) -> None:
        self._kernel = kernel
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=_stop_kernel, args=(self._kernel,),
                                                name="blanktrack-kernel-stop")
                self._thread.start()

    def wait(self) -> None:
        self.start()
        assert self._thread is not None
        self._thread.join()


def run_period(params: RunParams, archive_root: Path = archive.DEFAULT_ARCHIVE,
               *, progress: bool = True) -> RunOutcome:
    """Execute the notebook for one parameter file and archive everything it produced.

    Raises InputError (the parameter file's run_folder), archive.ArchiveError (the archive
    cannot hold the run) or RunNotRecorded (the run's record could not be written, e.g. a full
    disk); a run that fails in its notebook is archived as `failed` and returned."""
    _skip_iri_grammar()
    started = archive.now_utc()
    run_folder_target(params, archive_root)  # InputError before anything is created
    try:
        staged = archive.stage_run(archive_root, params.period, started, name=params.run_folder)
    except FileExistsError:  # made by someone else since the check: say so the same way
        run_folder_target(params, archive_root)
        raise
    inputs = [params.source, params.notebook, *params.allocations, *params.invoices]
    before = {p: _identity(p) for p in inputs}  # before the kernel reads anything
    # The kernel boots (a new Python: bench/README.md) while this process imports papermill and
    # puts the run on the record; it starts in the hidden folder, which becomes the run's.
    kernel = _start_kernel(staged.staging)
    stop = _KernelStop(kernel)
    try:
        try:
            run_dir = archive.open_run(staged, _first_manifest(params, started))
        except (OSError, register.RegisterError) as exc:
            shutil.rmtree(staged.staging, ignore_errors=True)
            if isinstance(exc, FileExistsError):  # a named folder made meanwhile: say so
                run_folder_target(params, archive_root)
            raise RunNotRecorded(f"{staged.target}: the run could not be put on the record: "
                                 f"{failure_reason(exc)} — nothing was run") from exc
        outcome = _run_in(kernel, params, run_dir, Path(archive_root), progress, stop, before)
    finally:
        stop.wait()
    if params.turnkey is not None and outcome.status == "completed":
        # the run is whole and on the record: Turnkey sends what it finds in SRC
        from .turnkey_drop import hand_off_run

        handed = hand_off_run(Path(archive_root), run_dir, run_dir / EXPORTS, params.turnkey)
        if progress:
            for placed in [str(p) for p in handed.placed] or ["no E0402 file (no blank number to report)"]:
                print(f"run {run_dir}: handed to Turnkey: {placed}", file=sys.stderr)
    return outcome


class RunNotRecorded(Exception):
    """A run's record (manifest, register) could not be written; the message says which run
    and why, and what the record holds instead."""


def failure_reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror} ({exc.filename})" if exc.filename else exc.strerror
    return str(exc)


def _first_manifest(params: RunParams, started: dt.datetime) -> dict[str, Any]:
    report_date = params.report_date or dt.date.today()
    return {
        "status": "running",
        "parameters": {**params.as_record(), "report_date": report_date.isoformat()},
        "inputs": {},  # hashed while the kernel runs, recorded when the run ends
        "packages": package_versions(),
        "kernel_python": sys.executable,
        "git": git_state(params.notebook.parent),
        "run_by": archive.who(),
        "host": archive.socket.gethostname(),
        "pid": os.getpid(),
        "started": started.isoformat(),
        "finished": None,
        "error": None,
        "outputs": {},
    }


def _identity(path: Path) -> tuple[int, int, int, int] | None:
    try:
        return archive.identity(path)
    except OSError:
        return None


def _run_in(kernel: Any, params: RunParams, run_dir: Path, archive_root: Path, progress: bool,
            stop: _KernelStop, before: dict[Path, tuple[int, int, int, int] | None]
            ) -> RunOutcome:
    papermill = _import_papermill()

    manifest = archive.read_manifest(run_dir)
    report_date = dt.date.fromisoformat(manifest["parameters"]["report_date"])
    nb_params = params.notebook_parameters((run_dir / EXPORTS).resolve(), report_date)
    manifest["notebook_parameters"] = nb_params
    if progress:
        print(f"run {run_dir}: executing {params.notebook.name} for period {params.period}",
              file=sys.stderr)
    error = ""
    t0 = time.monotonic()
    background = ThreadPoolExecutor(max_workers=1)
    hashes = [(p, background.submit(archive.sha256_file, p)) for p in before]
    exporter = background.submit(html_exporter)
    executed: list[Any] = []  # the notebook's manager, kept by the engine
    stopped_by_strict = False
    try:
        archive.fault_point("notebook")
        papermill.execute_notebook(
            str(params.notebook), None, parameters=nb_params,
            kernel_name="python3", km=kernel, cwd=str(run_dir),
            engine_name=_engine_keeping_the_notebook(executed),
            kernel_manager_class=_ipc_kernel_manager(),  # when km is None
            shutdown_kernel="immediate",  # when papermill started the kernel itself
            execution_timeout=params.timeout,
            progress_bar=progress and sys.stderr.isatty(), log_output=False,
        )
    except Exception as exc:  # the failure itself is the record: keep it, then exit non-zero
        error = _describe_failure(exc)
        stopped_by_strict = bool(executed) and _stopped_by_strict(exc, executed[0].nb)
    kernel_digests = _kernel_digests(kernel)
    stop.start()  # every cell has run: the kernel goes while the HTML is made
    background.shutdown(wait=True)
    manifest["inputs"] = _input_record(params, hashes, before)
    error = error or _changed_inputs(before, hashes, kernel_digests)
    written = False
    if executed:
        try:
            _write_notebook(executed[0].nb, run_dir / EXECUTED)
            written = True
        except OSError as exc:
            error = error or f"the executed notebook could not be written: {failure_reason(exc)}"
    if written:
        try:
            render_html(run_dir / EXECUTED, run_dir / RENDERED, exporter.result())
        except OSError as exc:
            error = error or f"the HTML page could not be written: {failure_reason(exc)}"
        except Exception as exc:
            error = error or f"HTML rendering failed: {exc}"
    manifest.update(
        status="failed" if error else "completed",
        error=error or None,
        finished=archive.now_utc().isoformat(),
        seconds=round(time.monotonic() - t0, 3),
    )
    try:
        manifest["outputs"] = archive.output_hashes(run_dir)
        archive.close_run(archive_root, run_dir, manifest)
    except (OSError, register.RegisterError) as exc:
        raise RunNotRecorded(
            f"{run_dir}: the end of the run could not be recorded: {failure_reason(exc)}"
            + (f" (the run had failed: {error})" if error else "")
            + " — its manifest still says it is running, so `blanktrack runs` lists it as "
            "incomplete; free space and run it again") from exc
    if progress:
        print(f"run {run_dir}: {manifest['status']} in {manifest['seconds']} s"
              + (f"\n  {error}" if error else ""), file=sys.stderr)
    return RunOutcome(run_dir, manifest["status"], error,
                      stopped_by_strict=stopped_by_strict and manifest["status"] == "failed")


def _write_notebook(nb: Any, target: Path) -> None:
    import nbformat

    archive.fault_point("write-notebook")
    archive.write_text_atomic(target, nbformat.writes(nb))


def _input_record(params: RunParams, hashes: list[tuple[Path, Future[str]]],
                  before: dict[Path, tuple[int, int, int, int] | None]) -> dict[str, Any]:
    """Per input (by the path the run read): its sha256, size and, for a link, the path as
    written in the parameter file."""
    record: dict[str, Any] = {}
    for path, digest in hashes:
        ident = before.get(path)
        entry: dict[str, Any] = {"sha256": _result_or_error(digest),
                                 "bytes": ident[2] if ident else None}
        given = params.given.get(str(path))
        if given is not None:
            entry["given"] = given  # a link, or a relative path: where it really points is the key
        record[str(path)] = entry
    return record


def _changed_inputs(before: dict[Path, tuple[int, int, int, int] | None],
                    hashes: list[tuple[Path, Future[str]]], kernel: dict[str, str]) -> str:
    """Why the hashes may not be of what was reconciled: an input whose identity (device,
    inode, size, modification time) changed during the run, or that the kernel read with
    other bytes than the runner hashed. '' when every input held still."""
    changed = []
    for path, digest in hashes:
        now = _identity(path)
        if now != before[path]:
            changed.append(f"{path}: changed while the run read it ({_show(before[path])} before, "
                           f"{_show(now)} after)")
            continue
        seen = kernel.get(str(path))
        mine = _result_or_error(digest)
        if seen is not None and seen != mine:
            changed.append(f"{path}: the notebook read bytes with sha256 {seen}, the runner "
                           f"hashed {mine}: it changed during the run")
    if not changed:
        return ""
    return ("InputChanged: " + "; ".join(changed) + " — the exports may not be of the hashed "
            "file; run again once the file is no longer being written")


def _show(ident: tuple[int, int, int, int] | None) -> str:
    if ident is None:
        return "missing"
    return f"{ident[2]} bytes, inode {ident[1]}, modified {ident[3]} ns"


def _kernel_digests(kernel: Any) -> dict[str, str]:
    """What the kernel recorded of the inputs it read (reconcile's digests), by path."""
    if kernel is None:
        return {}
    return archive.read_input_ledger(Path(os.path.dirname(kernel.ip)) / INPUT_LEDGER)


def strict_outcomes(nb: Any) -> list[dict[str, Any]]:
    """The strict cells' recorded outcomes (strict.STRICT_OUTCOME_MIME) in an executed notebook,
    in cell order."""
    from .strict import STRICT_OUTCOME_MIME

    return [output["data"][STRICT_OUTCOME_MIME]
            for cell in nb.cells if cell.get("cell_type") == "code"
            for output in cell.get("outputs", [])
            if STRICT_OUTCOME_MIME in output.get("data", {})]


def _stopped_by_strict(exc: Exception, nb: Any) -> bool:
    """Whether the run failed because strict mode stopped it: a cell raised (papermill's
    PapermillExecutionError, not a timeout or a dead kernel) after the strict cell recorded
    that it stops the run."""
    from papermill.exceptions import PapermillExecutionError

    return (isinstance(exc, PapermillExecutionError)
            and any(o.get("stopped") is True for o in strict_outcomes(nb)))


def _describe_failure(exc: Exception) -> str:
    ename = getattr(exc, "ename", type(exc).__name__)
    evalue = getattr(exc, "evalue", str(exc))
    # ANSI colour codes from the kernel's traceback do not belong in a manifest
    return re.sub(r"\x1b\[[0-9;]*m", "", f"{ename}: {evalue}").strip()


__all__ = ["InputError", "RunNotRecorded", "RunOutcome", "failure_reason", "run_period",
           "strict_outcomes"]
