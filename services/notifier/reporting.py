"""Commit statuses: post a run's transition to its provider, once, and record the outcome.

A transition is settled by the NotificationSent or NotificationFailed published after the
provider answered; settled transitions are never posted again (see service.py for the crash
window). 4xx answers and connections that cannot be called (no token, no such secret, a URL
that names no repository) become NotificationFailed; 5xx/429 surface as ApiUnavailable from the
HTTP client, for the consumer to retry later.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from msgspec.structs import replace

from adapters.runtime.structured_logging import get_logger
from api.repositoryconnection import RepositoryConnection
from api.secret import Secret
from events.notification import NoticeFields, NotificationFailed, NotificationSent
from ports.bus import Bus
from ports.http import HttpClient, HttpResponse
from ports.resources import NotFound, NotOnboarded, ResourceStore
from projections.run_progress import RunProgress
from services.notifier.connections import Target, Unreachable, refusal_reason, run_connection, target_of
from services.notifier.credentials import credentials
from services.notifier.statuses import CommitStatus, Report, context_name, run_url

log = get_logger()
Clock = Callable[[], datetime]
MAX_MESSAGE = 500


class StatusReporter:
    def __init__(
        self,
        bus: Bus,
        store: ResourceStore,
        http: HttpClient,
        public_url: str,
        overrides: Mapping[str, str],
        clock: Clock,
    ) -> None:
        self.bus, self.store, self.http, self.clock = bus, store, http, clock
        self.public_url, self.overrides = public_url, dict(overrides)

    async def report(self, run: RunProgress, report: Report, *, again: bool = False) -> bool:
        """Post the transition's status unless settled (or `again`); True when the provider took it."""
        if not run.commit or (run.is_settled("commit-status", report.transition) and not again):
            return False
        target = await self.target(run)
        if target is None:
            return False
        status = self.status(run, report)
        if isinstance(target, Unreachable):
            fields = self._fields(run, report, "", "", status)
            await self.bus.publish(
                NotificationFailed(status=0, reason=target.reason, message=target.message, **fields)
            )
            log.warning("notifier.unreachable", reason=target.reason, transition=report.transition)
            return False
        return await self._post(run, report, target, status)

    async def target(self, run: RunProgress) -> Target | Unreachable | None:
        """Where the run's statuses go; None when the run's repository is not connected for it."""
        conn = run_connection(run.ctx, await self.store.list(RepositoryConnection, run.ctx.namespace))
        if conn is None:
            return None
        trigger = run.ctx.spec.trigger if run.ctx.spec is not None else None
        return await connection_target(
            self.store, conn, self.overrides, trigger.repository if trigger else None
        )

    def status(self, run: RunProgress, report: Report) -> CommitStatus:
        ctx, spec = run.ctx, run.ctx.spec
        assert spec is not None
        return CommitStatus(
            commit=spec.commit,
            branch=spec.branch,
            outcome=report.outcome,
            context=context_name(run.config, spec.matrix_index),
            description=report.description,
            target_url=run_url(self.public_url, ctx.namespace, ctx.run) if self.public_url else "",
        )

    async def _post(self, run: RunProgress, report: Report, target: Target, status: CommitStatus) -> bool:
        provider = target.provider
        request = provider.status_request(target.api, target.parts, status, target.creds)
        # A pending status is never retried in place: the retry could land after the final one.
        response = await self.http.send(replace(request, retry=report.transition != "pending"))
        fields = self._fields(run, report, provider.name, provider.state(status), status)
        if provider.status_accepted(status, response):
            await self.bus.publish(NotificationSent(**fields))
            log.info("notifier.status_sent", transition=report.transition, state=fields["state"])
            return True
        reason, message = refusal_reason(response.status), excerpt(response)
        await self.bus.publish(
            NotificationFailed(status=response.status, reason=reason, message=message, **fields)
        )
        log.warning("notifier.status_refused", transition=report.transition, status=response.status)
        return False

    def _fields(
        self, run: RunProgress, report: Report, target: str, state: str, status: CommitStatus
    ) -> NoticeFields:
        ctx = run.ctx
        return NoticeFields(
            namespace=ctx.namespace,
            run=ctx.run,
            uid=ctx.uid,
            at=self.clock(),
            channel="commit-status",
            transition=report.transition,
            target=target,
            state=state,
            context=status.context,
        )


async def connection_target(
    store: ResourceStore, conn: RepositoryConnection, overrides: Mapping[str, str], identity: str | None
) -> Target | Unreachable | None:
    """Where the connection's API calls go and with which token; None without an authSecretRef."""
    ns, ref = conn.metadata.namespace, conn.spec.auth_secret_ref
    if not ref:
        return None
    try:
        secret = await store.get(Secret, ns, ref)
    except NotFound:
        return Unreachable(reason="SecretNotFound", message=f"Secret {ref!r} not found in namespace {ns!r}")
    except NotOnboarded as e:
        return Unreachable(reason="NotOnboarded", message=str(e))
    return target_of(conn, credentials(secret), overrides, identity or None)


def excerpt(response: HttpResponse) -> str:
    """The start of an answer's body, for the event's message (never the request: it has tokens)."""
    return " ".join(response.text.split())[:MAX_MESSAGE]
