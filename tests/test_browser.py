"""The notebooks and the record in a real browser: JupyterLab headless on localhost, Debian's
chromium driven by Selenium.

- explore: runs all cells from the Run menu, changes the track control and checks that the gap
  table follows; saves a screenshot (also to /tmp/explore-screenshot.png).
- the archived reconcile.html, with and without a CJK font on the machine: the verdict on top, no
  code, the Chinese drawn by the font the page names (/tmp/record-cjk.png, record-no-cjk.png).
- `blanktrack lab`: a Run All and a save in JupyterLab leave `git status` clean.

Skips only when chromium or chromedriver is not installed (there is no browser to drive); no
browser is ever downloaded. Every wait is bounded; the server is always stopped.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCREENSHOT_COPY = Path("/tmp/explore-screenshot.png")
BUDGET = 120.0  # seconds for the whole test, server start included

pytestmark = pytest.mark.skipif(
    not (CHROMIUM.is_file() and CHROMEDRIVER.is_file()),
    reason=f"no browser to drive: {CHROMIUM} or {CHROMEDRIVER} is not installed "
           "(apt-get install chromium chromium-driver; .ci/run does this)",
)


class Fatal(Exception):
    """Stop waiting: this will not get better."""


class Deadline:
    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        return max(0.0, self.end - time.monotonic())

    def wait(self, what: str, check: Callable[[], Any], at_most: float = 60.0,
             every: float = 0.25) -> Any:
        """Poll `check` until it returns something truthy; fail naming `what`."""
        stop = time.monotonic() + min(at_most, self.left())
        last_error: Exception | None = None
        while time.monotonic() < stop:
            try:
                value = check()
                if value:
                    return value
            except Fatal:
                raise
            except Exception as exc:  # the page is still being built
                last_error = exc
            time.sleep(every)
        raise AssertionError(f"timed out waiting for {what}"
                             + (f" (last error: {last_error!r})" if last_error else ""))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _workspace(tmp: Path) -> Path:
    """A copy of what the notebook needs: the notebook and the sample it points to."""
    root = tmp / "root"
    (root / "notebooks").mkdir(parents=True)
    shutil.copy2(ROOT / "notebooks" / "explore.ipynb", root / "notebooks" / "explore.ipynb")
    shutil.copytree(ROOT / "blanktrack" / "sample" / "10312",
                    root / "blanktrack" / "sample" / "10312")
    return root


def _lab_env(tmp: Path) -> dict[str, str]:
    """Keep the server's state in tmp; no news or update pop-ups over the page."""
    settings = tmp / "lab-settings"
    notification = settings / "@jupyterlab" / "apputils-extension"
    notification.mkdir(parents=True)
    (notification / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    env = dict(os.environ)
    env.update(
        JUPYTER_CONFIG_DIR=str(tmp / "jupyter-config"),
        JUPYTER_RUNTIME_DIR=str(tmp / "jupyter-runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(settings),
        JUPYTERLAB_WORKSPACES_DIR=str(tmp / "lab-workspaces"),
        IPYTHONDIR=str(tmp / "ipython"),
        PYTHONUNBUFFERED="1",
    )
    return env


@contextlib.contextmanager
def _serve(root: Path, tmp: Path, command: list[str] | None = None,
           env: dict[str, str] | None = None) -> Iterator[tuple[str, str, Path]]:
    """A JupyterLab server on 127.0.0.1 serving `root` (`command`: how to start it, default
    `python -m jupyterlab`) with the venv's Python as kernel 'python3': (base URL, token, log)."""
    port, token = _free_port(), secrets.token_hex(16)
    log_path = tmp / "jupyter.log"
    log = log_path.open("w")
    root_flag = ["--allow-root"] if os.geteuid() == 0 else []  # containers often run as root
    command = command or [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={root}"]
    proc = subprocess.Popen(
        [*command, "--no-browser", "--ip", "127.0.0.1",
         "--port", str(port), f"--IdentityProvider.token={token}",
         "--ServerApp.port_retries=0", "--LabApp.expose_app_in_browser=True", *root_flag],
        cwd=root, env=env or _lab_env(tmp), stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = Deadline(45)

        def up() -> bool:
            if proc.poll() is not None:
                raise Fatal(f"jupyter lab exited with {proc.returncode}: "
                            + log_path.read_text()[-2000:])
            with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2) as r:
                return r.status == 200

        try:
            deadline.wait("jupyter lab to answer", up, every=0.3)
        except Fatal as exc:
            pytest.fail(str(exc))
        yield base, token, log_path
    finally:
        _stop(proc)
        log.close()


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The explore notebook in a workspace copy, served by JupyterLab."""
    root = _workspace(tmp_path)
    with _serve(root, tmp_path) as (base, token, _):
        yield f"{base}/lab/tree/notebooks/explore.ipynb?token={token}", tmp_path


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM (the server shuts its kernels down), then SIGKILL the group if it lingers."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


@contextlib.contextmanager
def _chromium(profile: Path, env: dict[str, str] | None = None,
              size: str = "1400,1800") -> Iterator[Any]:
    """Headless chromium; `env` for the browser process (e.g. FONTCONFIG_FILE)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", f"--window-size={size}",
                f"--user-data-dir={profile}"):
        options.add_argument(arg)
    service = Service(str(CHROMEDRIVER), log_output=str(profile.parent / "chromedriver.log"),
                      env=env)
    drv = webdriver.Chrome(options=options, service=service)
    drv.set_page_load_timeout(60)
    drv.set_script_timeout(30)
    try:
        yield drv
    finally:
        drv.quit()


@pytest.fixture
def driver(tmp_path: Path) -> Iterator[Any]:
    with _chromium(tmp_path / "chromium-profile") as drv:
        yield drv


# The notebook in the main area (currentWidget follows focus, which a headless window may not
# give the page: chromium 150 leaves it null).
KERNEL_IDLE = """
const app = window.jupyterapp;
let w = app && app.shell.currentWidget;
if (app && !(w && w.sessionContext)) {
  w = Array.from(app.shell.widgets('main')).find(x => x.sessionContext);
}
const s = w && w.sessionContext && w.sessionContext.session;
return !!(s && s.kernel && s.kernel.connectionStatus === 'connected'
          && s.kernel.status === 'idle');
"""


def _gap_rows(drv: Any) -> list[list[str]]:
    from selenium.webdriver.common.by import By

    rows = drv.find_elements(By.CSS_SELECTOR, ".bt-gap-table table tbody tr")
    return [[td.text for td in r.find_elements(By.TAG_NAME, "td")] for r in rows]


def _click_menu(drv: Any, deadline: Deadline, menu: str, item: str) -> None:
    from selenium.webdriver.common.by import By

    deadline.wait(f"menu {menu}", lambda: drv.find_element(
        By.XPATH, f"//li[contains(@class,'lm-MenuBar-item')]"
                  f"[.//div[contains(@class,'lm-MenuBar-itemLabel') and text()='{menu}']]",
    ).click() or True)
    deadline.wait(f"menu item {item}", lambda: drv.find_element(
        By.XPATH, f"//li[contains(@class,'lm-Menu-item')]"
                  f"[.//div[contains(@class,'lm-Menu-itemLabel') and text()='{item}']]",
    ).click() or True)


def test_explore_notebook_in_chromium(lab: tuple[str, Path], driver: Any,
                                      tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    url, _ = lab
    deadline = Deadline(BUDGET - 15)
    driver.get(url)
    deadline.wait("the notebook to open with an idle python3 kernel",
                  lambda: driver.execute_script(KERNEL_IDLE), at_most=60)

    # Focus the notebook (the Run menu acts on the current widget), then run every cell.
    deadline.wait("the notebook's first cell", lambda: driver.find_element(
        By.CSS_SELECTOR, ".jp-NotebookPanel .jp-Cell").click() or True)
    _click_menu(driver, deadline, "Run", "Run All Cells")

    deadline.wait("the widget gap table", lambda: len(_gap_rows(driver)) > 0, at_most=60)
    before = _gap_rows(driver)
    assert len(before) == 13
    assert {row[3] for row in before} == {"KT", "LQ", "LR", "MB", "XA"}
    # the opening selection is shown once: the widgets, not also a static copy
    outputs = driver.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output")
    assert sum("gaps 1–13 of 13" in o.text for o in outputs) == 1
    assert driver.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output .bt-explorer svg")

    track = deadline.wait("the track control", lambda: driver.find_element(
        By.CSS_SELECTOR, ".bt-track select"))
    assert Select(track).first_selected_option.text == "(all)"
    Select(track).select_by_visible_text("LQ")

    def changed() -> list[list[str]] | None:
        rows = _gap_rows(driver)
        return rows if rows and rows != before else None

    after = deadline.wait("the gap table to follow the track control", changed, at_most=30)
    assert {row[3] for row in after} == {"LQ"} and len(after) == 3
    deadline.wait("the booklet map of LQ", lambda: "字軌 track LQ" in driver.find_element(
        By.CSS_SELECTOR, ".bt-map-chart").get_attribute("innerHTML"), at_most=30)

    # a click on the second booklet of the map drills into its 50 numbers
    cells = deadline.wait("LQ's two booklets in the map", lambda: [
        c for c in driver.find_elements(By.CSS_SELECTOR, ".bt-map-grid .bt-grid-cell")
        if c.is_displayed()] if len(driver.find_elements(
            By.CSS_SELECTOR, ".bt-map-grid .bt-grid-cell")) == 2 else None, at_most=30)
    assert cells[1].get_attribute("title").startswith("#2 LQ00500050–00500099 04595257")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", cells[1])
    cells[1].click()
    numbers = deadline.wait("the numbers of booklet #2", lambda: next(
        (e for e in driver.find_elements(By.CSS_SELECTOR, ".bt-numbers")
         if "Booklet #2: LQ00500050" in e.text), None), at_most=30)
    # its 50 numbers, all blank, in five rows of ten headed by the full number
    assert "blank 50" in numbers.text and "LQ00500090 0090 0091" in numbers.text
    selected = driver.find_element(By.CSS_SELECTOR, ".bt-map-grid .bt-grid-selected")
    assert selected.get_attribute("data-index") == "1"
    # what a person sees: the numbers right under the map they clicked
    grid_box = driver.find_element(By.CSS_SELECTOR, ".bt-map-grid").rect
    numbers_box = numbers.rect
    assert 0 <= numbers_box["y"] - (grid_box["y"] + grid_box["height"]) < 80

    driver.execute_script("arguments[0].scrollIntoView({block: 'start'});", driver.find_element(
        By.CSS_SELECTOR, ".bt-map-chart"))
    shot = tmp_path / "explore-screenshot.png"
    assert driver.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    shutil.copy2(shot, SCREENSHOT_COPY)


# ---------------------------------------------------------------------------------------------
# The archived record, as a person opens it: with and without a CJK font on the machine
# ---------------------------------------------------------------------------------------------

CJK_FONT_FILE = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")  # fonts-noto-cjk
DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
RECORD_SHOTS = Path("/tmp")  # record-cjk.png, record-no-cjk.png are copied here to look at

# What the person sees of the page: where the verdict is, its words, which fonts drew its title.
RECORD_VIEW = """
const verdict = document.querySelector('.bt-verdict');
const first = document.querySelector('.jp-Cell');
const table = document.querySelector('table.blanktrack');
const code = Array.from(document.querySelectorAll('.jp-InputArea, .jp-CodeMirrorEditor, pre'))
  .filter(e => e.offsetParent !== null && e.textContent.includes('report.'));
const h2 = verdict.querySelector('h2');
const probe = document.createElement('span');
probe.textContent = '空白未使用字軌號碼'; probe.style.fontSize = '20px';
h2.appendChild(probe);
const width = probe.getBoundingClientRect().width;
probe.remove();
return {top: verdict.getBoundingClientRect().top, bottom: verdict.getBoundingClientRect().bottom,
        firstCellTop: first.getBoundingClientRect().top, tableTop: table.getBoundingClientRect().top,
        text: verdict.innerText, code: code.length, cjkWidth: width,
        fontFamily: getComputedStyle(h2).fontFamily};
"""


def _fonts_used(drv: Any, selector: str) -> dict[str, int]:
    """The fonts chromium drew the text of `selector` with, and how many glyphs each (DevTools'
    CSS.getPlatformFontsForNode: what reached the screen, not what the CSS asked for)."""
    drv.execute_cdp_cmd("DOM.enable", {})
    drv.execute_cdp_cmd("CSS.enable", {})
    root = drv.execute_cdp_cmd("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
    node = drv.execute_cdp_cmd("DOM.querySelector", {"nodeId": root, "selector": selector})
    used: dict[str, int] = {}
    for child in drv.execute_cdp_cmd("DOM.describeNode", {"nodeId": node["nodeId"], "depth": 1}
                                     )["node"].get("children", []):
        if child.get("nodeType") != 3:  # text nodes carry the fonts
            continue
        pushed = drv.execute_cdp_cmd("DOM.pushNodesByBackendIdsToFrontend",
                                     {"backendNodeIds": [child["backendNodeId"]]})["nodeIds"][0]
        for font in drv.execute_cdp_cmd("CSS.getPlatformFontsForNode",
                                        {"nodeId": pushed})["fonts"]:
            used[font["familyName"]] = used.get(font["familyName"], 0) + font["glyphCount"]
    return used


@pytest.fixture(scope="module")
def record_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample period's archived HTML, as `blanktrack run` writes it."""
    from blanktrack.params import load_params
    from blanktrack.runner import RENDERED, run_period

    archive_dir = tmp_path_factory.mktemp("archive")
    outcome = run_period(load_params(ROOT / "params" / "sample.yaml", base_dir=ROOT), archive_dir,
                         progress=False)
    assert outcome.status == "completed", outcome.error
    return outcome.run_dir / RENDERED


def _no_cjk_fonts(tmp: Path) -> dict[str, str]:
    """An environment in which chromium finds only DejaVu: a machine without a CJK font (a
    default Debian chromium), whatever this machine has installed."""
    conf = tmp / "fonts.conf"
    conf.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n'
        f"  <dir>{DEJAVU}</dir>\n  <cachedir>{tmp / 'fontcache'}</cachedir>\n</fontconfig>\n")
    return {**os.environ, "FONTCONFIG_FILE": str(conf)}


@pytest.mark.skipif(not CJK_FONT_FILE.is_file() or not DEJAVU.is_dir(),
                    reason="needs fonts-noto-cjk and fonts-dejavu-core (.ci/run installs them)")
def test_record_reads_as_a_report_with_and_without_cjk_fonts(record_page: Path,
                                                             tmp_path: Path) -> None:
    views = {}
    for name, env in (("cjk", None), ("no-cjk", _no_cjk_fonts(tmp_path))):
        with _chromium(tmp_path / f"profile-{name}", env=env, size="1100,1000") as drv:
            drv.get(record_page.as_uri())
            view = drv.execute_script(RECORD_VIEW)
            view["fonts"] = _fonts_used(drv, ".bt-verdict h2")
            shot = tmp_path / f"record-{name}.png"
            assert drv.save_screenshot(str(shot))
            shutil.copy2(shot, RECORD_SHOTS / shot.name)
            views[name] = view

    for name, view in views.items():
        # the verdict is the first thing on the page, above every table, and no code is shown
        assert view["top"] < 80 and view["firstCellTop"] <= view["top"], (name, view)
        assert view["bottom"] < view["tableTop"], (name, view)
        assert view["code"] == 0, name
        for words in ("10312 (103/11~103/12)", "53567686", "253 in 10 range(s)",
                      "2 day(s) left", "2015-01-01 ~ 2015-01-10"):
            assert words in view["text"], (name, words, view["text"])
        assert view["fontFamily"].startswith('"Noto Sans CJK TC", "Noto Sans TC"'), view
    # With the font the page names, the Chinese is drawn by it: 9 full-width glyphs, 20 px each.
    assert views["cjk"]["fonts"].get("Noto Sans CJK TC", 0) >= 9, views["cjk"]["fonts"]
    assert views["cjk"]["cjkWidth"] == pytest.approx(180, abs=2)
    # Without any CJK font no font of the stack exists: Chinese falls to narrow empty boxes.
    assert not any("CJK" in f for f in views["no-cjk"]["fonts"]), views["no-cjk"]["fonts"]
    assert views["no-cjk"]["cjkWidth"] < 0.6 * views["cjk"]["cjkWidth"]


# ---------------------------------------------------------------------------------------------
# `blanktrack lab`: a Run All in JupyterLab leaves the shipped notebooks as they are
# ---------------------------------------------------------------------------------------------


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          timeout=30, check=True)
    return done.stdout


def test_lab_run_all_leaves_git_status_clean(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from selenium.webdriver.common.by import By

    from blanktrack.lab import lab_command, prepare

    # a clone of what the project tracks that the notebook touches, committed
    repo = _workspace(tmp_path)
    shutil.copy2(ROOT / "notebooks" / "reconcile.ipynb", repo / "notebooks" / "reconcile.ipynb")
    shutil.copy2(ROOT / ".gitignore", repo / ".gitignore")
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-qm", "x")

    env = _lab_env(tmp_path)
    env["JUPYTER_DATA_DIR"] = str(tmp_path / "jupyter-data")  # where trust is recorded
    monkeypatch.setenv("JUPYTER_DATA_DIR", env["JUPYTER_DATA_DIR"])
    copies = prepare(repo)
    assert [c.relative_to(repo).as_posix() for c in copies] == ["work/explore.ipynb",
                                                                "work/reconcile.ipynb"]
    deadline = Deadline(BUDGET - 15)
    with _serve(repo, tmp_path, lab_command(repo / "work"), env) as (base, token, log), \
            _chromium(tmp_path / "profile-lab") as drv:
        drv.get(f"{base}/lab/tree/explore.ipynb?token={token}")
        deadline.wait("the notebook to open with an idle python3 kernel",
                      lambda: drv.execute_script(KERNEL_IDLE), at_most=60)
        deadline.wait("the notebook's first cell", lambda: drv.find_element(
            By.CSS_SELECTOR, ".jp-NotebookPanel .jp-Cell").click() or True)
        _click_menu(drv, deadline, "Run", "Run All Cells")
        deadline.wait("the widget gap table", lambda: len(_gap_rows(drv)) > 0, at_most=60)
        # what autosave does two minutes later, now
        drv.execute_script("return window.jupyterapp.commands.execute('docmanager:save')")
        saved = repo / "work" / "explore.ipynb"
        deadline.wait("the working copy saved with its outputs",
                      lambda: '"output_type"' in saved.read_text(encoding="utf-8"), at_most=30)
        assert "not trusted" not in log.read_text()
    assert _git(repo, "status", "--porcelain") == ""  # notebooks/ as committed, work/ ignored
    assert _git(repo, "check-ignore", "work/explore.ipynb").strip() == "work/explore.ipynb"
