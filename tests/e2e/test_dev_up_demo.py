"""`c8s dev up --demo` end to end: the README's first command, as a newcomer runs it.

Covers: the sample repository is served over git:// by a supervised git daemon, the manifests
are applied, a signed GitHub push is accepted (202) and the run it starts is watched to
Succeeded, with each step's progress and log on the terminal, the secret masked, the artifact's
URL printed; afterwards `c8s get`/`events` see the run with nothing but PATH and the banner's
export lines (C8S_SERVER, the CLI's credentials, C8S_LOG_STORE) in their environment; SIGTERM stops every
child, git daemon included.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.support.dev_up import DevUp, alive


def test_demo_runs_a_whole_pipeline(tmp_path: Path) -> None:
    """The demo's push runs lint, test, build and package to Succeeded, logs shown, secret masked."""
    home = tmp_path / "c8s"
    with DevUp(home, "--demo") as dev:
        dev.wait_for(r"^c8s is up$", deadline=90)
        dev.wait_for(r"^demo: git daemon serves git://127\.0\.0\.1:\d+/repo$")
        run = dev.wait_for(r"-> 202, runs: (demo-ci-\S+)$").group(1)
        page = f"http://127.0.0.1:{dev.dashboard_port}/runs/default/{run}"
        dev.wait_for(rf"^demo: watch it at {re.escape(page)}$")
        dev.wait_for(rf"^pipelinerun/{re.escape(run)} Succeeded in ", deadline=120)
        artifact = dev.wait_for(r"^  artifact: (file://\S+/dist/hello\.txt)$").group(1)
        assert Path(artifact.removeprefix("file://")).read_text().startswith("hello from the c8s demo")
        for step in ("lint", "test", "build", "package"):
            assert f"  --- log of {step} ---" in dev.lines
            assert any(re.match(rf"^  {step}\s+Succeeded, exit 0", line) for line in dev.lines)
        assert "  test | the token this step got is: *** (masked in every log)" in dev.lines
        token = re.search(r"token: (demo-token-\w+)", (home / "demo" / "manifests.yaml").read_text())
        assert token is not None and token.group(1) not in dev.output

        env = _banner_exports(dev.lines)
        assert sorted(env) == ["C8S_LOG_STORE", "C8S_NATS_PASSWORD", "C8S_NATS_USER", "C8S_SERVER"]
        assert env["C8S_SERVER"] == f"nats://127.0.0.1:{dev.nats_port}"
        got = _c8s(env, "get", "pr", run, "-o", "json")
        assert json.loads(got)["status"]["phase"] == "Succeeded"
        events = _c8s(env, "events", run).splitlines()
        assert _c8s(env, "logs", run, "package").startswith("packaging ")
        assert events[0].split()[2] == "run.requested" and events[-1].split()[2] == "run.finished"

        assert dev.stop() == 0
        assert "git-daemon" in dev.pids()
        assert [pid for pid in dev.all_pids() if alive(pid)] == []


def _banner_exports(lines: list[str]) -> dict[str, str]:
    """The `export NAME=VALUE` lines of dev up's banner, as a dict."""
    exports = (line.strip().removeprefix("export ") for line in lines if line.strip().startswith("export "))
    return {name: value for name, _, value in (e.partition("=") for e in exports)}


def _c8s(exports: dict[str, str], *argv: str) -> str:
    """The CLI with nothing but PATH and the banner's exports in its environment."""
    env = {"PATH": os.environ["PATH"], **exports}
    done = subprocess.run(
        [sys.executable, "-m", "c8s.cli", *argv], capture_output=True, text=True, check=True, env=env
    )
    return done.stdout
