"""The container image recipe and the Tilt dev loop, checked without Docker or Tilt (neither runs here).

Covers: the Dockerfile parses into known instructions, builds FROM $BASE_IMAGE (default
python:3.11-slim), runs as the
non-root uid the manifests require (runAsUser 10001), and every path it COPYs from the context
exists and is let through .dockerignore; every Deployment in deploy/ runs
`python -m services.<name>` for a package that has a `__main__.py`. The Tiltfile is Starlark, a
Python subset: it parses with `ast`, runs against stubs of the Tilt builtins, names only paths that
exist, builds one image per service with live_update syncs of every source package, port-forwards
the webhook, groups resources with labels, honours tilt_config.json overrides, and fails on a
kube context that is not a local cluster.
"""

from __future__ import annotations

import ast
import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
# Every top-level package pip installs (pyproject's find include): the image must copy each one.
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
SOURCES = [p.rstrip("*") for p in PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]]
INSTRUCTIONS = {"FROM", "WORKDIR", "COPY", "RUN", "ENV", "USER", "EXPOSE", "CMD", "ENTRYPOINT", "ARG",
                "LABEL"}


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (REPO / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines
            if line and not line.startswith("#")]


def test_dockerfile_parses_into_known_instructions() -> None:
    """Every Dockerfile line is a known instruction with arguments; both stages are the BASE_IMAGE
    argument, whose default (what a user's plain build gets) is python:3.11-slim; pip installs into the
    venv /opt/c8s, whose bin/ leads PATH."""
    instructions = dockerfile_instructions()
    assert {op for op, _ in instructions} <= INSTRUCTIONS
    assert ("ARG", "BASE_IMAGE=python:3.11-slim") in instructions
    assert [args.split()[0] for op, args in instructions if op == "FROM"] == ["${BASE_IMAGE}"] * 2
    assert any(op == "RUN" and "pip --python /opt/c8s/bin/python install" in args and args.endswith(" .")
               for op, args in instructions)
    assert any(op == "ENV" and args.startswith("PATH=/opt/c8s/bin:") for op, args in instructions)


def test_dockerfile_runs_as_the_manifests_non_root_user() -> None:
    """The final USER is uid 10001, the runAsUser every Deployment in deploy/ declares."""
    users = [args for op, args in dockerfile_instructions() if op == "USER"]
    assert users[-1] == "10001:10001"
    for doc in deployments():
        assert doc["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == 10001


def test_dockerfile_copies_only_existing_paths_that_dockerignore_lets_through() -> None:
    """Each COPY source from the build context exists and is re-included by .dockerignore."""
    allowed = {line.strip("!/") for line in (REPO / ".dockerignore").read_text().splitlines()
               if line.startswith("!")}
    copies = [args.split() for op, args in dockerfile_instructions() if op == "COPY"]
    from_context = [[w for w in words if not w.startswith("--")] for words in copies
                    if not any(w.startswith("--from=") for w in words)]  # --chown=... etc. are flags
    copied = [words[:-1] for words in from_context]
    sources = [s.rstrip("/") for group in copied for s in group]
    assert sources, "the Dockerfile copies nothing from the context"
    for source in sources:
        assert (REPO / source).exists(), source
        assert source in allowed, f"{source} is excluded by .dockerignore"
    assert set(SOURCES) <= set(sources)


def deployments() -> list[dict[str, Any]]:
    files = sorted((REPO / "deploy").glob("5*.yaml"))
    docs = [d for p in files for d in yaml.safe_load_all(p.read_text()) if d]
    return [d for d in docs if d["kind"] == "Deployment"]


def test_every_deployment_runs_an_existing_service_module() -> None:
    """Each Deployment's command is `python -m services.<name>` and that package has a __main__.py."""
    modules = []
    for doc in deployments():
        [container] = doc["spec"]["template"]["spec"]["containers"]
        python, flag, module = container["command"]
        assert (python, flag) == ("python", "-m")
        assert (REPO / module.replace(".", "/") / "__main__.py").is_file(), module
        modules.append(module)
    assert len(modules) == 8


class Fail(Exception):
    """Tilt's fail()."""


class Tilt:
    """Stubs of the Tilt builtins the Tiltfile uses, recording what it asks for."""

    def __init__(self, context: str, settings: dict[str, Any]) -> None:
        self.context, self.settings = context, settings
        self.builds: list[dict[str, Any]] = []
        self.resources: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.allowed: list[str] = []
        self.applied: list[dict[str, Any]] = []

    def builtins(self) -> dict[str, Callable[..., Any]]:
        return {
            "load": lambda *_: None, "k8s_context": lambda: self.context, "fail": self._fail,
            "allow_k8s_contexts": self.allowed.append, "docker_build_with_restart": self._build,
            "sync": self._sync, "kustomize": self._kustomize,
            "decode_yaml_stream": lambda docs: docs, "encode_yaml_stream": lambda docs: docs,
            "k8s_yaml": self.applied.extend, "k8s_resource": self._resource, "config": self._config(),
        }

    def _fail(self, message: str) -> None:
        raise Fail(message)

    def _sync(self, src: str, dest: str) -> tuple[str, str, str]:
        self.paths.append(src)
        return ("sync", src, dest)

    def _build(self, ref: str, context: str, **kwargs: Any) -> None:
        self.paths += [context, kwargs["dockerfile"], *kwargs.get("only", [])]
        self.builds.append({"ref": ref, **kwargs})

    def _kustomize(self, path: str) -> list[dict[str, Any]]:
        self.paths.append(path)
        docs = [d for p in sorted((REPO / path).glob("*.yaml")) if p.name != "kustomization.yaml"
                for d in yaml.safe_load_all(p.read_text()) if d]
        return docs

    def _resource(self, workload: str = "", **kwargs: Any) -> None:
        self.resources.append({"workload": workload, **kwargs})

    def _config(self) -> Any:
        settings = self.settings

        class Config:
            define_string_list = define_string = staticmethod(lambda *a, **k: None)
            parse = staticmethod(lambda: dict(settings))

        return Config


def run_tiltfile(context: str = "kind-c8s", settings: dict[str, Any] | None = None) -> Tilt:
    source = (REPO / "Tiltfile").read_text()
    tree = ast.parse(source, filename="Tiltfile")
    tilt = Tilt(context, settings or {})
    exec(compile(tree, "Tiltfile", "exec"), dict(tilt.builtins()))  # the stubs are ours
    return tilt


def test_tiltfile_names_only_existing_paths() -> None:
    """Every path the Tiltfile hands to Tilt (build context, Dockerfile, only, syncs, kustomize) exists."""
    tilt = run_tiltfile()
    assert tilt.paths
    missing = sorted({p for p in tilt.paths if not (REPO / p).exists()})
    assert missing == []


def test_tiltfile_builds_each_service_with_live_update() -> None:
    """Each default service gets an image whose entrypoint is its module, syncing every source package."""
    tilt = run_tiltfile()
    refs = {b["ref"]: b for b in tilt.builds}
    assert set(refs) == {f"c8s-{s}" for s in ("webhook", "scheduler", "job-watcher", "projector",
                                              "log-shipper", "notifier", "dashboard")}
    assert refs["c8s-job-watcher"]["entrypoint"] == ["python", "-m", "services.job_watcher"]
    for build in tilt.builds:
        assert [step[1] for step in build["live_update"]] == SOURCES
    images = {c["image"] for d in tilt.applied if d["kind"] == "Deployment"
              for c in d["spec"]["template"]["spec"]["containers"]}
    assert images == set(refs)


def test_tiltfile_forwards_the_webhook_and_groups_resources() -> None:
    """The webhook is port-forwarded (tilt_config.json may move it) and every resource has a label."""
    tilt = run_tiltfile(settings={"webhook-port": "18080"})
    by_name = {r.get("new_name") or r["workload"]: r for r in tilt.resources}
    assert by_name["webhook"]["port_forwards"] == ["18080:8080"]
    assert all(r["labels"] for r in tilt.resources)
    assert "c8s-scheduler:clusterrole" in by_name["scheduler"]["objects"]


def test_tiltfile_overrides_choose_services() -> None:
    """tilt_config.json's services list limits what is built and applied; an unknown name fails."""
    tilt = run_tiltfile(settings={"services": ["webhook", "admission"]})
    assert {b["ref"] for b in tilt.builds} == {"c8s-webhook", "c8s-admission"}
    kinds = {d["kind"] for d in tilt.applied}
    assert "ValidatingWebhookConfiguration" in kinds
    with pytest.raises(Fail, match="unknown service"):
        run_tiltfile(settings={"services": ["webhok"]})


def test_tiltfile_overrides_the_step_jobs_images() -> None:
    """The scheduler's C8S_ARTIFACTS_IMAGE / C8S_CHECKOUT_IMAGE (env, which Tilt cannot rewrite) stay
    deploy/'s unless tilt_config.json names others."""
    def step_images(tilt: Tilt) -> dict[str, str]:
        [scheduler] = [d for d in tilt.applied
                       if d["kind"] == "Deployment" and d["metadata"]["name"] == "c8s-scheduler"]
        return {e["name"]: e["value"] for c in scheduler["spec"]["template"]["spec"]["containers"]
                for e in c.get("env", []) if e["name"] in ("C8S_ARTIFACTS_IMAGE", "C8S_CHECKOUT_IMAGE")}

    published = step_images(run_tiltfile())
    assert set(published) == {"C8S_ARTIFACTS_IMAGE", "C8S_CHECKOUT_IMAGE"}
    local = step_images(run_tiltfile(settings={"artifacts-image": "localhost:5001/c8s:dev"}))
    assert local == {**published, "C8S_ARTIFACTS_IMAGE": "localhost:5001/c8s:dev"}
    both = step_images(run_tiltfile(settings={"artifacts-image": "a:1", "checkout-image": "b:2"}))
    assert both == {"C8S_ARTIFACTS_IMAGE": "a:1", "C8S_CHECKOUT_IMAGE": "b:2"}


@pytest.mark.parametrize("context", ["kind-c8s", "k3d-dev", "docker-desktop", "minikube"])
def test_tiltfile_allows_local_contexts(context: str) -> None:
    """A local cluster's context is allowed explicitly."""
    assert run_tiltfile(context).allowed == [context]


@pytest.mark.parametrize("context", ["gke_prod_europe-west1_main", "arn:aws:eks:eu-west-1:1:cluster/prod"])
def test_tiltfile_refuses_remote_contexts(context: str) -> None:
    """A context that is not a known local cluster fails before anything is built or applied."""
    with pytest.raises(Fail, match=re.escape(f"kube context {context!r} is not a local cluster")):
        run_tiltfile(context)
    assert run_tiltfile(context, {"allowed-contexts": [context]}).allowed == [context]
