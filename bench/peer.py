"""The peer side by side: Tekton Pipelines' controller and c8s on the same cluster, the same 3-step
chain, PipelineRuns created the same way (issue 14, item 6).

Both run on one cluster, started here in a temp dir:
- **Tekton**: its controller built from the published module (bench/tekton/build), run as a local
  process with the cluster's kubeconfig (as the plane runs the controller-manager), its release CRDs
  and config maps applied; a Pipeline of three Tasks (`true` each, command form, chained by runAfter),
  each step requesting and limited to a c8s step's default CPU and memory (500m, 1Gi; the node's
  2 CPUs then fit as many Pods of either; `--tekton-best-effort`: no requests).
- **c8s**: `c8s dev up --kubeconfig` against the same cluster, the bench's 3-step PipelineConfig
  (`true` each, chained by dependsOn); its step Jobs also clone the commit (an init container).

For each (Tekton first, then c8s; `--c8s-first` swaps them), `--warmup` runs are created and
waited for first (not counted: the first pulls of the images), then N PipelineRuns one at a time
(each once the previous is terminal), then a burst of M at once. Measured: create -> first Pod of
the run (a Pod watch), create -> run terminal (a watch of the runs), runs/s of the burst. Prints;
asserts nothing.

Two clusters:
- default: tests/controlplane (etcd, kube-apiserver, kube-controller-manager and the test node
  agent). The agent runs a container's command as a local process and ignores its image. Tekton's
  Pods start with an init container that copies Tekton's `entrypoint` binary out of its image
  (`/ko-app/entrypoint init ...`) and every step runs through that binary, so Tekton's Pods cannot
  complete there: the script reports create -> first Pod for Tekton, and for "terminal" prints the
  Pod's own failure (what stopped it) instead of a figure.
- `--cluster` (root): tests/cluster, a real kubelet, containerd and runc pulling from a loopback
  registry. Tekton's Pod images (entrypoint, nop, workingdirinit, sidecarlogresults: the static
  binary at /ko-app/<name>, made by bench/tekton/build) are pushed to that registry and the
  controller's image flags point at them; its shell image and both systems' step image are the
  cluster's c8s/step (sh, git), also c8s's clone image (the scheduler's C8S_CHECKOUT_IMAGE). The
  git daemon c8s clones from listens on the node's IP, which pods reach (loopback they do not).

Run: .venv/bin/python -m bench.peer [--cluster] [--runs N] [--burst M] [--warmup W] [--c8s-first]
     [--tekton-best-effort] [--tekton-no-sidecar-wait] [--logs DIR]
The burst's last run's Pods are printed (when each container ran): where a straggler waited.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from kubernetes_asyncio import client, config, watch

from api.pipelineconfig import Resources
from bench import kube_mode, local_mode
from bench.kube_mode import plane
from tests.support.dev_up import DevUp
from tests.support.git_daemon import GitDaemon, GitRepo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "cluster"))  # after bench.kube_mode put tests/controlplane there
import binaries  # noqa: E402
import cluster  # noqa: E402
import images  # noqa: E402

TEKTON_NS = "tekton-pipelines"
RUN_NS = "default"
#: The controller's image flags; each names the image of one binary its Pods run.
IMAGE_FLAGS = (
    "entrypoint-image",
    "nop-image",
    "sidecarlogresults-image",
    "workingdirinit-image",
    "shell-image",
    "shell-image-win",
)
#: The ones bench/tekton/build makes an image of (<home>/<name>.oci.tar); the shells are c8s/step.
POD_BINARIES = ("entrypoint", "nop", "sidecarlogresults", "workingdirinit")
CONTROLLER_LOG = "tekton-controller.log"
REWATCH_PAUSE = 0.5  # seconds before a watch the apiserver ended or refused is opened again


@dataclass(frozen=True)
class Where:
    """The cluster both systems run on, and what its Pods can use."""

    plane: plane.Plane
    tekton_images: dict[str, str]  # image flag (without its dash) -> reference
    step_image: str  # both systems' steps (`true`)
    git_host: str  # an address of this host that pods reach (c8s clones from a git daemon there)
    dev_env: dict[str, str]  # extra environment of `c8s dev up`
    note: str


@contextlib.asynccontextmanager
async def fake_node(tmp: Path) -> AsyncIterator[Where]:
    """tests/controlplane with its test node agent: images are only names there."""
    os.environ.setdefault("C8S_CONTROLPLANE_BIN", kube_mode.DEFAULT_BIN)
    async with plane.running(tmp / "plane", plane.find_binaries()) as p:
        refs = {flag: f"bench.local/{flag}" for flag in IMAGE_FLAGS}
        yield Where(
            p, refs, "busybox", "127.0.0.1", {}, f"control plane with the test node agent ({p.server})"
        )


@contextlib.asynccontextmanager
async def real_node(tmp: Path, home: Path) -> AsyncIterator[Where]:
    """tests/cluster (real kubelet, containerd, runc), Tekton's Pod images pushed to its registry."""
    os.environ.setdefault("C8S_CONTROLPLANE_BIN", kube_mode.DEFAULT_BIN)
    async with cluster.running(tmp / "cluster", plane.find_binaries(), binaries.find()) as c:
        pushed = {name: c.image(f"tekton-{name}") for name in POD_BINARIES}
        await asyncio.gather(*(images.push(home / f"{name}.oci.tar", ref) for name, ref in pushed.items()))
        refs = {f"{name}-image": ref for name, ref in pushed.items()}
        refs |= {"shell-image": c.image("step"), "shell-image-win": c.image("step")}  # no Windows node here
        note = f"tests/cluster, node {c.node_ip}, registry {c.registry}, up in {c.started_in:.1f} s"
        yield Where(c.plane, refs, c.image("step"), c.node_ip, {"C8S_CHECKOUT_IMAGE": c.image("step")}, note)


@dataclass(frozen=True)
class System:
    """How one CI system's runs are created, found and judged through the apiserver."""

    name: str
    group: str
    version: str
    body: Callable[[], dict[str, Any]]
    pod_label: str
    outcome: Callable[[dict[str, Any]], str | None]  # None: running; "ok": succeeded; else why not


def tekton_outcome(run: dict[str, Any]) -> str | None:
    for c in (run.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Succeeded" and c.get("status") in ("True", "False"):
            return "ok" if c["status"] == "True" else f"{c.get('reason')}: {c.get('message')}"
    return None


def c8s_outcome(run: dict[str, Any]) -> str | None:
    status = run.get("status") or {}
    phase = status.get("phase")
    if phase not in ("Succeeded", "Failed", "Cancelled"):
        return None
    return "ok" if phase == "Succeeded" else f"{phase}: {status.get('message')}"


TEKTON = System(
    "tekton",
    "tekton.dev",
    "v1",
    lambda: {"metadata": {"generateName": "chain-"}, "spec": {"pipelineRef": {"name": "chain"}}},
    "tekton.dev/pipelineRun",
    tekton_outcome,
)


def c8s_system(commit: str) -> System:
    def body() -> dict[str, Any]:
        spec = {"pipelineConfigRef": "noop", "commit": commit, "branch": "main", "triggeredBy": "bench"}
        return {"metadata": {"generateName": "noop-"}, "spec": spec}

    return System("c8s", "c8s.dev", "v1alpha1", body, "c8s.dev/run", c8s_outcome)


@dataclass
class Seen:
    """When a watch first saw each run's first Pod and its terminal state."""

    pods: dict[str, float] = field(default_factory=dict)
    ends: dict[str, float] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    pod_failures: dict[str, str] = field(default_factory=dict)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    watchers: list[asyncio.Task[None]] = field(default_factory=list)

    def start(self, api: client.ApiClient, system: System) -> None:
        for work in (self.follow_pods(api, system.pod_label), self.follow_runs(api, system)):
            task = asyncio.create_task(work)
            task.add_done_callback(lambda _: self.changed.set())  # `until` then raises its error
            self.watchers.append(task)

    async def stop(self) -> None:
        for task in self.watchers:
            task.cancel()
        await asyncio.gather(*self.watchers, return_exceptions=True)

    async def follow_pods(self, api: client.ApiClient, label: str) -> None:
        core = client.CoreV1Api(api)
        async for event in watching(core.list_namespaced_pod, RUN_NS, label_selector=label):
            pod = event["object"]
            run = pod.metadata.labels[label]
            self.pods.setdefault(run, time.time())
            if pod.status and pod.status.phase == "Failed":
                self.pod_failures.setdefault(run, pod_failure(pod))

    async def follow_runs(self, api: client.ApiClient, system: System) -> None:
        custom = client.CustomObjectsApi(api)
        list_runs = custom.list_namespaced_custom_object
        async for event in watching(list_runs, system.group, system.version, RUN_NS, "pipelineruns"):
            run, outcome = event["object"], system.outcome(event["object"])
            if outcome == "ok":
                self.ends.setdefault(run["metadata"]["name"], time.time())
            elif outcome:
                self.failures.setdefault(run["metadata"]["name"], outcome)
            self.changed.set()

    def settled(self, run: str) -> bool:
        return run in self.ends or run in self.failures

    async def until(self, done: Callable[[], bool], deadline: float) -> bool:
        end = time.monotonic() + deadline
        while not done():
            for task in self.watchers:
                if task.done():
                    task.result()  # its error, if it failed
                    raise RuntimeError("a watch ended")
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), max(0.0, end - time.monotonic()))
            except TimeoutError:
                return False
        return True


async def watching(list_fn: Callable[..., Any], *args: Any, **kwargs: Any) -> AsyncIterator[dict[str, Any]]:
    """The events of a watch, opened again when the apiserver ends it or refuses it for a while:
    right after Tekton's CRDs are made, a watch of PipelineRuns may get an ERROR event 429 "storage
    is (re)initializing" (seen here: the run watch died and no run was ever seen to finish)."""
    while True:
        try:
            async with watch.Watch() as w:
                async for event in w.stream(list_fn, *args, **kwargs):
                    yield event
        except client.ApiException as e:
            if e.status not in (410, 429):
                raise
        await asyncio.sleep(REWATCH_PAUSE)


async def pod_timeline(api: client.ApiClient, label: str, run: str, start: float) -> list[str]:
    """Each Pod of `run`: when it was made and each container ran, in seconds after `start` (the
    burst's first create; the apiserver's timestamps, whole seconds): where a slow run waited."""
    pods = (await client.CoreV1Api(api).list_namespaced_pod(RUN_NS, label_selector=f"{label}={run}")).items

    def at(when: Any) -> str:
        return f"{when.timestamp() - start:.0f}" if when else "-"

    lines = []
    for pod in sorted(pods, key=lambda p: p.metadata.creation_timestamp):
        parts = [f"{pod.metadata.name}: created {at(pod.metadata.creation_timestamp)}"]
        statuses = (pod.status.init_container_statuses or []) + (pod.status.container_statuses or [])
        for status in statuses:
            ended = status.state and status.state.terminated
            if ended:
                parts.append(f"{status.name} {at(ended.started_at)}-{at(ended.finished_at)}")
        lines.append(", ".join(parts))
    return lines


def pod_failure(pod: Any) -> str:
    """The first terminated container's reason and message (what the node reported)."""
    statuses = (pod.status.init_container_statuses or []) + (pod.status.container_statuses or [])
    for status in statuses:
        terminated = status.state and status.state.terminated
        if terminated and terminated.exit_code:
            reason = f"{terminated.reason} (exit {terminated.exit_code})"
            return f"container {status.name}: {reason} {terminated.message or ''}".strip()
    return pod.status.message or pod.status.reason or "Failed"


async def measure(api: client.ApiClient, system: System, args: argparse.Namespace) -> None:
    """Create `args.warmup` runs (not counted), `args.runs` one at a time, then `args.burst` at once;
    print the figures of `system`."""
    runs, burst, deadline = args.runs, args.burst, args.deadline
    custom = client.CustomObjectsApi(api)
    seen = Seen()
    seen.start(api, system)

    async def create() -> tuple[str, float]:
        sent = time.time()
        made = await custom.create_namespaced_custom_object(
            system.group,
            system.version,
            RUN_NS,
            "pipelineruns",
            {"apiVersion": f"{system.group}/{system.version}", "kind": "PipelineRun", **system.body()},
        )
        return made["metadata"]["name"], sent

    for _ in range(args.warmup):  # the first pulls of the images land here
        name, sent = await create()
        await seen.until(partial(seen.settled, name), deadline)
        took = f"{seen.ends[name] - sent:.1f} s" if name in seen.ends else "did not succeed"
        failure = seen.failures.get(name)
        why = f" ({failure} / Pod: {seen.pod_failures.get(name, '-')})" if failure else ""
        print(f"{system.name}: warm-up run {name}: create -> terminal {took}{why}", flush=True)
    pods: list[float] = []
    ends: list[float] = []
    failed: set[str] = set()
    for _ in range(runs):
        name, sent = await create()
        finished = await seen.until(partial(seen.settled, name), deadline)
        if name in seen.pods:
            pods.append(seen.pods[name] - sent)
        if finished and name in seen.ends:
            ends.append(seen.ends[name] - sent)
        else:
            failed.add(f"{seen.failures.get(name, 'not finished')} / Pod: {seen.pod_failures.get(name, '-')}")
    start = time.time()
    names = [name for name, _ in await asyncio.gather(*(create() for _ in range(burst)))]
    all_done = await seen.until(lambda: all(map(seen.settled, names)), deadline)
    await seen.stop()
    report(system.name, pods, ends, runs)
    if failed:
        print(f"{system.name}: {runs - len(ends)} of {runs} one at a time did not succeed: {sorted(failed)}")
    if all_done and all(n in seen.ends for n in names):
        took = sorted(seen.ends[n] - start for n in names)
        rate = burst / took[-1]
        spread = f"first {took[0]:.1f} s, median {local_mode.pct(took, 50):.1f} s, last {took[-1]:.1f} s"
        print(f"{system.name}: burst of {burst}: {rate:.2f} runs/s (runs terminal after: {spread})")
        slowest = max(names, key=lambda n: seen.ends[n])
        print(f"{system.name}: the burst's last run {slowest}, its Pods:")
        for line in await pod_timeline(api, system.pod_label, slowest, start):
            print(f"  {line}")
    else:
        unfinished = [n for n in names if n not in seen.ends]
        why = {
            f"{seen.failures.get(n, 'not finished')} / Pod: {seen.pod_failures.get(n, '-')}"
            for n in unfinished
        }
        running = sum(not seen.settled(n) for n in names)
        late = f" ({running} still running after {deadline:.0f} s)" if running else ""
        print(
            f"{system.name}: {len(unfinished)} of the burst of {burst} did not succeed{late}; "
            f"what stopped them: {sorted(why)}"
        )


def report(name: str, pods: list[float], ends: list[float], runs: int) -> None:
    for what, values in (("create -> first Pod", pods), ("create -> run terminal", ends)):
        if values:
            print(
                f"| {name:<6} | {what:<24} | {len(values):>3}/{runs} | "
                f"{local_mode.pct(values, 50) * 1000:>9.1f} | {local_mode.pct(values, 99) * 1000:>9.1f} |"
            )
        else:
            print(f"| {name:<6} | {what:<24} | {0:>3}/{runs} | {'-':>9} | {'-':>9} |")


def kubectl(p: plane.Plane, *args: str) -> None:
    env = {"PATH": os.environ.get("PATH", ""), "KUBECONFIG": str(p.kubeconfig), "HOME": str(p.directory)}
    subprocess.run([str(p.kubectl), *args], env=env, check=True, capture_output=True, timeout=180)


def tekton_objects(image: str, requests: bool) -> list[dict[str, Any]]:
    """The Tasks and Pipeline; with `requests`, each step requests (and is limited to) what a c8s
    step does by default (api.pipelineconfig.Resources), so both chains' Pods fit the node alike."""
    step: dict[str, Any] = {"name": "run", "image": image, "command": ["true"]}
    if requests:
        amount = {"cpu": Resources().cpu, "memory": Resources().memory}
        step["computeResources"] = {"requests": amount, "limits": amount}
    tasks = [
        {
            "apiVersion": "tekton.dev/v1",
            "kind": "Task",
            "metadata": {"name": f"step-{s}", "namespace": RUN_NS},
            "spec": {"steps": [step]},
        }
        for s in "abc"
    ]
    chain = [
        {"name": s, "taskRef": {"name": f"step-{s}"}, **({"runAfter": [p]} if p else {})}
        for s, p in (("a", ""), ("b", "a"), ("c", "b"))
    ]
    pipeline = {
        "apiVersion": "tekton.dev/v1",
        "kind": "Pipeline",
        "metadata": {"name": "chain", "namespace": RUN_NS},
        "spec": {"tasks": chain},
    }
    return [*tasks, pipeline]


def start_tekton(where: Where, home: Path, logs: Path, no_sidecar_wait: bool) -> subprocess.Popen[bytes]:
    """Apply Tekton's namespace, CRDs and config maps; start its controller as a local process."""
    p, cfg = where.plane, home / "config"
    kubectl(p, "apply", "-f", str(cfg / "100-namespace"))
    kubectl(p, "apply", "-f", str(cfg / "300-crds"))
    kubectl(p, "wait", "--for=condition=Established", "--timeout=60s", "-f", str(cfg / "300-crds"))
    for path in sorted(cfg.glob("config-*.yaml")):
        kubectl(p, "apply", "-f", str(path))
    if no_sidecar_wait:  # the release's default is "true": each first step waits for the ready annotation
        flags = '{"data":{"running-in-environment-with-injected-sidecars":"false"}}'
        kubectl(p, "patch", "configmap", "feature-flags", "-n", TEKTON_NS, "--type=merge", "-p", flags)
    env = {
        **os.environ,
        "SYSTEM_NAMESPACE": TEKTON_NS,
        "KUBERNETES_MIN_VERSION": "v1.28.0",
        "CONFIG_DEFAULTS_NAME": "config-defaults",
        "CONFIG_LOGGING_NAME": "config-logging",
        "CONFIG_OBSERVABILITY_NAME": "config-observability",
        "CONFIG_FEATURE_FLAGS_NAME": "feature-flags",
        "CONFIG_LEADERELECTION_NAME": "config-leader-election-controller",
        "CONFIG_SPIRE": "config-spire",
        "METRICS_DOMAIN": "tekton.dev/pipeline",
        "KUBECONFIG": str(p.kubeconfig),
    }
    args = [str(home / "controller"), f"--kubeconfig={p.kubeconfig}"]
    for flag in IMAGE_FLAGS:
        args += [f"-{flag}", where.tekton_images[flag]]
    log = (logs / CONTROLLER_LOG).open("wb")
    return subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)


async def until_exit(work: Coroutine[Any, Any, None], proc: subprocess.Popen[bytes], log: Path) -> None:
    """Run `work`, but fail with the end of its log as soon as `proc` (Tekton's controller) exits."""
    task = asyncio.create_task(work)
    exited = asyncio.create_task(asyncio.to_thread(proc.wait))
    await asyncio.wait((task, exited), return_when=asyncio.FIRST_COMPLETED)
    if not task.done():
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        tail = (await asyncio.to_thread(log.read_text, errors="replace"))[-3000:]
        raise RuntimeError(f"Tekton's controller exited with status {proc.returncode}; its log ends:\n{tail}")
    exited.cancel()  # the thread returns once the controller is stopped
    task.result()


async def main(args: argparse.Namespace, home: Path) -> None:
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as name:
        tmp = Path(name)
        target = real_node(tmp, home) if args.cluster else fake_node(tmp)
        async with target as where:
            print(f"{where.note}; load average {kube_mode.loadavg()}\n", flush=True)
            api = await config.new_client_from_config(config_file=str(where.plane.kubeconfig))
            print("| system | measure                  |   n     |   p50 ms  |   p99 ms  |")
            print("|--------|--------------------------|--------:|----------:|----------:|", flush=True)
            first, second = with_tekton(where, api, home, tmp, args), with_c8s(where, api, tmp, args)
            if args.c8s_first:
                first, second = second, first
            await first
            print(f"load average between: {kube_mode.loadavg()}", flush=True)
            await second
            await api.close()
    print(f"\nload average after: {kube_mode.loadavg()}")


async def with_tekton(
    where: Where, api: client.ApiClient, home: Path, tmp: Path, args: argparse.Namespace
) -> None:
    controller = start_tekton(where, home, args.logs or tmp, args.tekton_no_sidecar_wait)
    try:
        custom = client.CustomObjectsApi(api)
        for obj in tekton_objects(where.step_image, not args.tekton_best_effort):
            plural = obj["kind"].lower() + "s"
            await custom.create_namespaced_custom_object("tekton.dev", "v1", RUN_NS, plural, obj)
        await until_exit(measure(api, TEKTON, args), controller, (args.logs or tmp) / CONTROLLER_LOG)
    finally:
        controller.terminate()
        controller.wait(30)


async def with_c8s(where: Where, api: client.ApiClient, tmp: Path, args: argparse.Namespace) -> None:
    kube_mode.install_crds(where.plane)
    repo = GitRepo.create(tmp / "repos" / "app.git")
    commit = repo.commit({"README": "bench\n"}, "first")
    kubeconfig = str(where.plane.kubeconfig)
    with (
        GitDaemon(tmp / "repos", host=where.git_host) as daemon,
        DevUp((args.logs or tmp) / "c8s", "--kubeconfig", kubeconfig, env=where.dev_env) as dev,
    ):
        dev.wait_for(r"^c8s is up$", deadline=180)
        custom = client.CustomObjectsApi(api)
        core = client.CoreV1Api(api)
        for doc in local_mode.manifests(daemon.url("app.git")):
            if doc["kind"] == "Secret":
                await core.create_namespaced_secret(RUN_NS, doc)
                continue
            if doc["kind"] == "PipelineConfig" and args.cluster:
                spec: Any = doc["spec"]
                spec["steps"] = [{**step, "image": where.step_image} for step in spec["steps"]]
            plural = str(doc["kind"]).lower() + "s"
            await custom.create_namespaced_custom_object("c8s.dev", "v1alpha1", RUN_NS, plural, doc)
        await measure(api, c8s_system(commit), args)
        dev.stop()


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cluster",
        action="store_true",
        help="tests/cluster (real kubelet, containerd, runc; root), not the test node agent",
    )
    parser.add_argument(
        "--tekton-best-effort",
        action="store_true",
        help="Tekton's steps request nothing (c8s's still request their default 500m CPU, 1Gi)",
    )
    parser.add_argument(
        "--tekton-no-sidecar-wait",
        action="store_true",
        help="Tekton's feature flag running-in-environment-with-injected-sidecars: false",
    )
    parser.add_argument("--c8s-first", action="store_true", help="measure c8s first, then Tekton")
    parser.add_argument("--runs", type=int, default=10, help="runs created one at a time, per system")
    parser.add_argument("--burst", type=int, default=20, help="runs created at once, per system")
    parser.add_argument(
        "--warmup", type=int, default=1, help="runs created and waited for first, not counted"
    )
    parser.add_argument("--deadline", type=float, default=120, help="seconds to wait for a run or a burst")
    parser.add_argument(
        "--logs",
        type=Path,
        help="keep Tekton's controller log and c8s dev up's dir here (default: the temp dir)",
    )
    args = parser.parse_args()
    build = [str(ROOT / "bench" / "tekton" / "build")]
    home = Path(subprocess.run(build, check=True, capture_output=True, text=True).stdout.splitlines()[-1])
    asyncio.run(main(args, home))


if __name__ == "__main__":
    cli()
