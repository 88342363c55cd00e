"""Debian's Chromium driven by Selenium for the browser tests: the system browser and its
chromedriver (installed by scripts/browser, which this runs: idempotent and quick once installed),
headless, a fresh profile under the test's temp dir, downloads into a known directory.
Nothing downloads a browser: both paths are given to Selenium, so its driver manager never runs."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from selenium import webdriver
from selenium.webdriver.remote.webdriver import WebDriver

ROOT = Path(__file__).resolve().parents[2]
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--window-size=1400,1000",
)  # fmt: skip
T = TypeVar("T")


def chromium_path() -> str:
    done = subprocess.run([str(ROOT / "scripts" / "browser")], capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"scripts/browser failed: {done.stderr.strip()}")
    return done.stdout.strip().splitlines()[-1]


@contextlib.contextmanager
def chromium(tmp: Path, downloads: Path) -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = chromium_path()
    for flag in (*FLAGS, f"--user-data-dir={tmp / 'profile'}"):
        options.add_argument(flag)
    prefs = {"download.default_directory": str(downloads), "download.prompt_for_download": False}
    options.add_experimental_option("prefs", prefs)
    driver_path = shutil.which("chromedriver")
    if driver_path is None:
        raise RuntimeError("chromedriver is missing: run scripts/browser (as root)")
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=driver_path))
    driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    try:
        yield driver
    finally:
        driver.quit()


def until(check: Callable[[], T | None], what: str, deadline: float = 30.0) -> T:
    """Poll `check` until it returns something truthy, or fail at the deadline naming `what`."""
    end = time.monotonic() + deadline
    while True:
        with contextlib.suppress(Exception):
            if result := check():
                return result
        if time.monotonic() > end:
            raise AssertionError(f"not within {deadline}s: {what}")
        time.sleep(0.05)
