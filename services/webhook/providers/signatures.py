"""Webhook authenticity checks, all in constant time.

GitHub (`X-Hub-Signature-256`) and Bitbucket Cloud (`X-Hub-Signature`) send `sha256=<hex>`, the
HMAC-SHA256 of the raw body keyed with the shared secret; GitLab sends the secret itself in
`X-Gitlab-Token`. An empty secret verifies nothing: a connection without one accepts no delivery.
The secret is key `webhook-secret` of the connection's webhookSecretRef (`secret_value`).
"""

from __future__ import annotations

import hashlib
import hmac
from base64 import b64decode

from api.secret import Secret

_PREFIX = "sha256="
SECRET_KEY = "webhook-secret"


def secret_value(secret: Secret) -> bytes:
    """The webhook secret: `data` (base64, as the apiserver stores it) or `stringData`."""
    if encoded := secret.data.get(SECRET_KEY):
        try:
            return b64decode(encoded, validate=True)
        except ValueError:
            return b""
    return secret.string_data.get(SECRET_KEY, "").encode()


def sign(secret: bytes, body: bytes) -> str:
    """The `sha256=<hex>` header value a provider sends for `body` (tests and the demo sign with it)."""
    return _PREFIX + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify_hmac(secret: bytes, body: bytes, signature: str) -> bool:
    """Whether `signature` is `sha256=<hex>` of the body under `secret`."""
    if not secret or not signature.startswith(_PREFIX):
        return False
    expected = sign(secret, body).encode()
    return hmac.compare_digest(expected, signature.strip().lower().encode("ascii", "replace"))


def verify_token(secret: bytes, token: str) -> bool:
    """Whether the token header equals the secret. GitLab strips line breaks from the token it
    sends, and a Secret made from a file often ends in one, so surrounding whitespace is ignored."""
    key = secret.strip()
    if not key:
        return False
    return hmac.compare_digest(key, token.strip().encode("utf-8", "replace"))
