"""The run page in a real browser (Debian's Chromium through Selenium) against `c8s dev up`.

A run started by a signed GitHub webhook is opened at the link its `pending` commit status carried
(as the fake GitHub API received it) and watched without reloading (a marker set in the page
survives until Cancel's form post): the steps change state live, a line printed by a running step
appears live, a secret shows masked in the stored log, an artifact downloads through the dashboard
with the right bytes, and Cancel cancels the run. Screenshots of each state are saved under the
test's temp dir (screens/).
"""

from __future__ import annotations

import uuid
from pathlib import Path

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.e2e.local import Instance, connection, pipeline, secret, step
from tests.support.chromium import chromium, until
from tests.support.dev_up import DevUp
from tests.support.fake_github import ORG_APP, FakeGitHub, push_to_org_app
from tests.support.fake_providers import TOKEN as PROVIDER_TOKEN
from tests.support.git_daemon import GitDaemon, GitRepo

TOKEN = "s3cr3t-" + uuid.uuid4().hex[:12]
KEY = b"webhook-key-" + uuid.uuid4().hex[:8].encode()
ARTIFACT = bytes(range(256)) * 40


def _text(driver: WebDriver, css: str) -> str:
    """The element's text, shown or not (a closed <details> hides a finished step's log)."""
    return str(driver.find_element(By.CSS_SELECTOR, css).get_attribute("textContent"))


def test_run_page_live_in_chromium(tmp_path: Path) -> None:
    """Steps, a live line, a masked secret, an artifact and Cancel, all seen in Chromium."""
    screens, downloads = tmp_path / "screens", tmp_path / "downloads"
    screens.mkdir(), downloads.mkdir()
    gate, marker = tmp_path / "gate", f"LIVE-{uuid.uuid4().hex[:8]}"
    repo = GitRepo.create(tmp_path / "repos" / "app.git")
    commit = repo.commit({"README": "browser\n"}, "first")
    write_artifact = 'python3 -c "import sys; sys.stdout.buffer.write(bytes(range(256)) * 40)" > dist/app.bin'
    steps = [
        step("build", 'echo "token=$TOKEN"', "mkdir -p dist", write_artifact, artifacts=["dist/*.bin"],
             secrets=[{"secretRef": "app-secrets", "key": "token", "envVar": "TOKEN"}]),
        # The log-shipper's masker holds back the last (longest secret form - 1) bytes of a running
        # step's output until more comes, so a line is live once enough output follows it: 512 zeros.
        step("wait", "echo waiting", f"while [ ! -f {gate} ]; do sleep 0.05; done", f"echo {marker}",
             "printf '%0512d\\n' 0", f"while [ ! -f {gate}.never ]; do sleep 0.05; done",
             dependsOn=["build"]),
    ]  # fmt: skip
    with FakeGitHub() as github, GitDaemon(tmp_path / "repos") as daemon, DevUp(
        tmp_path / "c8s", env={"C8S_GITHUB_API_URL": f"{github.fake.url}/api/v3"}
    ) as dev:
        dev.wait_for(r"^c8s is up$", deadline=120)
        c8s = Instance(dev)
        gh = connection("gh", "github", ORG_APP, "app-ci", "gh-hook")
        c8s.apply(
            tmp_path,
            secret("app-secrets", token=TOKEN),
            secret("gh-hook", **{"webhook-secret": KEY.decode()}),
            secret("gh-auth", username="c8s-bot", password=PROVIDER_TOKEN),
            pipeline("app-ci", daemon.url("app.git"), steps),
            {**gh, "spec": {**gh["spec"], "authSecretRef": "gh-auth"}},
        )
        status, answer = c8s.post("github", *push_to_org_app(commit, KEY))
        assert status == 202, answer
        [name] = answer["runs"]
        # The link a developer clicks: the target_url of the commit status GitHub received.
        page = until(lambda: next((p.target_url for p in github.fake.statuses), None), "a commit status", 120)
        assert page == f"http://127.0.0.1:{dev.dashboard_port}/runs/default/{name}"
        with chromium(tmp_path, downloads) as driver:
            driver.get(page)
            driver.execute_script("window.c8sMarker = 'same page';")
            driver.save_screenshot(str(screens / "1-opened.png"))

            until(lambda: _text(driver, "#step-wait .phase") == "Running", "step wait shown Running", 120)
            assert _text(driver, "#step-build .phase") == "Succeeded"
            driver.save_screenshot(str(screens / "2-running.png"))

            gate.touch()
            until(lambda: marker in _text(driver, "#log-wait"), "the live line on the page")
            driver.save_screenshot(str(screens / "3-live-line.png"))

            build_log = until(lambda: _text(driver, "#log-build") or None, "build's stored log")
            assert "token=***" in build_log and TOKEN not in driver.page_source
            assert driver.execute_script("return window.c8sMarker") == "same page"  # never reloaded

            driver.find_element(By.CSS_SELECTOR, "#step-build ul.artifacts a").click()
            saved = until(lambda: _finished(downloads / "app.bin"), "the artifact download")
            assert saved.read_bytes() == ARTIFACT
            driver.save_screenshot(str(screens / "4-artifact.png"))

            driver.find_element(By.XPATH, "//button[text()='Cancel']").click()
            until(lambda: _text(driver, "#run-phase") == "Cancelled", "run shown Cancelled")
            until(lambda: not driver.find_elements(By.CSS_SELECTOR, "form[action$='/cancel']"), "Cancel gone")
            driver.save_screenshot(str(screens / "5-cancelled.png"))
        assert c8s.wait(name)["status"]["phase"] == "Cancelled"
    assert sorted(p.name for p in screens.iterdir()) == [
        "1-opened.png", "2-running.png", "3-live-line.png", "4-artifact.png", "5-cancelled.png"]  # fmt: skip


def _finished(path: Path) -> Path | None:
    """The downloaded file once Chromium finished writing it (no .crdownload beside it)."""
    partial = path.with_name(path.name + ".crdownload")
    return path if path.exists() and not partial.exists() else None
