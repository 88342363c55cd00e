"""`c8s team onboard` and the RBAC files it relies on, offline.

Covers: the printed manifest is one RoleBinding per reader, in the namespace, to ClusterRole
c8s-team-secret-reader for ServiceAccounts deploy/ defines; that ClusterRole grants only `get` on
Secrets and no ClusterRoleBinding of deploy/ binds it; no ClusterRole of deploy/200-rbac.yaml
mentions Secrets; a malformed or reserved namespace is a usage error naming the accepted names;
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
from c8s.onboarding import GRANTS, ROLE
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
    """One RoleBinding per reader, in the namespace, to the team role, for deploy/'s ServiceAccounts."""
    accounts = {d["metadata"]["name"] for d in _docs("200-rbac.yaml") if d["kind"] == "ServiceAccount"}
    bindings = _printed("team-b")
    assert [b["kind"] for b in bindings] == ["RoleBinding"] * len(GRANTS)
    for binding, (account, _) in zip(bindings, GRANTS, strict=True):
        assert binding["metadata"]["namespace"] == "team-b"
        assert binding["roleRef"] == {"apiGroup": RBAC, "kind": "ClusterRole", "name": ROLE}
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account, "namespace": "c8s-system"}]
        assert account in accounts


def test_system_namespace_option_moves_the_subjects() -> None:
    """--system-namespace names where the ServiceAccounts live."""
    bindings = _printed("team-b", "--system-namespace", "ci-system")
    assert {b["subjects"][0]["namespace"] for b in bindings} == {"ci-system"}


def test_team_role_reads_secrets_only_and_is_bound_by_no_clusterrolebinding() -> None:
    """The team role is `get` on Secrets, and deploy/ never binds it cluster-wide."""
    (role,) = _docs("210-team-roles.yaml")
    assert (role["kind"], role["metadata"]["name"]) == ("ClusterRole", ROLE)
    assert role["rules"] == [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]
    every = [d for p in sorted(DEPLOY.glob("*.yaml")) for d in _docs(p.name)]
    assert [d for d in every if d["kind"] == "ClusterRoleBinding" and d["roleRef"]["name"] == ROLE] == []


def test_no_service_clusterrole_mentions_secrets() -> None:
    """No ClusterRole bound cluster-wide grants anything on Secrets."""
    roles = [d for d in _docs("200-rbac.yaml") if d["kind"] == "ClusterRole"]
    granting = [r["metadata"]["name"] for r in roles for rule in r["rules"] if "secrets" in rule["resources"]]
    assert granting == []


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
