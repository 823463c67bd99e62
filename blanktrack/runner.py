"""Period runs: execute the reconcile notebook with papermill into the audit archive.

`blanktrack run --params params/11302.yaml` → archive/11302/{run-id}/ with the executed notebook,
a self-contained HTML rendering, the exports and manifest.json. `runs` lists the register,
`verify` re-hashes a run against its manifest.
"""

from __future__ import annotations

import argparse
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

from . import archive
from .cli import DEFAULT_ARCHIVE
from .errors import InputError
from .params import RunParams, load_params, run_folder_target

EXECUTED = "reconcile.ipynb"
# papermill writes the notebook as it runs; it gets its final name only when the run ends, so a
# killed run leaves no half-written notebook under the name an auditor opens (it stays hidden).
PARTIAL = ".reconcile.partial.ipynb"
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


def _html_exporter() -> type:
    """nbconvert's HTMLExporter without its last step, which parses the whole page with
    BeautifulSoup (half a second for the tables of a large period) only to add alt text to
    images (these notebooks have none: charts are inline SVG) and tab stops to cells."""
    from nbconvert import HTMLExporter
    from nbconvert.exporters.templateexporter import TemplateExporter
    from nbconvert.filters.highlight import Highlight2HTML
    from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter

    class ReportHTMLExporter(HTMLExporter):
        def from_notebook_node(self, nb: Any, resources: Any = None, **kw: Any) -> Any:
            # As HTMLExporter.from_notebook_node (nbconvert 7), up to the BeautifulSoup pass.
            langinfo = nb.metadata.get("language_info", {})
            lexer = langinfo.get("pygments_lexer", langinfo.get("name", None))
            self.register_filter("highlight_code", self.filters.get(
                "highlight_code", Highlight2HTML(pygments_lexer=lexer, parent=self)))
            resources = self._init_resources(resources)
            self.register_filter("filter_data_type", WidgetsDataTypeFilter(
                notebook_metadata=self._nb_metadata, parent=self, resources=resources))
            return TemplateExporter.from_notebook_node(self, nb, resources, **kw)

    return ReportHTMLExporter


def _skip_iri_grammar() -> None:
    """nbformat's jsonschema compiles an IRI grammar (rfc3987_syntax, 0.65 s) at import for a
    format no notebook schema uses; jsonschema skips that checker when the import fails."""
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]


def _import_papermill() -> Any:
    """papermill, imported without pyarrow (0.15 s): it imports it only to offer HDFS paths,
    which a run never uses, and does without when the import fails."""
    hide = "pyarrow" not in sys.modules
    if hide:
        sys.modules["pyarrow"] = None  # type: ignore[assignment]
    try:
        import papermill
    finally:
        if hide and sys.modules.get("pyarrow", 0) is None:
            del sys.modules["pyarrow"]
    return papermill


def _engine_writing_at_the_end() -> str:
    """A papermill engine (registered, its name returned) that writes the executed notebook
    once, when the run ends, not twice per cell: every write serialises and validates the
    whole notebook, which took 0.1 s of a 10M-invoice run, each time between two cells. The
    end comes for a failed or timed-out run too (papermill's notebook_complete); a run killed
    half-way is marked by its manifest, as before."""
    from papermill.engines import NBClientEngine, NotebookExecutionManager, papermill_engines

    class WriteAtTheEnd(NotebookExecutionManager):  # type: ignore[misc]
        def save(self, **kwargs: Any) -> None:
            if self.end_time is not None:  # set by notebook_complete, then it saves
                super().save(**kwargs)

    class Engine(NBClientEngine):  # type: ignore[misc]
        @classmethod
        def execute_notebook(cls, nb: Any, kernel_name: str, output_path: Any = None,
                             progress_bar: bool = True, log_output: bool = False,
                             autosave_cell_every: int = 30, **kwargs: Any) -> Any:
            # As papermill's Engine.execute_notebook (2.6), with the manager above.
            nb_man = WriteAtTheEnd(nb, output_path=output_path, progress_bar=progress_bar,
                                   log_output=log_output, autosave_cell_every=autosave_cell_every)
            nb_man.notebook_start()
            try:
                cls.execute_managed_notebook(nb_man, kernel_name, log_output=log_output,
                                             **kwargs)
            finally:
                nb_man.cleanup_pbar()
                nb_man.notebook_complete()
            return nb_man.nb

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

    class ReadyClient(AsyncKernelClient):  # type: ignore[misc]
        async def wait_for_ready(self, timeout: float | None = None) -> None:
            """As jupyter_client's: ready once the kernel answers kernel_info and IOPub works.
            That one then listens 0.2 s more for IOPub to fall quiet, in every run; here the
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
                        self._handle_kernel_info_reply(reply)
                        return
                if not await self._async_is_alive():
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
            # The python3 kernel, started by blanktrack.kernel (no debugger: 0.12 s sooner).
            cmd: list[str] = super().format_kernel_cmd(extra_arguments)
            for i in range(len(cmd) - 1):
                if cmd[i] == "-m" and cmd[i + 1] == "ipykernel_launcher":
                    cmd[i + 1] = "blanktrack.kernel"
            return cmd

        def client(self, **kwargs: Any) -> Any:
            # Kept, so that whoever started the kernel also closes the channels of a client
            # papermill made and left open (it leaves a kernel it did not start alone).
            kc = super().client(**kwargs)
            self.clients.append(kc)
            return kc

    return IPCKernelManager


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
    kernel.ip = os.path.join(_kernel_folder(), "kernel-ipc")
    try:
        asyncio.run(kernel.start_kernel(cwd=str(cwd)))
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
            # Killed and waited for here: the manager's own kill checks every 0.1 s whether
            # the process is gone (0.1 s of every run's end).
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
    and compiling the lab template take about 0.5 s) while the kernel works, not after it. It
    renders a notebook of one cell with the kinds of output a report has once, so that the
    code highlighter and the HTML cleaner are set up too (0.15 s of the first real page)."""
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
    exporter = _html_exporter()(template_name="lab", config=config)
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
    goes in the background (it frees a large period and is waited for about 0.1 s) while the
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


def run_period(params: RunParams, archive_root: Path = DEFAULT_ARCHIVE,
               *, progress: bool = True) -> RunOutcome:
    """Execute the notebook for one parameter file and archive everything it produced."""
    _skip_iri_grammar()
    started = archive.now_utc()
    run_folder_target(params, archive_root)  # InputError before anything is created
    try:
        run_dir = archive.new_run_dir(archive_root, params.period, started,
                                      name=params.run_folder)
    except FileExistsError:  # made by someone else since the check: say so the same way
        run_folder_target(params, archive_root)
        raise
    # The kernel boots (a new Python, half a second) while this process imports papermill and
    # writes the manifest.
    kernel = _start_kernel(run_dir)
    stop = _KernelStop(kernel)
    try:
        return _run_in(kernel, params, run_dir, started, progress, stop)
    finally:
        stop.wait()


def _run_in(kernel: Any, params: RunParams, run_dir: Path, started: dt.datetime, progress: bool,
            stop: _KernelStop) -> RunOutcome:
    papermill = _import_papermill()

    report_date = params.report_date or dt.date.today()
    nb_params = params.notebook_parameters((run_dir / EXPORTS).resolve(), report_date)
    manifest: dict[str, Any] = {
        "run_id": run_dir.name,
        "status": "running",
        "parameters": {**params.as_record(), "report_date": report_date.isoformat()},
        "notebook_parameters": nb_params,
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
    archive.write_manifest(run_dir, manifest)
    if progress:
        print(f"run {run_dir}: executing {params.notebook.name} for period {params.period}",
              file=sys.stderr)
    error = ""
    t0 = time.monotonic()
    inputs = [params.source, params.notebook, *params.allocations, *params.invoices]
    background = ThreadPoolExecutor(max_workers=1)
    hashes = [(p, background.submit(archive.sha256_file, p)) for p in inputs]
    exporter = background.submit(html_exporter)
    try:
        papermill.execute_notebook(
            str(params.notebook), str(run_dir / PARTIAL), parameters=nb_params,
            kernel_name="python3", km=kernel, cwd=str(run_dir),
            engine_name=_engine_writing_at_the_end(),
            kernel_manager_class=_ipc_kernel_manager(),  # when km is None
            shutdown_kernel="immediate",  # when papermill started the kernel itself
            execution_timeout=params.timeout,
            progress_bar=progress and sys.stderr.isatty(), log_output=False,
        )
    except Exception as exc:  # the failure itself is the record: keep it, then exit non-zero
        error = _describe_failure(exc)
    stop.start()  # every cell has run: the kernel goes while the HTML is made
    background.shutdown(wait=True)
    manifest["inputs"] = {str(p): _result_or_error(digest) for p, digest in hashes}
    if (run_dir / PARTIAL).exists():
        os.replace(run_dir / PARTIAL, run_dir / EXECUTED)
    if (run_dir / EXECUTED).exists():
        try:
            render_html(run_dir / EXECUTED, run_dir / RENDERED, exporter.result())
        except Exception as exc:
            error = error or f"HTML rendering failed: {exc}"
    manifest.update(
        status="failed" if error else "completed",
        error=error or None,
        finished=archive.now_utc().isoformat(),
        seconds=round(time.monotonic() - t0, 3),
        outputs=archive.output_hashes(run_dir),
    )
    archive.write_manifest(run_dir, manifest)
    if progress:
        print(f"run {run_dir}: {manifest['status']} in {manifest['seconds']} s"
              + (f"\n  {error}" if error else ""), file=sys.stderr)
    return RunOutcome(run_dir, manifest["status"], error)


def _describe_failure(exc: Exception) -> str:
    ename = getattr(exc, "ename", type(exc).__name__)
    evalue = getattr(exc, "evalue", str(exc))
    # ANSI colour codes from the kernel's traceback do not belong in a manifest
    return re.sub(r"\x1b\[[0-9;]*m", "", f"{ename}: {evalue}").strip()


# --- commands ---------------------------------------------------------------------------------

def cmd_run(args: argparse.Namespace) -> int:
    params = load_params(args.params)
    outcome = run_period(params, args.archive)
    print(outcome.run_dir)
    if outcome.status != "completed":
        return 3 if outcome.error.startswith("StrictModeError") else 1
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    records = archive.list_runs(args.archive)[: args.limit]
    if not records:
        print(f"no runs under {args.archive}")
        return 0
    header = ("period", "run by", "started", "finished", "status", "note", "folder")
    rows = [(r.period, r.run_by, r.started, r.finished, r.status, r.note[:60], str(r.run_dir))
            for r in records]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    for row in (header, *rows):
        print("  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=True)).rstrip())
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    bad = 0
    for run_dir in args.run_dirs:
        problems = archive.verify_run(Path(run_dir))
        for p in problems:
            print(f"{run_dir}: {p}")
        if problems:
            bad += 1
        else:
            print(f"{run_dir}: ok, every file matches its manifest")
    return 1 if bad else 0


__all__ = ["InputError", "RunOutcome", "cmd_run", "cmd_runs", "cmd_verify", "run_period"]
