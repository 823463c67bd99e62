"""The explore notebook in a real browser: JupyterLab headless on localhost, Debian's chromium
driven by Selenium. Runs all cells from the Run menu, changes the track control and checks that
the gap table follows; saves a screenshot (also to /tmp/explore-screenshot.png).

Skips only when chromium or chromedriver is not installed (there is no browser to drive); no
browser is ever downloaded. Every wait is bounded; the server is always stopped.
"""

from __future__ import annotations

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


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A JupyterLab server on 127.0.0.1 with the venv's Python as kernel 'python3'."""
    root = _workspace(tmp_path)
    port, token = _free_port(), secrets.token_hex(16)
    log = (tmp_path / "jupyter.log").open("w")
    root_flag = ["--allow-root"] if os.geteuid() == 0 else []  # containers often run as root
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip", "127.0.0.1",
         "--port", str(port), f"--IdentityProvider.token={token}",
         f"--ServerApp.root_dir={root}", "--ServerApp.port_retries=0",
         "--LabApp.expose_app_in_browser=True", *root_flag],
        cwd=root, env=_lab_env(tmp_path), stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = Deadline(45)

        def up() -> bool:
            if proc.poll() is not None:
                raise Fatal(f"jupyter lab exited with {proc.returncode}: "
                                   + (tmp_path / "jupyter.log").read_text()[-2000:])
            with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2) as r:
                return r.status == 200

        try:
            deadline.wait("jupyter lab to answer", up, every=0.3)
        except Fatal as exc:
            pytest.fail(str(exc))
        yield f"{base}/lab/tree/notebooks/explore.ipynb?token={token}", tmp_path
    finally:
        _stop(proc)
        log.close()


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM (the server shuts its kernels down), then SIGKILL the group if it lingers."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


@pytest.fixture
def driver(tmp_path: Path) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--window-size=1400,1800",
                f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(arg)
    service = Service(str(CHROMEDRIVER), log_output=str(tmp_path / "chromedriver.log"))
    drv = webdriver.Chrome(options=options, service=service)
    drv.set_page_load_timeout(60)
    drv.set_script_timeout(30)
    try:
        yield drv
    finally:
        drv.quit()


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
    # the static output of the default selection is there too
    assert driver.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output svg")

    track = deadline.wait("the track control", lambda: driver.find_element(
        By.CSS_SELECTOR, ".bt-track select"))
    assert Select(track).first_selected_option.text == "(all)"
    Select(track).select_by_visible_text("LQ")

    def changed() -> list[list[str]] | None:
        rows = _gap_rows(driver)
        return rows if rows and rows != before else None

    after = deadline.wait("the gap table to follow the track control", changed, at_most=30)
    assert {row[3] for row in after} == {"LQ"} and len(after) == 3
    deadline.wait("the booklet map of LQ", lambda: "Track LQ" in driver.find_element(
        By.CSS_SELECTOR, ".bt-map-chart").get_attribute("innerHTML"), at_most=30)

    widget = driver.find_element(By.CSS_SELECTOR, ".bt-explorer")
    driver.execute_script("arguments[0].scrollIntoView({block: 'start'});", widget)
    shot = tmp_path / "explore-screenshot.png"
    assert driver.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    shutil.copy2(shot, SCREENSHOT_COPY)
