"""The admission webhook's pure parts: services.admission.rules and .reviews, and api.quotas.

Covers: what each kind needs read from the cluster; PipelineConfig secret references (missing
Secret, missing key with a guess, a c8s-owned Secret refused) and steps over a quota's hard limit
(cpu and memory, requests and limits); PipelineRun with a missing config (with a guess) and totals
over what the quota has left (in use vs. never fits); RepositoryConnection webhook secret key, auth
secret keys (either pair), missing config; valid objects pass; quantities in messages; the
AdmissionReview round trip (uid echoed, status only when refused, unreadable bodies).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec
import pytest

from api.pipelineconfig import PipelineConfig
from api.pipelinerun import PipelineRun
from api.quotas import amount
from api.repositoryconnection import RepositoryConnection
from ports.quotas import Quota
from services.admission.reviews import UnreadableReview, Verdict, read_request, response
from services.admission.rules import Facts, Needs, check, needs

NS = "team-a"
GI = Decimal(2**30)


def config(*steps: dict[str, Any], name: str = "my-app-ci") -> PipelineConfig:
    body = {"metadata": {"name": name, "namespace": NS},
            "spec": {"repository": "https://github.com/org/app", "steps": list(steps)}}
    return msgspec.convert(body, PipelineConfig)


def step(name: str, cpu: str = "500m", memory: str = "1Gi", **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": "alpine", "commands": ["true"],
            "resources": {"cpu": cpu, "memory": memory}, **extra}


def run(ref: str = "my-app-ci") -> PipelineRun:
    spec = {"pipelineConfigRef": ref, "commit": "abc1234"}
    body = {"metadata": {"name": "r1", "namespace": NS}, "spec": spec}
    return msgspec.convert(body, PipelineRun)


def connection(**spec: str) -> RepositoryConnection:
    body = {"metadata": {"name": "c1", "namespace": NS},
            "spec": {"repository": "https://github.com/org/app", "provider": "github", **spec}}
    return msgspec.convert(body, RepositoryConnection)


def quota(hard: dict[str, Decimal], used: dict[str, Decimal] | None = None) -> Quota:
    return Quota(name="team-quota", hard=hard, used=used or {})


def messages(errors: list[Any]) -> list[str]:
    return [str(e) for e in errors]


def test_needs_by_kind() -> None:
    """A config needs its secrets and the quotas, a run its config and the quotas, a connection its refs."""
    secret_step = step("push", secrets=[{"secretRef": "registry", "key": "token"}])
    assert needs(config(secret_step)) == Needs(secrets=frozenset({"registry"}), quotas=True)
    assert needs(run("cfg")) == Needs(configs=frozenset({"cfg"}), quotas=True)
    conn = connection(webhookSecretRef="hook", authSecretRef="auth", pipelineConfigRef="cfg")
    assert needs(conn) == Needs(secrets=frozenset({"hook", "auth"}), configs=frozenset({"cfg"}))


def test_config_with_missing_secret_names_the_field_and_the_fix() -> None:
    """A secretRef to a Secret that does not exist is refused at secrets[j].secretRef with a create hint."""
    obj = config(step("test"), step("push", secrets=[{"secretRef": "registry", "key": "token"}]))
    [error] = check(obj, Facts(namespace=NS))
    assert error.path == "spec.steps[1].secrets[0].secretRef"
    assert 'Secret "registry" does not exist in namespace team-a' in error.message
    assert "kubectl create secret generic registry -n team-a --from-literal=token=..." in error.message


def test_config_referencing_a_c8s_owned_secret_is_refused() -> None:
    """A secretRef to c8s's own Secret (c8s-artifacts-credentials, any c8s-*) is refused though it exists."""
    ref = {"secretRef": "c8s-artifacts-credentials", "key": "AWS_SECRET_ACCESS_KEY"}
    obj = config(step("exfiltrate", secrets=[ref]))
    facts = Facts(namespace=NS, secrets={"c8s-artifacts-credentials": frozenset({"AWS_SECRET_ACCESS_KEY"})})
    [error] = check(obj, facts)
    assert error.path == "spec.steps[0].secrets[0].secretRef"
    assert 'Secret "c8s-artifacts-credentials" is owned by c8s' in error.message


def test_config_with_missing_key_lists_the_keys_and_guesses() -> None:
    """A key the Secret lacks is refused at secrets[j].key, listing its keys and the closest one."""
    obj = config(step("push", secrets=[{"secretRef": "registry", "key": "tokn"}]))
    [error] = check(obj, Facts(namespace=NS, secrets={"registry": frozenset({"token", "user"})}))
    assert error.path == "spec.steps[0].secrets[0].key"
    assert 'has no key "tokn" (it has token, user): did you mean "token"?' in error.message


def test_config_steps_over_the_hard_limit_are_refused() -> None:
    """A step asking for more CPU or memory than a quota's hard limit is refused at its resources field."""
    obj = config(step("small"), step("big", cpu="4", memory="8Gi"))
    facts = Facts(namespace=NS, quotas=[quota({"requests.cpu": Decimal(2), "limits.memory": 4 * GI})])
    errors = check(obj, facts)
    assert [e.path for e in errors] == ["spec.steps[1].resources.cpu", "spec.steps[1].resources.memory"]
    assert 'step "big" asks for cpu 4 but ResourceQuota "team-quota" allows at most 2 (requests.cpu)' in (
        errors[0].message
    )
    assert "allows at most 4Gi (limits.memory)" in errors[1].message
    assert errors[1].message.endswith("lower resources.memory or raise the quota")


def test_config_within_quota_and_with_its_secrets_passes() -> None:
    """A config whose secrets exist with their keys and whose steps fit the quota has no errors."""
    obj = config(step("push", cpu="1500m", secrets=[{"secretRef": "registry", "key": "token"}]))
    facts = Facts(namespace=NS, secrets={"registry": frozenset({"token"})},
                  quotas=[quota({"cpu": Decimal(2), "memory": 2 * GI, "pods": Decimal(10)})])
    assert check(obj, facts) == []


def test_run_of_a_missing_config_is_refused_with_a_guess() -> None:
    """A run whose pipelineConfigRef does not exist is refused, suggesting a similar existing name."""
    [error] = check(run("my-ap-ci"), Facts(namespace=NS, config_names=["my-app-ci", "other"]))
    assert error.path == "spec.pipelineConfigRef"
    assert 'PipelineConfig "my-ap-ci" does not exist in namespace team-a: did you mean "my-app-ci"?' in (
        error.message
    )


def test_run_over_what_is_left_says_what_is_in_use() -> None:
    """A run whose steps together exceed the quota's free room is refused, naming the amount in use."""
    cfg = config(step("a", cpu="1"), step("b", cpu="1500m"))
    facts = Facts(namespace=NS, configs={"my-app-ci": cfg},
                  quotas=[quota({"requests.cpu": Decimal(4)}, {"requests.cpu": Decimal(2)})])
    [error] = check(run(), facts)
    assert 'request cpu 2500m in total, but ResourceQuota "team-quota" (requests.cpu)' in error.message
    assert "has 2 of 4 in use: wait for running pipelines to finish" in error.message


def test_run_that_can_never_fit_says_so() -> None:
    """A run whose steps together exceed the quota's hard limit is refused with 'allows at most'."""
    cfg = config(step("a", memory="3Gi"), step("b", memory="2Gi"))
    facts = Facts(namespace=NS, configs={"my-app-ci": cfg}, quotas=[quota({"requests.memory": 4 * GI})])
    [error] = check(run(), facts)
    assert "request memory 5Gi in total" in error.message
    assert "allows at most 4Gi: lower the steps' resources.memory or raise the quota" in error.message


def test_run_that_fits_passes() -> None:
    """A run of an existing config whose steps fit the free room has no errors."""
    cfg = config(step("a"), step("b"))
    facts = Facts(namespace=NS, configs={"my-app-ci": cfg},
                  quotas=[quota({"requests.cpu": Decimal(2)}, {"requests.cpu": Decimal(1)})])
    assert check(run(), facts) == []


def test_connection_webhook_secret_must_hold_webhook_secret() -> None:
    """A webhook Secret without the key `webhook-secret` is refused, listing the keys it has."""
    facts = Facts(namespace=NS, secrets={"hook": frozenset({"token"})})
    [error] = check(connection(webhookSecretRef="hook"), facts)
    assert error.path == "spec.webhookSecretRef"
    assert 'Secret "hook" must hold "webhook-secret" (it has token): add the key(s)' in error.message


@pytest.mark.parametrize("keys", [{"username", "password"}, {"ssh-key"}, {"ssh-key", "username"}])
def test_connection_auth_secret_with_either_pair_passes(keys: set[str]) -> None:
    """An auth Secret with username and password, or with ssh-key, is accepted."""
    facts = Facts(namespace=NS, secrets={"auth": frozenset(keys)})
    assert check(connection(authSecretRef="auth"), facts) == []


def test_connection_auth_secret_with_half_a_pair_is_refused() -> None:
    """An auth Secret with only a username is refused, naming both accepted key sets."""
    facts = Facts(namespace=NS, secrets={"auth": frozenset({"username"})})
    [error] = check(connection(authSecretRef="auth"), facts)
    assert 'must hold "username" and "password" or "ssh-key" (it has username)' in error.message


def test_connection_missing_secrets_and_config() -> None:
    """Missing webhook Secret, auth Secret and PipelineConfig are each refused at their field."""
    conn = connection(webhookSecretRef="hook", authSecretRef="auth", pipelineConfigRef="cfg")
    errors = check(conn, Facts(namespace=NS))
    paths = ["spec.webhookSecretRef", "spec.authSecretRef", "spec.pipelineConfigRef"]
    assert [e.path for e in errors] == paths
    assert "--from-literal=webhook-secret=..." in errors[0].message


def test_amounts_read_like_manifests() -> None:
    """Quantities in messages are written as a manifest would: 2, 500m, 4Gi, 512Mi."""
    assert [amount("cpu", Decimal(v)) for v in ("2", "0.5", "2.5")] == ["2", "500m", "2500m"]
    assert [amount("memory", v) for v in (4 * GI, GI / 2, Decimal(1000))] == ["4Gi", "512Mi", "1000 bytes"]


def test_review_round_trip_echoes_the_uid() -> None:
    """The response carries the request's uid; a refusal carries code 422 and the message."""
    body = msgspec.json.encode({
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {"uid": "u-1", "kind": {"group": "c8s.dev", "version": "v1alpha1", "kind": "PipelineRun"},
                    "operation": "CREATE", "namespace": NS, "object": {"spec": {}}, "userInfo": {}},
    })
    request = read_request(body)
    assert (request.uid, request.kind.kind, request.operation) == ("u-1", "PipelineRun", "CREATE")
    allowed = msgspec.json.decode(response("u-1", Verdict.allow()))
    assert allowed == {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                       "response": {"uid": "u-1", "allowed": True}}
    refused = msgspec.json.decode(response("u-1", Verdict(allowed=False, message="no")))["response"]
    status = {"code": 422, "message": "no", "reason": "Invalid"}
    assert refused == {"uid": "u-1", "allowed": False, "status": status}


@pytest.mark.parametrize("body", [b"not json", b"{}", b'{"request": {"uid": 1}}'])
def test_unreadable_reviews_are_refused(body: bytes) -> None:
    """A body that is not an AdmissionReview with a request raises UnreadableReview."""
    with pytest.raises(UnreadableReview):
        read_request(body)
