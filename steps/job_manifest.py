"""The Job of one step, built from its plan: a pure function from StepPlan to the Job body.

Shape of the Job (`<run>-<step>`, steps.naming):
- labels `c8s.dev/run`, `c8s.dev/run-uid`, `c8s.dev/step`, `app.kubernetes.io/managed-by: c8s` on
  the Job and its pod (label values cut with a hash past 63 characters; the exact names are also in
  annotations, which is what the job-watcher reads); controller ownerReference to the PipelineRun;
- `backoffLimit: 0`, `ttlSecondsAfterFinished: 3600`, restartPolicy Never, no service-account token
  and no service links: a step's pod gets no API and no bus credentials;
- the step timeout is the *pod's* `activeDeadlineSeconds`: the kubelet kills the containers and
  keeps the pod (phase Failed, reason DeadlineExceeded), so its log stays readable until shipped.
  The Job's own `activeDeadlineSeconds` is the timeout plus a slack, a backstop only: when it fires
  the job controller *deletes* the pods, and with them the log;
- init container `checkout`: a POSIX shell script with git clones the commit into the `workspace`
  emptyDir (`/workspace`), fetching a pull request's head ref first when the plan has one
  (`C8S_FETCH_REF`); credentials from the run's authSecretRef (keys username/password or
  ssh-key, all optional) reach only this container, through secretKeyRef env;
- container `step`: the step's image runs `sh -e -c <commands joined by newlines>` in /workspace,
  with the plan's env and one secretKeyRef env per step secret;
- with artifact patterns, container `artifacts` (c8s's own image) waits for the step's exit code in
  the `c8s` emptyDir, sends the matching files to c8s's upload endpoint (`tools.upload_url`) with
  the step's upload token (steps.upload_grant: writes under this step's artifact prefix only,
  until the Job's deadline; the executor mints it) and reports them through its termination
  message (steps.artifact_report); the step container then runs through a tiny wrapper that
  records its exit code there. No container of the pod gets any object-storage credential, and
  the pod references no Secret of c8s's (only the run's own authSecretRef and step secrets).
  The token is a plain env value of the artifacts container rather than a per-step Secret: a
  Secret would need c8s to create Secrets in every team namespace (the grant issue 11 removes),
  and the token is worth no more than the Job that carries it (this step's prefix, this Job's
  lifetime) to anyone who can read that Job.
What the pod's lifecycle gives against runaway steps (the local runner's shim rebuilds the same with
a child subreaper, services/runner/shim.py): every process the step starts, in whatever session
(`setsid cmd &`), stays in the step container's PID namespace and cgroup, and the container runtime
kills all of them when the container's main process exits or when the kubelet kills the container
(deadline: SIGTERM, then SIGKILL after terminationGracePeriodSeconds); output goes to the
container log, a file the runtime writes, so nothing waits on a pipe a leftover holds. A pod the
deadline (timeout, or the 1-second deadline a cancel sets) killed is reported with exit code None
and reason Timeout or Cancelled whatever the container's exit code (services/job_watcher/observing.py),
so it is never Succeeded (nor would it be with an exit code: events.run.STOPPED_REASONS).
Every `$` in generated commands is doubled: Kubernetes expands `$(VAR)` in command and args, and
`$$` is its escape, so user commands reach the shell exactly as written.
"""

from __future__ import annotations

import hashlib
import json

from msgspec import Struct

from api.meta import API_VERSION
from steps.plans import StepPlan, StepRef

Obj = dict[str, object]

LABEL_RUN = "c8s.dev/run"
LABEL_RUN_UID = "c8s.dev/run-uid"
LABEL_STEP = "c8s.dev/step"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGED_BY = "c8s"
#: Set on the Job by cancel: the job-watcher reports the step as Cancelled rather than timed out.
ANNOTATION_CANCELLED = "c8s.dev/cancelled"
SELECTOR = f"{LABEL_MANAGED_BY}={MANAGED_BY},{LABEL_RUN}"

STEP_CONTAINER, CHECKOUT_CONTAINER, ARTIFACTS_CONTAINER = "step", "checkout", "artifacts"
WORKSPACE = "/workspace"
STATUS_DIR = "/c8s"
MAIN_EXIT = f"{STATUS_DIR}/step-exit"
TERMINATION_LOG = "/dev/termination-log"
TTL_SECONDS = 3600
JOB_DEADLINE_SLACK = 120
_TOOL_RESOURCES = {"cpu": "200m", "memory": "256Mi"}
_MAX_LABEL = 63
_HASH = 8

CHECKOUT_SCRIPT = """set -eu
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
export HOME="$scratch" GIT_TERMINAL_PROMPT=0 GIT_CONFIG_NOSYSTEM=1 LANG=C
if [ -n "${C8S_GIT_SSH_KEY:-}" ]; then
  printf '%s\\n' "$C8S_GIT_SSH_KEY" > "$scratch/id_key"
  chmod 600 "$scratch/id_key"
  export GIT_SSH_COMMAND="ssh -F /dev/null -o BatchMode=yes -o IdentitiesOnly=yes \
-o StrictHostKeyChecking=accept-new -o UserKnownHostsFile=$scratch/known_hosts -i $scratch/id_key"
fi
if [ -n "${C8S_GIT_USERNAME:-}${C8S_GIT_PASSWORD:-}" ]; then
  cat > "$scratch/askpass" <<'EOF'
#!/bin/sh
case "$1" in
  Username*) printf '%s\\n' "${C8S_GIT_USERNAME:-git}" ;;
  *) printf '%s\\n' "${C8S_GIT_PASSWORD:-}" ;;
esac
EOF
  chmod 700 "$scratch/askpass"
  export GIT_ASKPASS="$scratch/askpass"
fi
git -c credential.helper= clone --quiet --no-checkout -- "$C8S_REPOSITORY" /workspace
if [ -n "${C8S_FETCH_REF:-}" ]; then
  git -C /workspace -c credential.helper= fetch --quiet origin "+$C8S_FETCH_REF:$C8S_FETCH_REF"
fi
git -C /workspace -c advice.detachedHead=false checkout --quiet --detach "$C8S_COMMIT" --
"""

#: Runs the step's script ($1) and records its exit code for the artifacts container.
STEP_WRAPPER = f'sh -e -c "$1"; code=$?; echo "$code" > {MAIN_EXIT}; exit "$code"'


class PodTools(Struct, frozen=True, kw_only=True):
    """How the pod's own helpers run: images, the artifacts command, where artifacts go."""

    checkout_image: str = "alpine/git:2.47.2"
    artifacts_image: str = "ghcr.io/c8s-dev/c8s:latest"  # deploy/'s image
    artifacts_command: tuple[str, ...] = ("python", "-m", "services.artifact_sidecar")
    object_store_url: str = ""
    #: c8s's artifact upload endpoint as step pods reach it (services/job_watcher/uploads.py).
    upload_url: str = ""


def job_manifest(plan: StepPlan, tools: PodTools, upload_token: str = "") -> Obj:
    """The whole Job body for `plan` (deterministic: the same plan and token give the same body);
    `upload_token` is the artifacts container's (steps.upload_grant)."""
    ref = plan.ref
    meta = {"labels": labels(ref), "annotations": identity_annotations(ref)}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": ref.job_name,
            "namespace": ref.namespace,
            **meta,
            "ownerReferences": [owner_reference(ref)],
        },
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": plan.timeout_seconds + JOB_DEADLINE_SLACK,
            "ttlSecondsAfterFinished": TTL_SECONDS,
            "template": {"metadata": meta, "spec": pod_spec(plan, tools, upload_token)},
        },
    }


def labels(ref: StepRef) -> dict[str, str]:
    return {
        LABEL_RUN: label_value(ref.run),
        LABEL_RUN_UID: label_value(ref.uid),
        LABEL_STEP: label_value(ref.step),
        LABEL_MANAGED_BY: MANAGED_BY,
    }


def identity_annotations(ref: StepRef) -> dict[str, str]:
    return {LABEL_RUN: ref.run, LABEL_RUN_UID: ref.uid, LABEL_STEP: ref.step}


def label_value(value: str) -> str:
    """`value`, or when longer than a label allows, its head and a hash of the whole."""
    if len(value) <= _MAX_LABEL:
        return value
    digest = hashlib.sha256(value.encode()).hexdigest()[:_HASH]
    return f"{value[: _MAX_LABEL - _HASH - 1].rstrip('-._')}-{digest}"


def owner_reference(ref: StepRef) -> Obj:
    return {
        "apiVersion": API_VERSION,
        "kind": "PipelineRun",
        "name": ref.run,
        "uid": ref.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def pod_spec(plan: StepPlan, tools: PodTools, upload_token: str = "") -> Obj:
    containers = [step_container(plan)]
    volumes: list[Obj] = [{"name": "workspace", "emptyDir": {}}]
    if plan.step.artifacts:
        containers.append(artifacts_container(plan, tools, upload_token))
        volumes.append({"name": "c8s", "emptyDir": {}})
    return {
        "restartPolicy": "Never",
        "activeDeadlineSeconds": plan.timeout_seconds,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "initContainers": [checkout_container(plan, tools)],
        "containers": containers,
        "volumes": volumes,
    }


def step_container(plan: StepPlan) -> Obj:
    script = "\n".join(plan.step.commands)
    if plan.step.artifacts:
        command = ["sh", "-c", escape(STEP_WRAPPER), "c8s-step", escape(script)]
        mounts = [_mount("workspace", WORKSPACE), _mount("c8s", STATUS_DIR)]
    else:
        command, mounts = ["sh", "-e", "-c", escape(script)], [_mount("workspace", WORKSPACE)]
    cpu, memory = plan.step.resources.cpu, plan.step.resources.memory
    return {
        "name": STEP_CONTAINER,
        "image": plan.step.image,
        "command": command,
        "workingDir": WORKSPACE,
        "env": step_env(plan),
        "resources": {"requests": {"cpu": cpu, "memory": memory}, "limits": {"cpu": cpu, "memory": memory}},
        "volumeMounts": mounts,
    }


def step_env(plan: StepPlan) -> list[Obj]:
    env: list[Obj] = [{"name": k, "value": escape(v)} for k, v in plan.env.items()]
    for s in plan.secrets:
        env.append({"name": s.variable, "valueFrom": {"secretKeyRef": {"name": s.secret_ref, "key": s.key}}})
    return env


def checkout_container(plan: StepPlan, tools: PodTools) -> Obj:
    env: list[Obj] = [
        {"name": "C8S_REPOSITORY", "value": escape(plan.repository)},
        {"name": "C8S_COMMIT", "value": escape(plan.commit)},
    ]
    if plan.fetch_ref:
        env.append({"name": "C8S_FETCH_REF", "value": escape(plan.fetch_ref)})
    if plan.auth_secret_ref:
        for variable, key in (
            ("C8S_GIT_USERNAME", "username"),
            ("C8S_GIT_PASSWORD", "password"),
            ("C8S_GIT_SSH_KEY", "ssh-key"),
        ):
            ref = {"name": plan.auth_secret_ref, "key": key, "optional": True}
            env.append({"name": variable, "valueFrom": {"secretKeyRef": ref}})
    return {
        "name": CHECKOUT_CONTAINER,
        "image": tools.checkout_image,
        "command": ["sh", "-c", escape(CHECKOUT_SCRIPT)],
        "env": env,
        "resources": _tool_resources(),
        "volumeMounts": [_mount("workspace", WORKSPACE)],
    }


def artifacts_container(plan: StepPlan, tools: PodTools, upload_token: str) -> Obj:
    values = {
        "C8S_ARTIFACT_PATTERNS": json.dumps(plan.step.artifacts),
        "C8S_ARTIFACT_PREFIX": artifact_prefix(plan.ref),
        "C8S_OBJECT_STORE": tools.object_store_url,
        "C8S_UPLOAD_URL": tools.upload_url,
        "C8S_UPLOAD_TOKEN": upload_token,
        "C8S_WORKSPACE": WORKSPACE,
        "C8S_STEP_EXIT": MAIN_EXIT,
        "C8S_TERMINATION_LOG": TERMINATION_LOG,
    }
    return {
        "name": ARTIFACTS_CONTAINER,
        "image": tools.artifacts_image,
        "command": list(tools.artifacts_command),
        "env": [{"name": k, "value": escape(v)} for k, v in values.items()],
        "terminationMessagePath": TERMINATION_LOG,
        "resources": _tool_resources(),
        "volumeMounts": [_mount("workspace", WORKSPACE, read_only=True), _mount("c8s", STATUS_DIR)],
    }


def artifact_prefix(ref: StepRef) -> str:
    """Object key prefix of a step's artifacts (the same layout local mode uses)."""
    return f"{ref.namespace}/{ref.run}/{ref.uid}/{ref.step}/artifacts/"


def escape(text: str) -> str:
    """Protect `text` from Kubernetes' `$(VAR)` expansion in command, args and env values."""
    return text.replace("$", "$$")


def _mount(name: str, path: str, *, read_only: bool = False) -> Obj:
    mount: Obj = {"name": name, "mountPath": path}
    if read_only:
        mount["readOnly"] = True
    return mount


def _tool_resources() -> Obj:
    return {"requests": dict(_TOOL_RESOURCES), "limits": dict(_TOOL_RESOURCES)}
