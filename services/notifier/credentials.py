"""Values the notifier reads from Secrets: the API token, the webhook secret. Pure.

The connection's authSecretRef holds git credentials (username/password, as the runner uses
them for the checkout) or an API token: the token is key `token`, else `password` (a GitHub or
GitLab personal access token, a Bitbucket app password); `username` makes Bitbucket use Basic auth.
The webhook secret is key `webhook-secret` of the webhookSecretRef, as the receiver reads it.
"""

from __future__ import annotations

import binascii
from base64 import b64decode

from api.secret import Secret
from services.notifier.providers import Credentials

TOKEN_KEYS = ("token", "password")
WEBHOOK_SECRET_KEY = "webhook-secret"


def credentials(secret: Secret) -> Credentials | None:
    """The API credentials in an auth secret, or None when it holds no token."""
    token = next((v for v in (secret_text(secret, k) for k in TOKEN_KEYS) if v), None)
    if token is None:
        return None
    return Credentials(token=token, username=secret_text(secret, "username") or "")


def secret_text(secret: Secret, key: str) -> str | None:
    """A Secret value as text (data is base64, stringData plain), None when absent or undecodable."""
    if key in secret.data:
        try:
            return b64decode(secret.data[key], validate=True).decode().strip()
        except (binascii.Error, UnicodeDecodeError):
            return None
    value = secret.string_data.get(key)
    return value.strip() if value is not None else None
