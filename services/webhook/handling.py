"""One webhook delivery, from raw request to reply: the receiver's decisions and their effects.

Order (each step answers and stops when it refuses): envelope (400) -> the repository's
RepositoryConnections for this provider (none: answered as a bad signature, 401 with the same body
after the same HMAC work, so nobody can enumerate repositories) -> signature per connection's Secret
(401) -> the event (400 malformed or no git ref name; 200 ignored, unhandled or ping) -> a recorded
delivery id: 200 "duplicate delivery" -> per ref and per connection: a replayed body (screening.py)
200, PipelineConfig (422 when missing), fork policy and branch filters (200), one PipelineRun per
matrix combination (AlreadyExists counts as created), older runs they supersede asked to cancel
(superseding.py) -> publish the decisions -> record the replay key and, once runs exist, the
delivery id -> 202 with the run names. A comment command (`/retest`, `/cancel`) is published as
CommentCommand per connection instead, and answered 202 (commanding.py acts on the decision).

Every decision is published as WebhookAccepted or WebhookRejected (one per connection; refusals
before a signature held are sampled, sampling.py). A store or bus failure is answered 503; the
provider's retry converges (runs found by name, events deduplicated, the delivery recorded last).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import msgspec
from msgspec import Struct, field

from api.pipelineconfig import PipelineConfig
from api.pipelinerun import PipelineRun
from api.repositoryconnection import RepositoryConnection
from api.secret import Secret
from events.command import CommentCommand
from events.webhook import WebhookAccepted, WebhookEvents, WebhookRejected
from ports.bus import Bus
from ports.deliveries import DeliveryLog
from ports.resources import AlreadyExists, NotFound, NotOnboarded, ResourceStore
from services.webhook.commanding import command_event
from services.webhook.providers import PROVIDERS, Delivery, Headers, Provider, Refusal
from services.webhook.providers.signatures import SECRET_KEY, secret_value
from services.webhook.sampling import RejectionSampler
from services.webhook.screening import guarded, ref_refusal, replay_key, replay_refusal
from services.webhook.superseding import cancel_superseded
from services.webhook.triggering import branch_refusal, delivery_key, fork_refusal, plan_runs

UNVERIFIED = "signature missing or invalid"
#: When several connections decide differently and none started runs, the reply is the first of these.
_PRIORITY = (422, 400, 200)
#: Bounds of a WebhookRejected's free-text fields (a request can put megabytes in them).
MAX_REASON = 512
MAX_URL = 256


@dataclass(frozen=True)
class Request:
    """The parts of an HTTP request the receiver decides on; `source` is the peer's address."""

    provider: str
    headers: Headers
    source: str = ""


class Reply(Struct, frozen=True, kw_only=True):
    """What the provider is answered."""

    status: int
    reason: str
    runs: list[str] = field(default_factory=list)


class Connections(Protocol):
    async def lookup(self, provider: str, keys: frozenset[str]) -> list[RepositoryConnection]:
        """The RepositoryConnections of `provider` whose repository has one of the keys."""
        ...


class Context(Struct, frozen=True, kw_only=True):
    """The identity of the delivery being handled, shared by every event it leads to."""

    provider: str
    delivery: str
    at: datetime
    repository: str = ""
    source: str = ""
    digest: str = ""

    def rejected(self, refusal: Refusal, connection: RepositoryConnection | None = None) -> WebhookRejected:
        ns, name = _where(connection)
        repository = connection.spec.repository if connection else self.repository
        return WebhookRejected(
            at=self.at, provider=self.provider, delivery=self.delivery, status=refusal.status,
            reason=refusal.reason[:MAX_REASON], namespace=ns, connection=name,
            repository=repository[:MAX_URL],
        )  # fmt: skip

    def accepted(
        self, connection: RepositoryConnection, delivery: Delivery, runs: list[str]
    ) -> WebhookAccepted:
        ns, name = _where(connection)
        return WebhookAccepted(
            at=self.at, provider=self.provider, delivery=self.delivery, event=delivery.kind,
            namespace=ns, connection=name, repository=connection.spec.repository,
            commit=delivery.commit, branch=delivery.branch, runs=runs,
        )  # fmt: skip


class Webhooks:
    """The receiver's logic over its ports; `handle` is called once per request."""

    def __init__(
        self,
        store: ResourceStore,
        bus: Bus,
        deliveries: DeliveryLog,
        connections: Connections,
        clock: Callable[[], datetime],
        sampler: RejectionSampler | None = None,
    ) -> None:
        self._store, self._bus, self._deliveries = store, bus, deliveries
        self._connections, self._clock = connections, clock
        self.sampler = sampler or RejectionSampler()

    async def handle(self, request: Request, body: bytes, digest: str = "") -> Reply:
        """Decide one delivery; `digest` is the body's hex SHA-256 when the reader computed it."""
        provider, headers = PROVIDERS[request.provider], request.headers
        ctx = self._context(request, provider.delivery_id(headers, body))
        env = guarded(provider.envelope, headers, body)
        if isinstance(env, Refusal):
            return await self._refuse_sampled(ctx, env)
        ctx = msgspec.structs.replace(
            ctx, repository=env.repository_urls[0], digest=digest or hashlib.sha256(body).hexdigest()
        )
        matching = await self._connections.lookup(provider.name, env.repository_keys)
        if not matching:
            return await self._unknown(ctx, provider, request, body)
        verified = await self._verified(ctx, provider, headers, body, matching)
        if not verified:
            return Reply(status=401, reason=UNVERIFIED)
        parsed = guarded(provider.deliveries, env, headers, body)
        if not isinstance(parsed, Refusal):
            parsed = next((r for d in parsed if (r := ref_refusal(d))), None) or parsed
        return await self._verified_delivery(ctx, parsed, verified)

    async def _unknown(self, ctx: Context, provider: Provider, request: Request, body: bytes) -> Reply:
        """A repository with no connection: answered as a bad signature, after the same work."""
        provider.verify(request.headers, body, secrets.token_bytes(32))
        reason = f"no {provider.name} RepositoryConnection for {ctx.repository[:MAX_URL]}"
        await self._refuse_sampled(ctx, Refusal(status=401, reason=reason))
        return Reply(status=401, reason=UNVERIFIED)

    async def too_large(self, request: Request, limit: int) -> Reply:
        """The 413 decision for a body over `limit` bytes (which was not read)."""
        provider = PROVIDERS[request.provider]
        ctx = self._context(request, provider.delivery_id(request.headers, b""))
        return await self._refuse_sampled(ctx, Refusal(status=413, reason=f"body larger than {limit} bytes"))

    def _context(self, request: Request, delivery: str) -> Context:
        return Context(provider=request.provider, delivery=delivery, at=self._clock(), source=request.source)

    async def _verified_delivery(
        self, ctx: Context, parsed: list[Delivery] | Refusal, connections: list[RepositoryConnection]
    ) -> Reply:
        if isinstance(parsed, Refusal):
            return await self._refuse(ctx, parsed, connections)
        if parsed[0].kind == "ping":
            return await self._refuse(
                ctx, Refusal(status=200, reason="pong: signature verified"), connections
            )
        key = delivery_key(ctx.provider, ctx.delivery)
        if await self._deliveries.seen(key):
            return await self._refuse_sampled(
                ctx, Refusal(status=200, reason="duplicate delivery"), connections
            )
        if parsed[0].kind == "comment":
            await self._publish([command_event(ctx.at, c, parsed[0]) for c in connections])
            await self._deliveries.record(key, ctx.at.isoformat().encode())
            return Reply(status=202, reason=f"/{parsed[0].command} queued: the notifier checks the commenter")
        replies = [await self._trigger(ctx, c, d) for d in parsed for c in connections]
        reply = combine(replies)
        if reply.status == 202:
            await self._deliveries.record(key, ctx.at.isoformat().encode())
        return reply

    async def _verified(
        self,
        ctx: Context,
        provider: Provider,
        headers: Headers,
        body: bytes,
        connections: list[RepositoryConnection],
    ) -> list[RepositoryConnection]:
        """The connections whose secret verifies the request; a 401 event for each of the others."""
        verified, rejected = [], []
        for connection in connections:
            secret, problem = await self._secret(connection)
            if not problem and not provider.verify(headers, body, secret):
                problem = "signature does not match the webhook secret"
            if problem:
                rejected.append(ctx.rejected(Refusal(status=401, reason=problem), connection))
            else:
                verified.append(connection)
        if rejected and self._sampled(ctx):
            await self._publish(rejected)
        return verified

    async def _secret(self, connection: RepositoryConnection) -> tuple[bytes, str]:
        """(secret, "") or (b"", why there is none)."""
        ref, ns = connection.spec.webhook_secret_ref, connection.metadata.namespace
        if not ref:
            return b"", "the RepositoryConnection has no webhookSecretRef: unsigned webhooks are refused"
        try:
            secret = await self._store.get(Secret, ns, ref)
        except NotFound:
            return b"", f"Secret {ns}/{ref} (webhookSecretRef) does not exist"
        except NotOnboarded as e:
            return b"", str(e)
        value = secret_value(secret)
        if not value:
            return b"", f"Secret {ns}/{ref} has no key {SECRET_KEY}"
        return value, ""

    async def _trigger(self, ctx: Context, connection: RepositoryConnection, delivery: Delivery) -> Reply:
        ns, name = _where(connection)
        replayed = replay_key(ctx.provider, ns, name, ctx.digest)
        if replay := replay_refusal(await self._deliveries.value(replayed), ctx.delivery, f"{ns}/{name}"):
            return await self._refuse_sampled(ctx, replay, [connection])
        config = await self._config(connection)
        if isinstance(config, Refusal):
            return await self._refuse(ctx, config, [connection])
        filtered = fork_refusal(connection, delivery) or branch_refusal(config, delivery)
        planned = filtered or plan_runs(connection, config, delivery, ctx.at)
        if isinstance(planned, Refusal):
            return await self._refuse(ctx, planned, [connection])
        runs = await asyncio.gather(*(self._create(run) for run in planned))
        if config.spec.cancel_superseded:
            await cancel_superseded(self._store, ns, planned)
        await self._deliveries.record(replayed, ctx.delivery.encode())
        await self._publish([ctx.accepted(connection, delivery, list(runs))])
        return Reply(status=202, reason="accepted", runs=list(runs))

    async def _config(self, connection: RepositoryConnection) -> PipelineConfig | Refusal:
        ref, ns = connection.spec.pipeline_config_ref, connection.metadata.namespace
        where = f"RepositoryConnection {ns}/{connection.metadata.name}"
        if not ref:
            return Refusal(status=422, reason=f"{where} has no pipelineConfigRef")
        try:
            return await self._store.get(PipelineConfig, ns, ref)
        except NotFound:
            return Refusal(
                status=422, reason=f"PipelineConfig {ns}/{ref} (pipelineConfigRef of {where}) does not exist"
            )

    async def _create(self, run: PipelineRun) -> str:
        """The run's name, whether this call or an earlier delivery of the same event created it."""
        with contextlib.suppress(AlreadyExists):
            await self._store.create(run)
        return run.metadata.name

    async def _refuse(
        self, ctx: Context, refusal: Refusal, connections: Sequence[RepositoryConnection]
    ) -> Reply:
        events = [ctx.rejected(refusal, c) for c in connections] or [ctx.rejected(refusal)]
        await self._publish(events)
        return Reply(status=refusal.status, reason=refusal.reason)

    async def _refuse_sampled(
        self, ctx: Context, refusal: Refusal, connections: Sequence[RepositoryConnection] = ()
    ) -> Reply:
        """A refusal anyone can provoke (before a signature held, or a replayed signed request):
        its events are published only when the sampler allows."""
        if self._sampled(ctx):
            return await self._refuse(ctx, refusal, connections)
        return Reply(status=refusal.status, reason=refusal.reason)

    def _sampled(self, ctx: Context) -> bool:
        return self.sampler.allow(ctx.provider, ctx.source, ctx.at.timestamp())

    async def _publish(self, events: Sequence[WebhookEvents | CommentCommand]) -> None:
        if events:
            await self._bus.publish_many(events)


def combine(replies: list[Reply]) -> Reply:
    """202 with every run when any connection started runs; else the most telling refusal."""
    runs = [name for reply in replies if reply.status == 202 for name in reply.runs]
    if any(reply.status == 202 for reply in replies):
        return Reply(status=202, reason="accepted", runs=list(dict.fromkeys(runs)))
    return min(replies, key=lambda r: _PRIORITY.index(r.status) if r.status in _PRIORITY else len(_PRIORITY))


def _where(connection: RepositoryConnection | None) -> tuple[str, str]:
    if connection is None:
        return "", ""
    return connection.metadata.namespace, connection.metadata.name
