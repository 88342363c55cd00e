"""deploy/ with the nats-cluster component survives the loss of a NATS server mid-run.

Covers (issue 16, slice 4's last scenario): deploy/ plus the Component deploy/overlays/nats-cluster
(three NATS servers, each on its own hostPath PersistentVolume, R3 streams) applied through the same
overlay as test_deploy.py, in a deployment of this module's own: all three NATS pods and every
Deployment Ready. A run of two steps (``gate`` waits for a file the test writes into its container
with `kubectl exec`; ``after`` depends on it) is started; while ``gate`` runs, the run stream
C8S_RUNS is on all three servers (R3, asked of NATS's monitoring port) and its leader is killed with
`kubectl delete pod --grace-period=0 --force`; then the gate is opened, so the step's end, the
second step and the run's end are published while the bus fails over. The run Succeeds, both steps'
logs are in object storage, the run's event history (`c8s events`, run in a c8s-system pod as the
dashboard's identity: deploy/'s policies let nothing else reach NATS) holds each expected event
exactly once, and the killed server comes back (its StatefulSet 3/3 Ready again).

If test_deploy.py ran before in the same session, its deployment is being deleted: the fixture waits
for its namespace, CRDs and volumes to be gone before applying again.
"""

from __future__ import annotations

import json
import shlex
import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import c8s_deploy
import cluster as cluster_mod  # tests/cluster on sys.path (conftest.py)
import pytest
import pytest_asyncio

from steps.job_manifest import WORKSPACE
from tests.cluster.deployment import Deployed, apply, deployment, finished_run, step_phase
from tests.e2e.local import pipeline, step
from tests.k8s.conftest import Kubectl
from tests.k8s.waiting import eventually
from tests.support.s3_server import s3_client

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(900), pytest.mark.asyncio(loop_scope="module")]

NS = c8s_deploy.NAMESPACE
SERVERS = 3
RUN = "failover"
GATE = f"{WORKSPACE}/.gate"
STEPS = [step("gate", "echo gate waiting", f"until [ -f {GATE} ]; do sleep 0.5; done", "echo gate open"),
         step("after", "echo after the failover", dependsOn=["gate"])]
#: Each event of a two-step run that Succeeds, by (type, step): every one exactly once.
EXPECTED = Counter({("run.requested", ""): 1, ("run.accepted", ""): 1, ("run.finished", ""): 1,
                    **{(t, s["name"]): 1 for s in STEPS
                       for t in ("step.scheduled", "step.started", "step.finished", "log.shipped")}})
NATS_URL = "tls://nats.c8s-system.svc:4222"
#: python in a c8s-system pod: the JetStream state of one NATS server (monitoring port, JSON)
JSZ = ("import sys, urllib.request; sys.stdout.write(urllib.request.urlopen("
       "f'http://{sys.argv[1]}.nats-headless.c8s-system.svc:8222/jsz?accounts=true&streams=true',"
       " timeout=5).read().decode())")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def deployed(cluster: cluster_mod.Cluster, tmp_path_factory: pytest.TempPathFactory,
                   ) -> AsyncIterator[Deployed]:
    """deploy/ + nats-cluster Ready, with an onboarded team namespace."""
    directory = tmp_path_factory.mktemp("nats-cluster")
    async with deployment(cluster, directory, nats_servers=SERVERS, components=["nats-cluster"]) as deployed:
        yield deployed


async def test_a_nats_server_killed_mid_run_loses_nothing(deployed: Deployed) -> None:
    """The stream leader killed while a step runs: the run Succeeds, no event is lost or doubled."""
    kubectl, namespace = deployed.kubectl, deployed.namespace
    image, repository = deployed.cluster.image("step"), f"git://git.{namespace}.svc.cluster.local/r"
    run = {"apiVersion": "c8s.dev/v1alpha1", "kind": "PipelineRun",
           "metadata": {"name": RUN, "namespace": namespace},
           "spec": {"pipelineConfigRef": "gated", "commit": deployed.commit, "branch": "main"}}
    await apply(kubectl, deployed.directory / "gated.yaml",
                           pipeline("gated", repository, [{**s, "image": image} for s in STEPS], namespace))
    await apply(kubectl, deployed.directory / "failover.yaml", run)
    await step_phase(kubectl, namespace, RUN, "gate", "Running")
    pod = await _step_pod(kubectl, namespace, "gate")
    leader = await _replicated_leader(kubectl, "C8S_RUNS")
    killed_uid = await _uid(kubectl, leader)
    killed_at = time.monotonic()
    await kubectl("delete", "pod", leader, "-n", NS, "--grace-period=0", "--force")
    await kubectl("exec", "-n", namespace, pod, "-c", "step", "--", "touch", GATE)

    status = await finished_run(kubectl, namespace, RUN)
    print(f"killed {leader} (C8S_RUNS leader); run {status.get('phase')} "
          f"{time.monotonic() - killed_at:.1f}s later")
    assert status["phase"] == "Succeeded", status
    steps = {s["name"]: s for s in status["steps"]}
    assert [steps[s["name"]]["phase"] for s in STEPS] == ["Succeeded"] * len(STEPS), status
    logs = {name: s3_client(deployed.s3).cat(s["logURL"]).decode() for name, s in steps.items()}
    assert "gate open" in logs["gate"] and "after the failover" in logs["after"], logs
    history = await _events(kubectl, namespace, RUN)
    print("\n".join(history))
    assert _counted(history) == EXPECTED, "\n".join(history)
    await _rejoined(kubectl, leader, killed_uid)
    print(f"{leader} back and all {SERVERS} servers Ready {time.monotonic() - killed_at:.1f}s after the kill")



async def _step_pod(kubectl: Kubectl, namespace: str, name: str) -> str:
    listed = await kubectl("get", "pods", "-n", namespace, "-o", "jsonpath={.items[*].metadata.name}",
                           "-l", f"c8s.dev/run={RUN},c8s.dev/step={name}")
    [pod] = listed.stdout.split()
    return pod


async def _in_c8s_system(kubectl: Kubectl, *command: str) -> str:
    """Run ``command`` in a dashboard pod (c8s's image, the dashboard's NATS identity and CA)."""
    got = await kubectl("exec", "-n", NS, "deployment/c8s-dashboard", "-c", "dashboard", "--", *command,
                        check=False)
    assert got.returncode == 0, f"{shlex.join(command)} exited {got.returncode}: {got.stderr}"
    return got.stdout


async def _stream_cluster(kubectl: Kubectl, server: str, stream: str) -> dict[str, Any] | None:
    """``stream``'s cluster info as ``server``'s monitoring endpoint reports it (None: not there)."""
    state = json.loads(await _in_c8s_system(kubectl, "python", "-c", JSZ, server))
    found = [d.get("cluster", {}) for a in state.get("account_details", [])
             for d in a.get("stream_detail", []) if d["name"] == stream]
    return found[0] if found else None


async def _replicated_leader(kubectl: Kubectl, stream: str) -> str:
    """The server leading ``stream`` once it reports every other server as a current replica (R3, one
    copy per server). Only the leader's report tells: a follower's leaves itself out and lists the
    leader among the replicas, with `current` as it last knew it."""
    servers = [f"nats-{i}" for i in range(SERVERS)]
    last: dict[str, Any] | None = None

    async def replicated() -> str | None:
        nonlocal last
        seen = await _stream_cluster(kubectl, servers[0], stream)
        leader = seen.get("leader") if seen else None
        if not leader:
            return None
        last = await _stream_cluster(kubectl, leader, stream)
        if not last or last.get("leader") != leader:
            return None
        current = [r["name"] for r in last.get("replicas", []) if r.get("current")]
        return leader if sorted([leader, *current]) == servers else None

    try:
        return await eventually(replicated, what=f"{stream} on {SERVERS} servers", within=60, interval=1)
    except AssertionError as e:
        raise AssertionError(f"{e}; its leader's last report: {last}") from e


async def _uid(kubectl: Kubectl, pod: str) -> str:
    """The pod's uid ("" while there is no such pod)."""
    got = await kubectl("get", "pod", pod, "-n", NS, "-o", "jsonpath={.metadata.uid}", check=False)
    return got.stdout.strip() if got.returncode == 0 else ""


async def _events(kubectl: Kubectl, namespace: str, run: str) -> list[str]:
    """`c8s events` of the run: one line per stored event, `<seq> <time> <type> <details>`."""
    out = await _in_c8s_system(kubectl, "c8s", "events", run, "-n", namespace, "--server", NATS_URL)
    return out.splitlines()


def _counted(lines: list[str]) -> Counter[tuple[str, str]]:
    """How many times each (type, step) occurs in `c8s events` lines (step "" for run events)."""
    def key(fields: list[str]) -> tuple[str, str]:
        steps = [f.removeprefix("step=") for f in fields[3:] if f.startswith("step=")]
        return fields[2], steps[0] if steps else ""

    return Counter(key(line.split()) for line in lines)


async def _rejoined(kubectl: Kubectl, pod: str, killed_uid: str) -> None:
    """``pod`` recreated by its StatefulSet (a new uid) and all NATS servers Ready again."""
    async def back() -> bool:
        got = await kubectl("get", "statefulset", "nats", "-n", NS, "-o", "json", check=False)
        ready = json.loads(got.stdout).get("status", {}).get("readyReplicas", 0) if got.returncode == 0 else 0
        return ready == SERVERS and await _uid(kubectl, pod) not in ("", killed_uid)

    await eventually(back, what=f"{pod} recreated and {SERVERS} NATS servers Ready", within=180, interval=1)
