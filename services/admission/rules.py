"""The admission rules that need the cluster: pure functions of an object and the facts read for it.

`needs(obj)` says which Secrets, PipelineConfigs and whether the quotas of the object's namespace
must be read; the service reads them (services/admission/lookups.py) into `Facts`; `check(obj,
facts)` returns every FieldError. Shape, metadata and cross-field rules (cycles included) are
api.validation's, the code `c8s validate` runs; these add (spec/data-model.md):

- PipelineConfig: no `secrets[].secretRef` names a c8s-owned Secret (prefix `c8s-`, reserved: a
  step must never read c8s's own credentials, docs/security.md); every other exists in the
  namespace and holds its `key`; each step's resources fit every ResourceQuota's hard limits;
- PipelineRun: `pipelineConfigRef` exists in the namespace; the run's steps together fit what the
  quotas have left;
- RepositoryConnection: `webhookSecretRef` exists and holds `webhook-secret`; `authSecretRef` holds
  `username` and `password`, or `ssh-key`; `pipelineConfigRef` exists.

Every message names the field (its path) and says how to fix it.
"""

from __future__ import annotations

from msgspec import Struct, field

from api.fielderrors import FieldError, child, did_you_mean, item
from api.pipelineconfig import PipelineConfig
from api.pipelinerun import PipelineRun
from api.quotas import Overrun, beyond_free, beyond_hard, demand, total
from api.repositoryconnection import RepositoryConnection
from ports.quotas import Quota

Checked = PipelineConfig | PipelineRun | RepositoryConnection
WEBHOOK_KEY = "webhook-secret"
#: Secret names reserved for c8s's own Secrets in team namespaces.
C8S_OWNED_PREFIX = "c8s-"
AUTH_KEYS = (("username", "password"), ("ssh-key",))


class Needs(Struct, frozen=True, kw_only=True):
    secrets: frozenset[str] = frozenset()
    configs: frozenset[str] = frozenset()
    quotas: bool = False


class Facts(Struct, frozen=True, kw_only=True):
    """What the cluster holds in the object's namespace, as far as `needs` asked."""

    namespace: str
    #: Secret name -> its keys, for each needed Secret that exists.
    secrets: dict[str, frozenset[str]] = field(default_factory=dict)
    #: Each needed PipelineConfig that exists.
    configs: dict[str, PipelineConfig] = field(default_factory=dict)
    #: Names of every PipelineConfig in the namespace (for "did you mean"), when a config was needed.
    config_names: list[str] = field(default_factory=list)
    quotas: list[Quota] = field(default_factory=list)


def needs(obj: Checked) -> Needs:
    if isinstance(obj, PipelineConfig):
        refs = {s.secret_ref for step in obj.spec.steps for s in step.secrets}
        return Needs(secrets=frozenset(refs), quotas=True)
    if isinstance(obj, PipelineRun):
        return Needs(configs=frozenset({obj.spec.pipeline_config_ref}), quotas=True)
    spec = obj.spec
    secrets = {ref for ref in (spec.webhook_secret_ref, spec.auth_secret_ref) if ref}
    configs = {spec.pipeline_config_ref} if spec.pipeline_config_ref else set()
    return Needs(secrets=frozenset(secrets), configs=frozenset(configs))


def check(obj: Checked, facts: Facts) -> list[FieldError]:
    if isinstance(obj, PipelineConfig):
        return _config_secrets(obj, facts) + _steps_fit(obj, facts)
    if isinstance(obj, PipelineRun):
        return _run(obj, facts)
    return _connection(obj, facts)


def _config_secrets(obj: PipelineConfig, facts: Facts) -> list[FieldError]:
    errors = []
    for i, step in enumerate(obj.spec.steps):
        for j, secret in enumerate(step.secrets):
            where = item(child(item("spec.steps", i), "secrets"), j)
            name, keys = secret.secret_ref, facts.secrets.get(secret.secret_ref)
            if owned_by_c8s(name):
                errors.append(_c8s_owned(child(where, "secretRef"), name))
            elif keys is None:
                errors.append(_missing_secret(child(where, "secretRef"), name, facts, secret.key))
            elif secret.key not in keys:
                errors.append(_missing_key(child(where, "key"), name, secret.key, keys))
    return errors


def _steps_fit(obj: PipelineConfig, facts: Facts) -> list[FieldError]:
    errors = []
    for i, step in enumerate(obj.spec.steps):
        for over in beyond_hard(demand(step), facts.quotas):
            wanted, allowed, _ = over.amounts()
            path = child(child(item("spec.steps", i), "resources"), over.field)
            message = (
                f'step "{step.name}" asks for {over.field} {wanted} but ResourceQuota "{over.quota}" '
                f"allows at most {allowed} ({over.resource}) in namespace {facts.namespace}, so it "
                f"could never start: lower resources.{over.field} or raise the quota"
            )
            errors.append(FieldError(path=path, message=message))
    return errors


def _run(obj: PipelineRun, facts: Facts) -> list[FieldError]:
    ref = obj.spec.pipeline_config_ref
    config = facts.configs.get(ref)
    if config is None:
        return [_missing_config("spec.pipelineConfigRef", ref, facts)]
    wanted = total(config.spec.steps)
    hard = {(o.quota, o.resource) for o in beyond_hard(wanted, facts.quotas)}
    overruns = beyond_free(wanted, facts.quotas)
    return [_run_overrun(o, ref, (o.quota, o.resource) in hard, facts) for o in overruns]


def _run_overrun(over: Overrun, config: str, never: bool, facts: Facts) -> FieldError:
    wanted, allowed, used = over.amounts()
    head = (
        f'the steps of PipelineConfig "{config}" request {over.field} {wanted} in total, but '
        f'ResourceQuota "{over.quota}" ({over.resource}) in namespace {facts.namespace} '
    )
    if never:
        tail = f"allows at most {allowed}: lower the steps' resources.{over.field} or raise the quota"
    else:
        tail = (
            f"has {used} of {allowed} in use: wait for running pipelines to finish, lower the steps' "
            f"resources.{over.field}, or raise the quota"
        )
    return FieldError(path="spec.pipelineConfigRef", message=head + tail)


def _connection(obj: RepositoryConnection, facts: Facts) -> list[FieldError]:
    spec, errors = obj.spec, []
    if spec.webhook_secret_ref:
        errors += _holds(facts, "spec.webhookSecretRef", spec.webhook_secret_ref, ((WEBHOOK_KEY,),))
    if spec.auth_secret_ref:
        errors += _holds(facts, "spec.authSecretRef", spec.auth_secret_ref, AUTH_KEYS)
    if spec.pipeline_config_ref and spec.pipeline_config_ref not in facts.configs:
        errors.append(_missing_config("spec.pipelineConfigRef", spec.pipeline_config_ref, facts))
    return errors


def _holds(facts: Facts, path: str, name: str, choices: tuple[tuple[str, ...], ...]) -> list[FieldError]:
    """The Secret exists and holds all keys of one of `choices`."""
    keys = facts.secrets.get(name)
    wanted = " or ".join(" and ".join(f'"{k}"' for k in keys) for keys in choices)
    if keys is None:
        return [_missing_secret(path, name, facts, choices[0][0])]
    if any(all(k in keys for k in option) for option in choices):
        return []
    has = ", ".join(sorted(keys)) or "no keys"
    message = f'Secret "{name}" must hold {wanted} (it has {has}): add the key(s) to the Secret'
    return [FieldError(path=path, message=message)]


def owned_by_c8s(secret: str) -> bool:
    """Secrets named `c8s-...` belong to c8s (e.g. what it keeps in a run's namespace)."""
    return secret.startswith(C8S_OWNED_PREFIX)


def _c8s_owned(path: str, name: str) -> FieldError:
    message = (
        f'Secret "{name}" is owned by c8s (names starting with "{C8S_OWNED_PREFIX}" are reserved): '
        "a step may not read it; put the value your step needs in a Secret of your own"
    )
    return FieldError(path=path, message=message)


def _missing_secret(path: str, name: str, facts: Facts, key: str) -> FieldError:
    message = (
        f'Secret "{name}" does not exist in namespace {facts.namespace}: create it '
        f"(kubectl create secret generic {name} -n {facts.namespace} --from-literal={key}=...) "
        "or fix the name"
    )
    return FieldError(path=path, message=message)


def _missing_key(path: str, name: str, key: str, keys: frozenset[str]) -> FieldError:
    has = ", ".join(sorted(keys)) or "no keys"
    fix = _or_guess(did_you_mean(key, keys), "add the key to the Secret or use a key it has")
    return FieldError(path=path, message=f'Secret "{name}" has no key "{key}" (it has {has}): {fix}')


def _missing_config(path: str, name: str, facts: Facts) -> FieldError:
    fix = _or_guess(
        did_you_mean(name, facts.config_names),
        "create it first (kubectl apply -f <pipelineconfig.yaml>) or fix the name",
    )
    message = f'PipelineConfig "{name}" does not exist in namespace {facts.namespace}: {fix}'
    return FieldError(path=path, message=message)


def _or_guess(guess: str | None, fix: str) -> str:
    return f'did you mean "{guess}"? Otherwise {fix}' if guess else fix
