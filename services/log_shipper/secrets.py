"""The secret values a step's log is masked with, read from the resource store.

Masked: the value of every key the given references name (the service passes every step's
`secrets` of the run, not only the step's own), and the run's git credentials (`password`,
`ssh-key`, `ssh-privatekey` of authSecretRef; not `username` or `known_hosts`, which are not
secret and would mask common words). A value is the key's `stringData` entry when present (as the
apiserver merges it), else its base64-decoded `data` entry. A missing Secret or key masks nothing
for it and logs a warning: the step could not have received the value either. StoreUnavailable
propagates (the caller retries later).
"""

from __future__ import annotations

import binascii
from base64 import b64decode

import structlog

from api.pipelineconfig import SecretEnv
from api.secret import Secret
from ports.resources import NotFound, ResourceStore

log = structlog.get_logger(__name__)
AUTH_KEYS = ("password", "ssh-key", "ssh-privatekey")


async def secret_values(
    store: ResourceStore, namespace: str, refs: list[SecretEnv], auth_secret_ref: str | None
) -> list[bytes]:
    wanted = [(r.secret_ref, r.key) for r in refs]
    if auth_secret_ref:
        wanted += [(auth_secret_ref, key) for key in AUTH_KEYS]
    secrets: dict[str, Secret | None] = {}
    values: list[bytes] = []
    for name, key in wanted:
        if name not in secrets:
            secrets[name] = await _get(store, namespace, name)
        found = _value(secrets[name], key)
        if found is not None:
            values.append(found)
        elif name != auth_secret_ref:
            log.warning("log_shipper.secret_missing", secret=name, key=key, namespace=namespace)
    return values


async def _get(store: ResourceStore, namespace: str, name: str) -> Secret | None:
    try:
        return await store.get(Secret, namespace, name)
    except NotFound:
        return None


def _value(secret: Secret | None, key: str) -> bytes | None:
    if secret is None:
        return None
    if key in secret.string_data:
        return secret.string_data[key].encode()
    if key not in secret.data:
        return None
    try:
        return b64decode(secret.data[key], validate=True)
    except binascii.Error:
        return secret.data[key].encode()
