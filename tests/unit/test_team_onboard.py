"""`c8s team onboard` and the RBAC files it relies on, offline.

Covers: the printed manifest is one RoleBinding per grant, in the namespace, to ClusterRole
c8s-team-secret-reader (the four readers), c8s-team-step-runner (the scheduler) or
c8s-team-job-stopper (the job-watcher) for ServiceAccounts deploy/ defines; the first grants only
`get` on Secrets, the second only creating and patching Jobs and listing and patching pods, the
third only patching Jobs, and no ClusterRoleBinding of deploy/ binds any of them;
no ClusterRole of deploy/200-rbac.yaml mentions Secrets or writes Jobs or pods; a malformed
or reserved namespace is a usage error naming the accepted names;
the apiserver's 403 leaves the Kubernetes adapter as Forbidden.
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path
from typing import Any

import pytest
import yaml

from adapters.kube.errors import Status, from_status
from c8s.cli import build_parser, main
from c8s.commands import team
from c8s.onboarding import GRANTS, JOB_STOPPER, SECRET_READER, STEP_RUNNER
from ports.resources import Forbidden

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
RBAC = "rbac.authorization.k8s.io"


def _docs(*names: str) -> list[dict[str, Any]]:
    return [d for n in names for d in yaml.safe_load_all((DEPLOY / n).read_text()) if d]


def _printed(*argv: str) -> list[dict[str, Any]]:
    out = io.StringIO()
    args = team_parser().parse_args(["team", "onboard", *argv])
    assert args.handler(args, out) == 0
    return [d for d in yaml.safe_load_all(out.getvalue()) if d]


def team_parser() -> argparse.ArgumentParser:
    return build_parser()


def test_manifest_binds_the_readers_in_the_namespace() -> None:
    """One RoleBinding per grant, in the namespace, to its team role, for deploy/'s ServiceAccounts."""
    accounts = {d["metadata"]["name"] for d in _docs("200-rbac.yaml") if d["kind"] == "ServiceAccount"}
    bindings = _printed("team-b")
    assert [b["kind"] for b in bindings] == ["RoleBinding"] * len(GRANTS)
    roles = {}
    for binding, grant in zip(bindings, GRANTS, strict=True):
        assert binding["metadata"]["namespace"] == "team-b"
        assert binding["roleRef"] == {"apiGroup": RBAC, "kind": "ClusterRole", "name": grant.role}
        subject = {"kind": "ServiceAccount", "name": grant.account, "namespace": "c8s-system"}
        assert binding["subjects"] == [subject]
        assert grant.account in accounts
        roles[grant.account] = grant.role
    assert roles == {"c8s-webhook": SECRET_READER, "c8s-notifier": SECRET_READER,
                     "c8s-log-shipper": SECRET_READER, "c8s-admission": SECRET_READER,
                     "c8s-scheduler": STEP_RUNNER, "c8s-job-watcher": JOB_STOPPER}


def test_system_namespace_option_moves_the_subjects() -> None:
    """--system-namespace names where the ServiceAccounts live."""
    bindings = _printed("team-b", "--system-namespace", "ci-system")
    assert {b["subjects"][0]["namespace"] for b in bindings} == {"ci-system"}


def test_team_roles_grant_their_verbs_only_and_are_bound_by_no_clusterrolebinding() -> None:
    """The reader is `get` on Secrets, the step runner Jobs and pods, the job stopper a Job patch;
    deploy/ binds none of them cluster-wide."""
    roles = {d["metadata"]["name"]: d for d in _docs("210-team-roles.yaml")}
    assert {r["kind"] for r in roles.values()} == {"ClusterRole"}
    assert set(roles) == {SECRET_READER, STEP_RUNNER, JOB_STOPPER}
    assert roles[SECRET_READER]["rules"] == [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]
    assert roles[STEP_RUNNER]["rules"] == [
        {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["create", "patch"]},
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["list", "patch"]},
    ]
    stopper = [{"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["patch"]}]
    assert roles[JOB_STOPPER]["rules"] == stopper
    every = [d for p in sorted(DEPLOY.glob("*.yaml")) for d in _docs(p.name)]
    bound = [d for d in every if d["kind"] == "ClusterRoleBinding" and d["roleRef"]["name"] in roles]
    assert bound == []


def test_no_service_clusterrole_mentions_secrets_or_runs_pods() -> None:
    """No ClusterRole bound cluster-wide grants anything on Secrets or writes Jobs or pods."""
    roles = [d for d in _docs("200-rbac.yaml") if d["kind"] == "ClusterRole"]
    rules = [(r["metadata"]["name"], rule) for r in roles for rule in r["rules"]]
    assert [name for name, rule in rules if "secrets" in rule["resources"]] == []
    writes = {"create", "update", "patch", "delete"}
    written = [(name, kind) for name, rule in rules for kind in ("jobs", "pods")
               if kind in rule["resources"] and writes & set(rule["verbs"])]
    assert written == []


@pytest.mark.parametrize(("namespace", "said"), [
    ("Team_B", "is not a valid namespace name: use at most 63 lower-case letters"),
    ("a" * 64, "is not a valid namespace name"),
    ("c8s-system", "namespace c8s-system is not a team namespace"),
    ("kube-system", "namespace kube-system is not a team namespace"),
])
def test_bad_namespace_is_a_usage_error(namespace: str, said: str,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """A malformed or reserved namespace exits 2 with what is accepted, printing no manifest."""
    with pytest.raises(SystemExit) as exited:
        main(["team", "onboard", namespace])
    captured = capsys.readouterr()
    assert exited.value.code == 2 and said in captured.err and captured.out == ""


def test_onboarding_the_system_namespace_given_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    """A team namespace equal to --system-namespace is refused (exit 2), nothing printed."""
    args = team_parser().parse_args(["team", "onboard", "ci-system", "--system-namespace", "ci-system"])
    out = io.StringIO()
    assert team.run(args, out) == 2 and out.getvalue() == ""
    assert "namespace ci-system is not a team namespace" in capsys.readouterr().err


def test_apiserver_403_is_forbidden() -> None:
    """A 403 from the apiserver is Forbidden (not retried, not a plain StoreError)."""
    error = from_status(403, Status(message='secrets "x" is forbidden'), "Secret team-b/x")
    assert isinstance(error, Forbidden) and str(error) == 'Secret team-b/x: secrets "x" is forbidden'
