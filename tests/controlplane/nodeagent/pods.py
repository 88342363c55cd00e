"""Runs one pod bound to the test node as local processes and reports it in the pod's status.

Init containers run one after the other, then the containers together, each through
adapters.runtime.processes (the executor local mode uses), so each container is one process group that is
killed as a whole. The status follows the kubelet's: containers Waiting, then Running with
startedAt, then Terminated with the real exit code, reason Completed/Error, startedAt/finishedAt;
the pod goes Pending -> Running -> Succeeded/Failed with the PodScheduled, Initialized,
ContainersReady and Ready conditions.

Simplified on purpose (a test agent, not a kubelet):
- The image is ignored: ``command`` + ``args`` run on this machine (``$(VAR)`` expanded as the
  kubelet does). A container without ``command`` has no entrypoint to run: it fails with exit 127.
- ``restartPolicy`` is treated as Never; probes, resources and security contexts are ignored.
- Volumes: emptyDir is a fresh directory under the pod's directory; secret and configMap volumes are
  directories with one file per key. Mounting is a path rewrite: in command, args, env values and
  workingDir, every occurrence of a volumeMount's mountPath (at a path boundary) is replaced by the
  host directory. Other volume types (e.g. the projected service-account token) are not mounted.
- Env: ``value``, ``valueFrom`` secretKeyRef / configMapKeyRef (read from the API) / fieldRef, and
  ``envFrom``, on top of PATH, HOME (the pod's directory) and HOSTNAME (the pod's name).
- The working directory is ``workingDir`` (rewritten) or the pod's directory.
- ``activeDeadlineSeconds`` kills the pod's processes and fails it with reason DeadlineExceeded;
  it may be set or lowered on a running pod (a patch), as with a kubelet.
- ``terminationMessagePath`` (default /dev/termination-log) is rewritten like a mount to a file of
  the container's own; its first 4096 bytes become ``state.terminated.message``.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import logging
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from adapters.runtime import processes

from .logs import ContainerLog, LogServer

log = logging.getLogger("c8s.nodeagent")
Obj = dict[str, Any]
MERGE_PATCH = "application/merge-patch+json"
#: Where the termination-message file sits among the rewrite targets (not a volume name).
_TERMINATION = "\0termination"
_VAR_REF = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


class ConfigError(Exception):
    """A container's env or volumes refer to something that does not exist (yet)."""


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def expand(text: str, env: Mapping[str, str]) -> str:
    """Kubernetes' $(VAR) expansion: unknown references stay as they are, $$ escapes a $."""
    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        return env.get(m.group(1), m.group(0))
    return _VAR_REF.sub(sub, text)


class PodRun:
    """The life of one pod on the node, from binding to a terminal phase or deletion."""

    def __init__(self, core: client.CoreV1Api, pod: Obj, root: Path, logs: LogServer, grace: float) -> None:
        self.core = core
        self.pod = pod
        meta = pod["metadata"]
        self.ns, self.name, self.uid = meta["namespace"], meta["name"], meta["uid"]
        self.dir = root / f"{self.ns}_{self.name}_{self.uid}"
        self.logs = logs
        self.grace = grace
        self.procs: dict[str, processes.RunningProcess] = {}
        spec = pod["spec"]
        self.statuses: dict[str, Obj] = {
            c["name"]: _waiting(c, "PodInitializing") for c in spec.get("initContainers") or []
        }
        self.statuses |= {c["name"]: _waiting(c, "ContainerCreating") for c in spec["containers"]}
        self.phase = "Pending"
        self.reason: str | None = None
        self.message: str | None = None
        self.start_time = now()
        self.initialized = not spec.get("initContainers")
        self.stopping = False
        self._conditions: dict[str, tuple[bool, str]] = {}
        self._lock = asyncio.Lock()
        self._started = 0.0
        self._timeout: asyncio.Timeout | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Run the pod to completion, honouring activeDeadlineSeconds."""
        await self.report()
        self._started = asyncio.get_running_loop().time()
        try:
            async with asyncio.timeout_at(self._deadline_at()) as self._timeout:
                await self._run_containers()
        except TimeoutError:
            await self.kill(grace=0.0)
            await self._record_killed()
            deadline = self.pod["spec"].get("activeDeadlineSeconds")
            self.reason, self.message = "DeadlineExceeded", (
                f"Pod was active on the node longer than the specified deadline ({deadline}s)"
            )
            self.phase = "Failed"
        else:
            failed = any(_exit_code(s) != 0 for s in self.statuses.values())
            self.phase = "Failed" if failed else "Succeeded"
        await self.report()

    def update(self, pod: Obj) -> None:
        """A changed pod: a new activeDeadlineSeconds (it may be set or lowered at any time) applies."""
        deadline = pod["spec"].get("activeDeadlineSeconds")
        if deadline != self.pod["spec"].get("activeDeadlineSeconds"):
            self.pod["spec"]["activeDeadlineSeconds"] = deadline
            if self._timeout is not None:
                self._timeout.reschedule(self._deadline_at())

    def _deadline_at(self) -> float | None:
        deadline = self.pod["spec"].get("activeDeadlineSeconds")
        return None if deadline is None else self._started + deadline

    async def kill(self, grace: float | None = None) -> None:
        """End every running process of the pod (SIGTERM, then SIGKILL after the grace period)."""
        self.stopping = True
        await asyncio.gather(*(p.kill(self.grace if grace is None else grace) for p in self.procs.values()))

    async def _record_killed(self) -> None:
        """Containers whose wait was cancelled (deadline): record how their processes ended."""
        containers = {c["name"]: c for c in self.pod["spec"].get("initContainers") or []}
        containers |= {c["name"]: c for c in self.pod["spec"]["containers"]}
        for name, proc in self.procs.items():
            running = self.statuses[name]["state"].get("running")
            if running is not None:
                code = await proc.wait()
                self.statuses[name] = _terminated(containers[name], code, running["startedAt"], None, None)
            self.logs.logs[(self.ns, self.name, name)].finish()

    async def _run_containers(self) -> None:
        spec = self.pod["spec"]
        await asyncio.to_thread(self.dir.mkdir, parents=True, exist_ok=True)
        mounts = await self._volumes()
        for c in spec.get("initContainers") or []:
            if await self._run_container(c, mounts) != 0:
                for other in spec["containers"]:
                    self.statuses[other["name"]] = _waiting(other, "PodInitializing")
                return
        self.initialized = True
        self.phase = "Running"
        await asyncio.gather(*(self._run_container(c, mounts) for c in spec["containers"]))

    async def _run_container(self, c: Obj, mounts: dict[str, Path]) -> int:
        name = c["name"]
        env = await self._env_until_resolved(c)
        termination = self.dir / "termination" / name
        await asyncio.to_thread(termination.parent.mkdir, parents=True, exist_ok=True)
        rewrite = _rewriter(c, {**mounts, _TERMINATION: termination})
        argv = [rewrite(expand(a, env)) for a in (c.get("command") or []) + (c.get("args") or [])]
        cwd = Path(rewrite(c["workingDir"])) if c.get("workingDir") else self.dir
        env = {k: rewrite(v) for k, v in env.items()}
        log = ContainerLog(self.dir / "logs" / f"{name}.log")
        self.logs.logs[(self.ns, self.name, name)] = log
        started = now()
        if self.stopping:
            log.finish()
            return await self._terminated(c, 137, started, "the pod stopped before this container started")
        if not c.get("command"):
            log.finish()
            return await self._terminated(c, 127, started, "the test node agent ignores images: set command")
        try:
            await asyncio.to_thread(cwd.mkdir, parents=True, exist_ok=True)
            proc = await processes.start(argv, env=env, cwd=cwd, log_path=log.path, on_output=log.on_output)
        except (processes.ProcessStartError, OSError) as e:
            log.finish()
            return await self._terminated(c, 128, started, str(e), reason="StartError")
        self.procs[name] = proc
        self.statuses[name] = _running(c, started, proc.pid)
        await self.report()
        code = await proc.wait()
        log.finish()
        return await self._terminated(c, code, started, await asyncio.to_thread(_read_message, termination))

    async def _terminated(self, c: Obj, code: int, started: str, message: str | None,
                          reason: str | None = None) -> int:
        self.statuses[c["name"]] = _terminated(c, code, started, message, reason)
        await self.report()
        return code

    async def _env_until_resolved(self, c: Obj) -> dict[str, str]:
        # The kubelet retries a container whose secret or config map is missing; so do we.
        while True:
            try:
                return await self._env(c)
            except ConfigError as e:
                self.statuses[c["name"]] = _waiting(c, "CreateContainerConfigError", str(e))
                await self.report()
                await asyncio.sleep(2)

    # -- env and volumes --------------------------------------------------------------------------

    async def _env(self, c: Obj) -> dict[str, str]:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.dir), "HOSTNAME": self.name}
        for source in c.get("envFrom") or []:
            prefix = source.get("prefix", "")
            if ref := source.get("secretRef"):
                data = await self._data("Secret", ref["name"], optional=ref.get("optional", False))
            else:
                ref = source["configMapRef"]
                data = await self._data("ConfigMap", ref["name"], optional=ref.get("optional", False))
            env |= {prefix + k: v for k, v in data.items()}
        for var in c.get("env") or []:
            value = await self._env_value(var, env)
            if value is not None:
                env[var["name"]] = value
        return env

    async def _env_value(self, var: Obj, env: Mapping[str, str]) -> str | None:
        if "valueFrom" not in var:
            return expand(var.get("value", ""), env)
        source = var["valueFrom"]
        if ref := source.get("secretKeyRef") or source.get("configMapKeyRef"):
            kind = "Secret" if "secretKeyRef" in source else "ConfigMap"
            data = await self._data(kind, ref["name"], optional=ref.get("optional", False))
            if ref["key"] not in data and not ref.get("optional", False):
                raise ConfigError(f'couldn\'t find key {ref["key"]} in {kind} {self.ns}/{ref["name"]}')
            return data.get(ref["key"])
        if ref := source.get("fieldRef"):
            return _field(self.pod, ref["fieldPath"])
        return None

    async def _data(self, kind: str, name: str, *, optional: bool) -> dict[str, str]:
        try:
            if kind == "Secret":
                obj = await self.core.read_namespaced_secret(name, self.ns)
                return {k: base64.b64decode(v).decode() for k, v in (obj.data or {}).items()}
            obj = await self.core.read_namespaced_config_map(name, self.ns)
            return dict(obj.data or {})
        except ApiException as e:
            if e.status == 404 and optional:
                return {}
            if e.status == 404:
                raise ConfigError(f'{kind.lower()} "{name}" not found') from e
            raise

    async def _volumes(self) -> dict[str, Path]:
        """Materialise the pod's volumes; returns volume name -> host directory."""
        dirs: dict[str, Path] = {}
        for v in self.pod["spec"].get("volumes") or []:
            host = self.dir / "volumes" / v["name"]
            if "emptyDir" in v:
                files: dict[str, str] = {}
            elif "secret" in v:
                files = await self._data("Secret", v["secret"]["secretName"],
                                         optional=v["secret"].get("optional", False))
            elif "configMap" in v:
                files = await self._data("ConfigMap", v["configMap"]["name"],
                                         optional=v["configMap"].get("optional", False))
            else:
                continue
            await asyncio.to_thread(_write_volume, host, files)
            dirs[v["name"]] = host
        return dirs

    # -- status -----------------------------------------------------------------------------------

    async def report(self) -> None:
        """Write the pod's whole status (merge patch); a pod that is gone is not an error."""
        async with self._lock:
            try:
                await self.core.patch_namespaced_pod_status(
                    self.name, self.ns, {"status": self.status()}, _content_type=MERGE_PATCH
                )
            except ApiException as e:
                if e.status != 404:
                    log.warning("status of pod %s/%s refused (%s): %s", self.ns, self.name, e.status, e.body)

    def status(self) -> Obj:
        spec = self.pod["spec"]
        init = [self.statuses[c["name"]] for c in spec.get("initContainers") or []]
        main = [self.statuses[c["name"]] for c in spec["containers"]]
        ready = self.phase == "Running" and all("running" in s["state"] for s in main)
        for s in main:
            s["ready"] = "running" in s["state"] and self.phase == "Running"
        status: Obj = {
            "phase": self.phase,
            "conditions": [
                self._condition("PodScheduled", True),
                self._condition("Initialized", self.initialized),
                self._condition("ContainersReady", ready),
                self._condition("Ready", ready),
            ],
            "hostIP": "127.0.0.1",
            "hostIPs": [{"ip": "127.0.0.1"}],
            "podIP": "127.0.0.1",
            "podIPs": [{"ip": "127.0.0.1"}],
            "startTime": self.start_time,
            "containerStatuses": main,
            "reason": self.reason,
            "message": self.message,
        }
        if init:
            status["initContainerStatuses"] = init
        return status

    def _condition(self, kind: str, ok: bool) -> Obj:
        if kind not in self._conditions or self._conditions[kind][0] != ok:
            self._conditions[kind] = (ok, now())
        return {"type": kind, "status": "True" if ok else "False",
                "lastTransitionTime": self._conditions[kind][1]}


def _base(c: Obj) -> Obj:
    return {"name": c["name"], "image": c.get("image", ""), "imageID": "", "restartCount": 0,
            "ready": False, "started": False}


def _waiting(c: Obj, reason: str, message: str | None = None) -> Obj:
    waiting = {"reason": reason} | ({"message": message} if message else {})
    return _base(c) | {"state": {"waiting": waiting}}


def _running(c: Obj, started: str, pid: int) -> Obj:
    return _base(c) | {"state": {"running": {"startedAt": started}}, "started": True,
                       "containerID": f"c8s-nodeagent://{pid}"}


def _terminated(c: Obj, code: int, started: str, message: str | None, reason: str | None) -> Obj:
    state: Obj = {"exitCode": code, "reason": reason or ("Completed" if code == 0 else "Error"),
                  "startedAt": started, "finishedAt": now()}
    if message:
        state["message"] = message
    return _base(c) | {"state": {"terminated": state}}


def _exit_code(status: Obj) -> int | None:
    terminated = status["state"].get("terminated")
    return terminated["exitCode"] if terminated else None


def _field(pod: Obj, path: str) -> str:
    fields = {
        "metadata.name": pod["metadata"]["name"],
        "metadata.namespace": pod["metadata"]["namespace"],
        "metadata.uid": pod["metadata"]["uid"],
        "spec.nodeName": pod["spec"].get("nodeName", ""),
        "spec.serviceAccountName": pod["spec"].get("serviceAccountName", ""),
        "status.podIP": "127.0.0.1",
        "status.hostIP": "127.0.0.1",
    }
    if m := re.fullmatch(r"metadata\.(labels|annotations)\['(.+)'\]", path):
        return str((pod["metadata"].get(m.group(1)) or {}).get(m.group(2), ""))
    return str(fields.get(path, ""))


def _rewriter(c: Obj, mounts: Mapping[str, Path]) -> Callable[[str], str]:
    pairs = [(m["mountPath"].rstrip("/") or "/", mounts[m["name"]])
             for m in c.get("volumeMounts") or [] if m["name"] in mounts]
    if _TERMINATION in mounts:
        pairs.append((c.get("terminationMessagePath") or "/dev/termination-log", mounts[_TERMINATION]))
    pairs.sort(key=lambda p: len(p[0]), reverse=True)
    if not pairs:
        return lambda s: s
    pattern = re.compile("|".join(f"(?<![\\w./-]){re.escape(p)}(?=[/\\s'\";:)]|$)" for p, _ in pairs))
    by_path = {p: str(h) for p, h in pairs}
    return lambda s: pattern.sub(lambda m: by_path[m.group(0)], s)


def _read_message(path: Path) -> str | None:
    """The termination message: the file's first 4096 bytes, as the kubelet keeps them."""
    try:
        with path.open("rb") as f:
            return f.read(4096).decode(errors="replace") or None
    except FileNotFoundError:
        return None


def _write_volume(host: Path, files: Mapping[str, str]) -> None:
    host.mkdir(parents=True, exist_ok=True)
    for key, value in files.items():
        (host / key).write_text(value)
