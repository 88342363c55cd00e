"""The pure Job builder (steps.job_manifest) and the artifacts report codec: name, labels
(shortened past 63 characters, exact names in annotations), owner, deadlines, env with
secretKeyRef, auth only in the checkout container, `$` escaping, the artifacts container only when
the step has patterns (with the step's upload token and endpoint, and no storage credential or
Secret reference of c8s's), and a report that always fits the termination message."""

from __future__ import annotations

import json
from typing import Any

from msgspec.structs import replace

from api.pipelineconfig import SecretEnv, Step
from steps import artifact_report
from steps.artifact_report import ArtifactReport
from steps.job_manifest import JOB_DEADLINE_SLACK, PodTools, job_manifest, label_value
from steps.naming import job_name
from steps.plans import StepPlan, StepRef


def plan(run: str = "app-1", **step: Any) -> StepPlan:
    ref = StepRef(namespace="ns", run=run, uid="u-1", step="test", job_name=job_name(run, "test"))
    return StepPlan(
        ref=ref,
        step=Step(name="test", image="python:3.12", commands=["echo $HOME", "exit 0"], **step),
        repository="https://git.example/r.git",
        commit="abc",
        branch="main",
        auth_secret_ref="git",
        env={"CI": "true"},
        secrets=list(step.get("secrets", [])),
        timeout_seconds=600,
    )


def containers(job: dict[str, Any]) -> dict[str, Any]:
    spec = job["spec"]["template"]["spec"]
    return {c["name"]: c for c in [*spec["initContainers"], *spec["containers"]]}


def test_identity_owner_and_limits() -> None:
    """The Job is named by the plan, owned by the PipelineRun, with backoff 0, ttl and both deadlines."""
    job = job_manifest(plan(), PodTools())
    assert job["metadata"]["name"] == "app-1-test"
    assert job["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "c8s.dev/v1alpha1",
            "kind": "PipelineRun",
            "name": "app-1",
            "uid": "u-1",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    spec = job["spec"]
    assert (spec["backoffLimit"], spec["ttlSecondsAfterFinished"]) == (0, 3600)
    assert spec["template"]["spec"]["activeDeadlineSeconds"] == 600
    assert spec["activeDeadlineSeconds"] == 600 + JOB_DEADLINE_SLACK
    assert spec["template"]["spec"]["automountServiceAccountToken"] is False


def test_long_run_names_fit_labels() -> None:
    """A run name over 63 characters is shortened in labels and kept whole in annotations."""
    run = "r" * 100
    meta = job_manifest(plan(run=run), PodTools())["spec"]["template"]["metadata"]
    assert len(meta["labels"]["c8s.dev/run"]) == 63 and meta["annotations"]["c8s.dev/run"] == run
    assert label_value(run) == meta["labels"]["c8s.dev/run"] != label_value(run + "x")


def test_env_secrets_and_escaping() -> None:
    """Step secrets are secretKeyRef env, git credentials reach only the checkout, `$` is escaped."""
    job = job_manifest(plan(secrets=[SecretEnv(secret_ref="db", key="pw", env_var="DB_PW")]), PodTools())
    step, checkout = containers(job)["step"], containers(job)["checkout"]
    assert step["command"] == ["sh", "-e", "-c", "echo $$HOME\nexit 0"]
    assert {"name": "DB_PW", "valueFrom": {"secretKeyRef": {"name": "db", "key": "pw"}}} in step["env"]
    assert not any("GIT" in e["name"] for e in step["env"])
    refs = [e["valueFrom"]["secretKeyRef"] for e in checkout["env"] if "valueFrom" in e]
    assert {r["key"] for r in refs} == {"username", "password", "ssh-key"} and {r["name"] for r in refs} == {
        "git"
    }
    assert step["resources"]["requests"] == {"cpu": "500m", "memory": "1Gi"} == step["resources"]["limits"]


def test_a_pull_request_head_is_fetched_by_the_checkout() -> None:
    """A plan with a PR ref hands it to the checkout script, which fetches it before checking out."""
    job = job_manifest(replace(plan(), fetch_ref="refs/pull/7/head"), PodTools())
    checkout = containers(job)["checkout"]
    assert {"name": "C8S_FETCH_REF", "value": "refs/pull/7/head"} in checkout["env"]
    assert 'fetch --quiet origin "+$$C8S_FETCH_REF:$$C8S_FETCH_REF"' in checkout["command"][2]
    plain = containers(job_manifest(plan(), PodTools()))["checkout"]
    assert not any(e["name"] == "C8S_FETCH_REF" for e in plain["env"])


def test_artifacts_container_only_with_patterns() -> None:
    """A step with artifact patterns gets the artifacts container and the exit-code wrapper; others do not."""
    assert set(containers(job_manifest(plan(), PodTools()))) == {"checkout", "step"}
    tools = PodTools(object_store_url="s3://b/p", upload_url="http://job-watcher.c8s-system.svc:8090")
    job = job_manifest(plan(artifacts=["out/**"]), tools, "the-token")
    sidecar = containers(job)["artifacts"]
    env = {e["name"]: e["value"] for e in sidecar["env"]}
    assert (
        env["C8S_ARTIFACT_PREFIX"] == "ns/app-1/u-1/test/artifacts/" and env["C8S_OBJECT_STORE"] == "s3://b/p"
    )
    assert (env["C8S_UPLOAD_URL"], env["C8S_UPLOAD_TOKEN"]) == (tools.upload_url, "the-token")
    assert containers(job)["step"]["command"][:2] == ["sh", "-c"]


def test_no_storage_credentials_and_no_c8s_secret_in_the_pod() -> None:
    """No container gets an AWS_* variable, an envFrom, or a reference to a c8s-* Secret."""
    job = job_manifest(plan(artifacts=["out/**"]), PodTools(object_store_url="s3://b/p"), "t")
    text = json.dumps(job)
    assert "AWS_" not in text and "envFrom" not in text and "secretRef" not in text


def test_same_plan_same_job() -> None:
    """Building twice gives the same body (AlreadyExists on create means the same work)."""
    assert job_manifest(plan(), PodTools()) == job_manifest(plan(), PodTools())


def test_report_fits_and_round_trips() -> None:
    """A report too big for 4096 bytes drops files from the end and counts them; it reads back."""
    files = [(f"reports/{i:04}.xml", i) for i in range(1000)]
    body = artifact_report.encode(ArtifactReport(base="s3://b/x/", files=files, failed=["a"]))
    assert len(body) <= 4096
    back = artifact_report.decode(body.decode())
    assert back is not None and back.files == files[: len(back.files)] and back.failed == ["a"]
    assert back.omitted == 1000 - len(back.files) > 0
    assert back.urls()[0] == ("reports/0000.xml", "s3://b/x/reports/0000.xml", 0)
    assert artifact_report.decode("Traceback ...") is None and artifact_report.decode(None) is None
