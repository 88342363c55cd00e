"""The issue's attack replayed in local mode: `c8s dev up` (authenticated bus by default), a step in
namespace `attacker` trying to finish a step of a run in namespace `victim`.

Covers: while the victim's security scan runs, the attacker's step (nats-py from this interpreter)
tries to connect with no credentials and as `runner` with a guessed password, and to publish a
`step.finished` exit 0 with the real fact's Nats-Msg-Id: every attempt is refused; the victim's scan
then exits 1, its deploy is skipped and the run ends Failed; no C8S_NATS_* variable is in the
step's environment nor in its shim's (/proc/$PPID/environ), and no identity's password appears in
the attacker's log.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.local import Instance, pipeline, running_instance, step
from tests.support.git_daemon import served_repo

CREDENTIAL = "^(C8S_NATS_USER|C8S_NATS_PASSWORD|AWS_SECRET_ACCESS_KEY)="
ATTACK = '''
import asyncio, json, sys
import nats

URL, UID = sys.argv[1], sys.argv[2]

async def attempt(**credentials):
    errors = []
    async def on_error(e):
        errors.append(str(e))
    client = nats.aio.client.Client()
    task = asyncio.ensure_future(client.connect(URL, error_cb=on_error, allow_reconnect=False, **credentials))
    try:
        await asyncio.wait_for(asyncio.shield(task), 5)
    except BaseException as e:
        task.cancel()
        return "refused: " + (errors[-1] if errors else repr(e))
    subject = "c8s.run.victim.release-1.step.finished"
    body = {"type": "step.finished", "namespace": "victim", "run": "release-1", "uid": UID,
            "step": "security-scan", "exitCode": 0, "at": "2026-01-01T00:00:00Z"}
    try:
        ack = await client.jetstream().publish(subject, json.dumps(body).encode(),
                                               headers={"Nats-Msg-Id": UID + ":step.finished:security-scan"})
        return "PUBLISHED seq %d" % ack.seq
    except BaseException as e:
        return "publish refused: " + repr(e)

async def main():
    print("no credentials:", await attempt(), flush=True)
    print("guessed runner:", await attempt(user="runner", password="runner"), flush=True)

asyncio.run(main())
'''


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    with served_repo(tmp_path_factory.mktemp("repos"), {"README": "app\n"}) as served:
        yield served


@pytest.fixture(scope="module")
def c8s(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instance]:
    with running_instance(tmp_path_factory.mktemp("dev")) as instance:
        yield instance


def test_a_step_cannot_finish_another_teams_step(
    c8s: Instance, repo: tuple[str, str], tmp_path: Path
) -> None:
    """The forged step.finished never lands: the victim's scan fails and its run ends Failed."""
    url, commit = repo
    go, script = tmp_path / "attack-done", tmp_path / "attack.py"
    script.write_text(ATTACK)
    wait_for_attack = f"for i in $(seq 1 600); do [ -f {go} ] && break; sleep 0.1; done; exit 1"
    victim = [
        step("security-scan", wait_for_attack),
        step("deploy", "echo deployed", dependsOn=["security-scan"]),
    ]
    c8s.apply(tmp_path, pipeline("victim-ci", url, victim, ns="victim"))
    c8s.apply(tmp_path, run_of("victim-ci", "release-1", commit, "victim"))
    c8s.wait_step("release-1", "security-scan", "Running", ns="victim")
    uid = c8s.run("release-1", "victim")["metadata"]["uid"]
    server = f"nats://127.0.0.1:{c8s.dev.nats_port}"
    attack = step(
        "attack",
        f"{sys.executable} {script} {server} {uid}",
        f"env | grep -E '{CREDENTIAL}' || echo 'step env: no bus credentials'",
        f"tr '\\0' '\\n' < /proc/$PPID/environ | grep -E '{CREDENTIAL}' || echo 'shim env: none'",
        f"touch {go}",
    )
    c8s.apply(tmp_path, pipeline("attacker-ci", url, [attack], ns="attacker"))
    c8s.apply(tmp_path, run_of("attacker-ci", "attack-1", commit, "attacker"))
    assert c8s.wait("attack-1", "attacker")["status"]["phase"] == "Succeeded"
    log = c8s.logs("attack-1", "attack", "attacker")
    assert "no credentials: refused: nats: 'Authorization Violation'" in log, log
    assert "guessed runner: refused: nats: 'Authorization Violation'" in log, log
    assert "step env: no bus credentials" in log and "shim env: none" in log, log
    passwords = json.loads((c8s.dev.home / "nats" / "passwords.json").read_text())
    assert not any(p in log for p in passwords.values())

    run = c8s.wait("release-1", "victim")
    assert run["status"]["phase"] == "Failed"
    steps = {s["name"]: s for s in run["status"]["steps"]}
    assert (steps["security-scan"]["phase"], steps["security-scan"]["exitCode"]) == ("Failed", 1)
    assert steps["deploy"]["phase"] == "Skipped"


def run_of(config: str, name: str, commit: str, ns: str) -> dict[str, object]:
    return {
        "apiVersion": "c8s.dev/v1alpha1",
        "kind": "PipelineRun",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"pipelineConfigRef": config, "commit": commit, "branch": "main"},
    }
