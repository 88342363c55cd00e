"""Kubernetes mode of the CLI, offline: which store a command uses and what `dev up --kubeconfig` runs.

Covers: --kubeconfig wins, then $KUBECONFIG unless --server names a NATS instance, else the KV
store; `dev up --kubeconfig --log-store` parses; in Kubernetes mode dev up runs the job-watcher
instead of the runner, with C8S_MODE=kubernetes, C8S_KUBECONFIG, C8S_LOG_STORE, metrics ports off
and the AWS_* variables passed through; only the scheduler and the job-watcher get the artifact
upload key; local mode's environment is unchanged.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from c8s.cli import build_parser
from c8s.dev.state_dir import Layout, service_env, service_spec
from c8s.instance import kubeconfig_of


def test_kubeconfig_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    """--kubeconfig wins; $KUBECONFIG applies only when no --server is given."""
    monkeypatch.delenv("KUBECONFIG", raising=False)
    assert kubeconfig_of(argparse.Namespace(server=None, kubeconfig=None)) is None
    monkeypatch.setenv("KUBECONFIG", "/env/kubeconfig")
    assert kubeconfig_of(argparse.Namespace(server=None, kubeconfig=None)) == "/env/kubeconfig"
    assert kubeconfig_of(argparse.Namespace(server="nats://h:1", kubeconfig=None)) is None
    assert kubeconfig_of(argparse.Namespace(server="nats://h:1", kubeconfig="/k")) == "/k"


@pytest.mark.parametrize(
    "command",
    [
        ["get", "pr"],
        ["logs", "r"],
        ["events", "r"],
        ["cancel", "r"],
        ["apply", "-f", "x"],
        ["run", "c", "--commit", "abcdef1"],
    ],
)
def test_resource_commands_take_kubeconfig(command: list[str]) -> None:
    """Every command that reads or writes resources accepts --kubeconfig."""
    args = build_parser().parse_args([*command, "--kubeconfig", "/k"])
    assert args.kubeconfig == "/k"


def test_dev_up_parses_kubernetes_options() -> None:
    """`dev up --kubeconfig FILE --log-store URL`; both default to None (local mode)."""
    up = build_parser().parse_args(["dev", "up", "--kubeconfig", "/k", "--log-store", "s3://b/p"])
    assert (up.kubeconfig, up.log_store) == ("/k", "s3://b/p")
    local = build_parser().parse_args(["dev", "up"])
    assert (local.kubeconfig, local.log_store) == (None, None)


def test_kubernetes_layout_runs_the_job_watcher(tmp_path: Path) -> None:
    """Kubernetes mode starts the job-watcher and never the runner; local mode the reverse."""
    kube = Layout(home=tmp_path, nats_port=1, webhook_port=2, kubeconfig=tmp_path / "kc")
    assert "job_watcher" in kube.services and "runner" not in kube.services
    local = Layout(home=tmp_path, nats_port=1, webhook_port=2)
    assert "runner" in local.services and "job_watcher" not in local.services


def test_kubernetes_service_env(tmp_path: Path) -> None:
    """Services get the mode, the kubeconfig, the log store, no metrics port, and AWS_* as given."""
    layout = Layout(
        home=tmp_path, nats_port=1, webhook_port=2, kubeconfig=tmp_path / "kc", log_store="s3://b"
    )
    env = service_env(layout, {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_ACCESS_KEY_ID": "k"})
    assert env["C8S_MODE"] == "kubernetes"
    assert env["C8S_KUBECONFIG"] == str(tmp_path / "kc")
    assert (env["C8S_LOG_STORE"], env["C8S_METRICS_PORT"]) == ("s3://b", "0")
    assert (env["AWS_ENDPOINT_URL"], env["AWS_ACCESS_KEY_ID"]) == ("http://127.0.0.1:9", "k")


def test_local_service_env_has_no_cluster(tmp_path: Path) -> None:
    """Local mode sets neither a kubeconfig nor a log store of its own."""
    env = service_env(Layout(home=tmp_path, nats_port=1, webhook_port=2), {})
    assert env["C8S_MODE"] == "local"
    assert "C8S_KUBECONFIG" not in env and "C8S_LOG_STORE" not in env


def test_dashboard_gets_its_own_port_and_the_notifier_links_to_it(tmp_path: Path) -> None:
    """The dashboard listens on --dashboard-port (the webhook keeps its own); run links point at it."""
    layout = Layout(home=tmp_path, nats_port=1, webhook_port=2, dashboard_port=3)
    dashboard = service_spec(layout, "dashboard", {}).env
    webhook = service_spec(layout, "webhook", {}).env
    assert (dashboard["C8S_LISTEN_PORT"], webhook["C8S_LISTEN_PORT"]) == ("3", "2")
    assert webhook["C8S_DASHBOARD_URL"] == "http://127.0.0.1:3"
    assert webhook["C8S_PUBLIC_URL"] == "http://127.0.0.1:2"
    assert "dashboard" in layout.services


def test_upload_key_only_for_scheduler_and_job_watcher(tmp_path: Path) -> None:
    """In Kubernetes mode the scheduler gets the upload endpoint and key, the job-watcher the key and
    port; no other service gets the key, and local mode has none."""
    layout = Layout(
        home=tmp_path, nats_port=1, webhook_port=2, kubeconfig=tmp_path / "kc", upload_port=3, upload_key="K"
    )
    envs = {name: service_spec(layout, name, {}).env for name in layout.services}
    scheduler, watcher = envs["scheduler"], envs["job_watcher"]
    assert scheduler["C8S_ARTIFACT_UPLOAD_URL"] == "http://127.0.0.1:3"
    assert scheduler["C8S_ARTIFACT_UPLOAD_KEY"] == watcher["C8S_ARTIFACT_UPLOAD_KEY"] == "K"
    assert (watcher["C8S_UPLOAD_HOST"], watcher["C8S_UPLOAD_PORT"]) == ("127.0.0.1", "3")
    others = [name for name in envs if name not in ("scheduler", "job_watcher")]
    assert others and not any("C8S_ARTIFACT_UPLOAD_KEY" in envs[name] for name in others)
    local = Layout(home=tmp_path, nats_port=1, webhook_port=2)
    assert not any("C8S_ARTIFACT_UPLOAD_KEY" in service_spec(local, n, {}).env for n in local.services)
