"""Secret values a step needs, read from the resource store at the moment it is prepared.

A Secret's value for a key is its `stringData` entry when present (as the apiserver merges it),
else the base64-decoded `data` entry. Step secrets become environment variables (secretRef, key,
envVar); the run's authSecretRef becomes git credentials (keys `username`/`password`, or `ssh-key`
with optional `known_hosts`). Values live in memory only: never in claims, events or logs.
"""

from __future__ import annotations

import binascii
from base64 import b64decode

from api.pipelineconfig import SecretEnv
from api.secret import Secret
from ports.resources import NotFound, ResourceStore
from services.runner.checkout import GitAuth


class MissingSecret(Exception):
    """A referenced Secret or key does not exist (the step fails: it cannot be configured)."""


async def step_secrets(store: ResourceStore, namespace: str, refs: list[SecretEnv]) -> dict[str, str]:
    """Environment variable -> value for the step's secret references."""
    cache: dict[str, Secret] = {}
    env: dict[str, str] = {}
    for ref in refs:
        if ref.secret_ref not in cache:
            cache[ref.secret_ref] = await _get(store, namespace, ref.secret_ref)
        env[ref.variable] = _required(cache[ref.secret_ref], ref.key)
    return env


async def git_auth(store: ResourceStore, namespace: str, name: str | None) -> GitAuth | None:
    if name is None:
        return None
    secret = await _get(store, namespace, name)
    auth = GitAuth(
        username=value(secret, "username"),
        password=value(secret, "password"),
        ssh_key=value(secret, "ssh-key") or value(secret, "ssh-privatekey"),
        known_hosts=value(secret, "known_hosts"),
    )
    if not auth.values():
        raise MissingSecret(f"secret {name} has neither username/password nor ssh-key")
    return auth


async def _get(store: ResourceStore, namespace: str, name: str) -> Secret:
    try:
        return await store.get(Secret, namespace, name)
    except NotFound:
        raise MissingSecret(f"secret {name} not found in namespace {namespace}") from None


def value(secret: Secret, key: str) -> str | None:
    if key in secret.string_data:
        return secret.string_data[key]
    if key not in secret.data:
        return None
    try:
        return b64decode(secret.data[key], validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise MissingSecret(f"secret {secret.metadata.name} key {key} is not base64 of UTF-8 text") from None


def _required(secret: Secret, key: str) -> str:
    found = value(secret, key)
    if found is None:
        raise MissingSecret(f"secret {secret.metadata.name} has no key {key}")
    return found
