"""deploy/'s bus and network boundaries, read from the manifests (the apiserver's dry run of the
same files is in tests/k8s/test_deploy.py).

Covers: deploy/410-nats-config.yaml is what `python -m c8s.gen_nats_conf` generates from the
permission table; it turns TLS on and every password is a `$NATS_PASSWORD_<USER>` the StatefulSet
fills from Secret c8s-nats-users under that identity's key; the server loads it (--config), also in
the nats-cluster component; each service Deployment connects as its own identity, over TLS
(tls:// URL, CA from Secret c8s-nats-tls); the NetworkPolicies let only c8s-system pods in (NATS on
its client, cluster and monitoring ports), with exactly three exceptions open to non-pods: the
webhook's 8080, the admission webhook's 8443 and the dashboard's 8081, and one open to c8s's step
pods in any namespace: the job-watcher's artifact upload port 8090; the scheduler (which mints upload
tokens) no longer mounts the object-storage credentials, the job-watcher (which writes artifacts)
does, and both get the upload key from Secret c8s-artifact-upload.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from c8s import gen_nats_conf

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
UPLOADS_POLICY = "c8s-artifact-uploads-from-steps"
SERVICES = {
    "510-webhook.yaml": "webhook",
    "520-scheduler.yaml": "scheduler",
    "530-job-watcher.yaml": "job-watcher",
    "540-log-shipper.yaml": "log-shipper",
    "550-projector.yaml": "projector",
    "560-notifier.yaml": "notifier",
    "580-dashboard.yaml": "dashboard",
}


def docs(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((DEPLOY / name).read_text()) if d]


def kind(name: str, k: str, metadata_name: str = "") -> dict[str, Any]:
    [doc] = [d for d in docs(name) if d["kind"] == k and metadata_name in ("", d["metadata"]["name"])]
    return doc


def container(doc: dict[str, Any]) -> dict[str, Any]:
    c: dict[str, Any] = doc["spec"]["template"]["spec"]["containers"][0]
    return c


def test_the_nats_config_is_generated_and_fresh() -> None:
    """The committed ConfigMap is exactly the generator's output (the permission table's)."""
    assert gen_nats_conf.main(["--check"]) == 0


def test_the_server_requires_tls_and_reads_every_password_from_the_secret() -> None:
    """TLS on; each $NATS_PASSWORD_X is set from c8s-nats-users key X; --config is passed."""
    conf = kind("410-nats-config.yaml", "ConfigMap")["data"]["nats.conf"]
    assert 'cert_file: "/etc/nats/tls/tls.crt"' in conf
    assert "password" not in conf.replace('"password": $NATS_PASSWORD_', "")
    nats = container(kind("400-nats.yaml", "StatefulSet"))
    refs = {
        e["name"]: e["valueFrom"]["secretKeyRef"]
        for e in nats["env"]
        if "secretKeyRef" in e.get("valueFrom", {})
    }
    wanted = {gen_nats_conf.password_variable(u): u for u in gen_nats_conf.users()}
    assert set(re.findall(r"\$(NATS_PASSWORD_\w+)", conf)) == set(wanted)
    assert {name: ref["key"] for name, ref in refs.items()} == wanted
    assert {ref["name"] for ref in refs.values()} == {"c8s-nats-users"}
    assert "--config=/etc/nats/nats.conf" in nats["args"]
    cluster = (DEPLOY / "overlays" / "nats-cluster" / "kustomization.yaml").read_text()
    assert "--config=/etc/nats/nats.conf" in cluster


def test_each_service_connects_as_itself_over_tls() -> None:
    """C8S_NATS_USER is the service's identity, its password the Secret's key of that name."""
    settings = kind("500-settings.yaml", "ConfigMap", "c8s-settings")["data"]
    assert settings["C8S_NATS_URL"].startswith("tls://")
    for name, identity in SERVICES.items():
        deployment = kind(name, "Deployment")
        env = {e["name"]: e for e in container(deployment)["env"]}
        assert env["C8S_NATS_USER"]["value"] == identity
        assert env["C8S_NATS_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
            "name": "c8s-nats-users",
            "key": identity,
        }
        mounts = {m["mountPath"] for m in container(deployment)["volumeMounts"]}
        assert str(Path(settings["C8S_NATS_CA_FILE"]).parent) in mounts, name


def test_only_c8s_system_pods_reach_c8s_system() -> None:
    """A policy selects every pod and admits only same-namespace pods; NATS's ports are its three."""
    policies = {p["metadata"]["name"]: p["spec"] for p in docs("450-network-policies.yaml")}
    assert all(p["metadata"]["namespace"] == "c8s-system" for p in docs("450-network-policies.yaml"))
    base = policies["c8s-same-namespace-only"]
    assert base["podSelector"] == {} and base["policyTypes"] == ["Ingress"]
    assert base["ingress"] == [{"from": [{"podSelector": {}}]}]
    nats = policies["nats"]
    assert nats["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == "nats"
    [rule] = nats["ingress"]
    assert rule["from"] == [{"podSelector": {}}]
    assert sorted(p["port"] for p in rule["ports"]) == [4222, 6222, 8222]


def test_only_the_webhook_admission_and_dashboard_ports_are_open_to_non_pods() -> None:
    """Rules without `from` (anyone) exist for webhook:8080, admission:8443, dashboard:8081 only."""
    open_to_all = []
    for policy in docs("450-network-policies.yaml"):
        spec = policy["spec"]
        for rule in spec.get("ingress", []):
            if "from" not in rule:
                component = spec["podSelector"]["matchLabels"]["app.kubernetes.io/component"]
                open_to_all += [(component, p["port"]) for p in rule["ports"]]
            elif policy["metadata"]["name"] != UPLOADS_POLICY:
                assert all(set(peer) == {"podSelector"} for peer in rule["from"]), policy
    assert sorted(open_to_all) == [("admission", 8443), ("dashboard", 8081), ("webhook", 8080)]


def test_step_pods_reach_only_the_upload_port() -> None:
    """The one rule admitting other namespaces lets c8s's step pods reach the job-watcher's 8090."""
    [policy] = [p for p in docs("450-network-policies.yaml") if p["metadata"]["name"] == UPLOADS_POLICY]
    spec = policy["spec"]
    assert spec["podSelector"] == {"matchLabels": {"app.kubernetes.io/component": "job-watcher"}}
    [rule] = spec["ingress"]
    managed = {"matchLabels": {"app.kubernetes.io/managed-by": "c8s"}}
    assert rule["from"] == [{"namespaceSelector": {}, "podSelector": managed}]
    assert rule["ports"] == [{"port": 8090, "protocol": "TCP"}]
    service = kind("530-job-watcher.yaml", "Service")
    assert [(p["port"], p["targetPort"]) for p in service["spec"]["ports"]] == [(8090, "uploads")]


def test_only_c8s_system_holds_storage_keys_and_the_upload_key() -> None:
    """The job-watcher mounts the object-storage Secret, the scheduler does not; both get the upload
    key, and the scheduler points pods at the job-watcher's Service."""
    def env_of(name: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        c = container(kind(name, "Deployment"))
        return {e["name"]: e for e in c["env"]}, c["envFrom"]

    scheduler, scheduler_from = env_of("520-scheduler.yaml")
    watcher, watcher_from = env_of("530-job-watcher.yaml")
    assert {"secretRef": {"name": "c8s-object-storage"}} not in scheduler_from
    assert {"secretRef": {"name": "c8s-object-storage"}} in watcher_from
    key_ref = {"secretKeyRef": {"name": "c8s-artifact-upload", "key": "C8S_ARTIFACT_UPLOAD_KEY"}}
    for env in (scheduler, watcher):
        assert env["C8S_ARTIFACT_UPLOAD_KEY"]["valueFrom"] == key_ref
    assert scheduler["C8S_ARTIFACT_UPLOAD_URL"]["value"] == "http://c8s-job-watcher.c8s-system.svc:8090"
