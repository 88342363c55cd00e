"""The git providers c8s takes webhooks from, behind one shape (pure: no I/O).

`PROVIDERS[name]` gives `delivery_id(headers, body)` and three functions: `envelope(headers, body)`
(delivery id, event name and repository URLs, read before any signature can be checked),
`verify(headers, body, secret)` and `interpret(envelope, headers, body)` (the event as a Delivery,
several for a delivery carrying several refs, or a Refusal with its status).
Headers are passed with lower-case names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from services.webhook.providers import bitbucket, github, gitlab
from services.webhook.providers.model import Delivery, Envelope, Headers, ProviderName, Refusal, delivery_id


@dataclass(frozen=True)
class Provider:
    name: ProviderName
    delivery_headers: tuple[str, ...]
    envelope: Callable[[Headers, bytes], Envelope | Refusal]
    verify: Callable[[Headers, bytes, bytes], bool]
    interpret: Callable[[Envelope, Headers, bytes], Delivery | list[Delivery] | Refusal]

    def deliveries(self, env: Envelope, headers: Headers, body: bytes) -> list[Delivery] | Refusal:
        """The event as one Delivery per ref it carries (one, except a Bitbucket multi-ref push)."""
        parsed = self.interpret(env, headers, body)
        return [parsed] if isinstance(parsed, Delivery) else parsed

    def delivery_id(self, headers: Headers, body: bytes) -> str:
        """The delivery id, known even when the body cannot be read (for the rejection event)."""
        return delivery_id(headers, self.delivery_headers, body)


PROVIDERS: dict[str, Provider] = {
    m.NAME: Provider(
        name=m.NAME,
        delivery_headers=m.DELIVERY_HEADERS,
        envelope=m.envelope,
        verify=m.verify,
        interpret=m.interpret,
    )
    for m in (github, gitlab, bitbucket)
}

__all__ = ["PROVIDERS", "Delivery", "Envelope", "Headers", "Provider", "ProviderName", "Refusal"]
