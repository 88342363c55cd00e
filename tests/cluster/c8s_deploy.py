"""deploy/ applied to the single-node cluster, the way a user applies it to kind.

``kustomization`` writes the overlay a test (or a developer, see README.md) applies with
``kubectl apply --server-side -k``: deploy/ unchanged as the base, with the images from the
cluster's registry (c8s/c8s, c8s/nats; the step pods' clone container from c8s/step, which has sh
and git) and object storage at an S3 endpoint (moto's server on the node's IP in the tests); it is
written per cluster because both addresses are chosen at start. ``components`` adds kustomize
Components of deploy/overlays (e.g. ``nats-cluster``: three NATS servers, R3 streams).
``nats_volume`` is the PersistentVolume a NATS server's claim binds to (the cluster has no
provisioner; kind's local-path one plays this part there), one per server. Then
scripts/deploy-secrets creates the Secrets deploy/ does not ship, as a user runs it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
NAMESPACE = "c8s-system"
NATS_CLAIM = "data-nats-{}"  # volumeClaimTemplates "data" of StatefulSet "nats", server N
NATS_UID = 1000  # deploy/400-nats.yaml's runAsUser: the volume's directory must be its own


def kustomization(directory: Path, registry: str, s3: dict[str, str], bucket: str,
                  components: Sequence[str] = ()) -> Path:
    """Write ``directory/kustomization.yaml`` (with the Components deploy/overlays/``components``);
    returns ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    storage = {"C8S_LOG_STORE": f"s3://{bucket}/", "AWS_ENDPOINT_URL": s3["AWS_ENDPOINT_URL"],
               "AWS_DEFAULT_REGION": s3["AWS_DEFAULT_REGION"]}
    credentials = {k: s3[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    doc: dict[str, Any] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
        # kustomize takes no absolute path; a relative one may leave the kustomization's directory
        "resources": [os.path.relpath(REPO / "deploy", directory)],
        "images": [{"name": "ghcr.io/c8s-dev/c8s", "newName": f"{registry}/c8s/c8s", "newTag": "latest"},
                   {"name": "nats", "newName": f"{registry}/c8s/nats", "newTag": "latest"}],
        "patches": [{"patch": yaml.safe_dump(p)} for p in (
            _named("ConfigMap", "c8s-object-storage", data=storage),
            _named("Secret", "c8s-object-storage", stringData=credentials),
            _scheduler_env(C8S_CHECKOUT_IMAGE=f"{registry}/c8s/step:latest",
                           C8S_ARTIFACTS_IMAGE=f"{registry}/c8s/c8s:latest"))],
    }
    if components:
        doc["components"] = [os.path.relpath(REPO / "deploy" / "overlays" / c, directory) for c in components]
    (directory / "kustomization.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return directory


def _scheduler_env(**values: str) -> dict[str, Any]:
    """The step pods' helper images (deploy/520-scheduler.yaml's env, which `images:` leaves alone)."""
    env = [{"name": k, "value": v} for k, v in values.items()]
    container = {"name": "scheduler", "env": env}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "c8s-scheduler", "namespace": NAMESPACE},
            "spec": {"template": {"spec": {"containers": [container]}}}}


def _named(kind: str, name: str, **fields: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": kind, "metadata": {"name": name, "namespace": NAMESPACE}, **fields}


def nats_volume(path: Path, capacity: str = "10Gi", server: int = 0) -> dict[str, Any]:
    """A hostPath PersistentVolume at ``path`` (made, owned by NATS's uid) reserved for the claim of
    NATS server ``server`` (pod nats-``server``)."""
    path.mkdir(parents=True, exist_ok=True)
    os.chown(path, NATS_UID, NATS_UID)
    claim = NATS_CLAIM.format(server)
    return {
        "apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": f"c8s-{claim}"},
        "spec": {"capacity": {"storage": capacity}, "accessModes": ["ReadWriteOnce"],
                 "persistentVolumeReclaimPolicy": "Retain", "storageClassName": "",
                 "claimRef": {"namespace": NAMESPACE, "name": claim},
                 "hostPath": {"path": str(path), "type": "Directory"}},
    }


def workloads(rendered: str) -> set[str]:
    """``Kind/name`` of every Deployment and StatefulSet in kustomize's output."""
    return {f"{d['kind']}/{d['metadata']['name']}" for d in yaml.safe_load_all(rendered)
            if d and d["kind"] in ("Deployment", "StatefulSet")}


def not_ready(expected: set[str], listed: list[dict[str, Any]]) -> list[str]:
    """``Kind/name ready/wanted`` of each expected Deployment or StatefulSet not fully Ready, or
    ``Kind/name missing`` (empty: all are Ready)."""
    names = {f"{w['kind']}/{w['metadata']['name']}" for w in listed}
    late = sorted(f"{name} missing" for name in expected - names)
    for w in listed:
        wanted, ready = w["spec"].get("replicas", 1), (w.get("status") or {}).get("readyReplicas", 0)
        if ready < wanted:
            late.append(f"{w['kind']}/{w['metadata']['name']} {ready}/{wanted}")
    return late
