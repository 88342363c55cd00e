"""Webhook registration: each RepositoryConnection with an auth secret gets c8s's webhook.

Idempotent: the provider's hooks are listed first, every page of them (up to MAX_PAGES), and one
whose URL is ours counts as registered (it may have been made by hand, or by an earlier run of this
code); only when none is found is one created, signed with the connection's webhook secret. The
outcome goes to `status.webhookRegistered` and `status.webhookURL`
(`<public url>/webhooks/<provider>`), written over the status as read (observedSequence kept, so the
projector's lastEvent is not undone; a write that loses a race is dropped by the store and the next
change of the object retries).

Driven by the connection watch (every ADDED/MODIFIED) and a periodic resync; a connection already
registered at the current URL is left alone. 4xx answers (bad token, unknown repository) mark
it not registered; an unavailable API leaves the status as it is for the next pass. Two
replicas racing on a new connection may both create the hook: the next pass finds both and
leaves them, harmlessly (deliveries are deduplicated by the receiver's delivery log).
"""

from __future__ import annotations

from collections.abc import Mapping

from msgspec.structs import replace

from adapters.runtime.structured_logging import get_logger
from api.repositoryconnection import RepositoryConnection, RepositoryConnectionStatus
from api.secret import Secret
from ports.http import ApiUnavailable, HttpClient
from ports.resources import NotFound, NotOnboarded, ResourceStore
from services.notifier.connections import Target, target_of
from services.notifier.credentials import WEBHOOK_SECRET_KEY, credentials, secret_text
from services.notifier.providers import HookSpec

log = get_logger()
#: Hook pages read at most (100 hooks each): a bound on a provider that always claims more.
MAX_PAGES = 20


def hook_url(public_url: str, provider: str) -> str:
    return f"{public_url.rstrip('/')}/webhooks/{provider}"


class Registrar:
    def __init__(
        self, store: ResourceStore, http: HttpClient, public_url: str, overrides: Mapping[str, str]
    ) -> None:
        self.store, self.http = store, http
        self.public_url, self.overrides = public_url, dict(overrides)

    async def on_connection(self, conn: RepositoryConnection) -> None:
        if not conn.spec.auth_secret_ref:
            return
        url = hook_url(self.public_url, conn.spec.provider)
        status = conn.status or RepositoryConnectionStatus()
        if status.webhook_registered and status.webhook_url == url:
            return
        registered = await self._register(conn, url)
        if registered is None or (status.webhook_registered == registered and status.webhook_url == url):
            return
        meta = conn.metadata
        written = replace(status, webhook_registered=registered, webhook_url=url)
        await self.store.patch_status(RepositoryConnection, meta.namespace, meta.name, written, uid=meta.uid)
        log.info("notifier.webhook", connection=meta.name, registered=registered, url=url)

    async def resync(self) -> None:
        for conn in await self.store.list(RepositoryConnection):
            await self.on_connection(conn)

    async def _register(self, conn: RepositoryConnection, url: str) -> bool | None:
        """True when the hook exists now, False when the provider refused, None when unreachable."""
        target = await self._target(conn)
        if target is None:
            return False
        hook = HookSpec(url=url, secret=await self._hook_secret(conn))
        provider = target.provider
        try:
            found = await self._listed(conn, target, url)
            if found is not None:
                return found
            created = await self.http.send(
                provider.create_hook_request(target.api, target.parts, target.creds, hook)
            )
        except ApiUnavailable as e:
            log.warning("notifier.webhook_unavailable", connection=conn.metadata.name, error=str(e))
            return None
        if not created.ok:
            log.warning(
                "notifier.webhook_create_refused", connection=conn.metadata.name, status=created.status
            )
        return created.ok

    async def _listed(self, conn: RepositoryConnection, target: Target, url: str) -> bool | None:
        """True when a page of hooks has `url`, False when listing is refused, None when absent."""
        for page in range(1, MAX_PAGES + 1):
            request = target.provider.list_hooks_request(target.api, target.parts, target.creds, page)
            listing = await self.http.send(request)
            if not listing.ok:
                name, status = conn.metadata.name, listing.status
                log.warning("notifier.webhook_list_refused", connection=name, status=status)
                return False
            if url in target.provider.hook_urls(listing):
                return True
            if not target.provider.more_hooks(listing):
                return None
        return None

    async def _target(self, conn: RepositoryConnection) -> Target | None:
        ref = conn.spec.auth_secret_ref
        assert ref is not None
        try:
            secret = await self.store.get(Secret, conn.metadata.namespace, ref)
        except NotFound:
            log.warning("notifier.webhook_no_secret", connection=conn.metadata.name, secret=ref)
            return None
        except NotOnboarded as e:
            log.warning("notifier.not_onboarded", connection=conn.metadata.name, error=str(e))
            return None
        target = target_of(conn, credentials(secret), self.overrides)
        if not isinstance(target, Target):
            log.warning("notifier.webhook_unreachable", connection=conn.metadata.name, reason=target.reason)
            return None
        return target

    async def _hook_secret(self, conn: RepositoryConnection) -> str:
        ref = conn.spec.webhook_secret_ref
        if not ref:
            return ""
        try:
            secret = await self.store.get(Secret, conn.metadata.namespace, ref)
        except NotFound:
            return ""
        return secret_text(secret, WEBHOOK_SECRET_KEY) or ""
