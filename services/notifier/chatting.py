"""Chat messages for finished runs, per the namespace's `c8s-notifications` Secret (chat.py).

Settled like commit statuses (NotificationSent/Failed, channel `chat`), so a message goes out once
per run; a webhook that answers 4xx (a revoked URL) is recorded as NotificationFailed.
"""

from __future__ import annotations

from adapters.runtime.structured_logging import get_logger
from api.secret import Secret
from events.notification import NoticeFields, NotificationFailed, NotificationSent
from events.run import RunFinished
from ports.bus import Bus
from ports.http import HttpClient
from ports.resources import NotFound, NotOnboarded, ResourceStore
from projections.run_progress import RunProgress
from services.notifier import chat
from services.notifier.connections import refusal_reason
from services.notifier.reporting import Clock, excerpt
from services.notifier.statuses import context_name, run_url

log = get_logger()


class ChatNotifier:
    def __init__(
        self, bus: Bus, store: ResourceStore, http: HttpClient, public_url: str, clock: Clock
    ) -> None:
        self.bus, self.store, self.http, self.clock = bus, store, http, clock
        self.public_url = public_url

    async def finished(self, run: RunProgress, finished: RunFinished) -> None:
        if run.is_settled("chat", "finished") or run.ctx.spec is None:
            return
        settings = await self._settings(finished.namespace)
        if settings is None or not chat.wants(settings, finished):
            return
        message = self._message(run)
        response = await self.http.send(chat.slack_request(settings, message, finished))
        fields = NoticeFields(
            namespace=finished.namespace,
            run=finished.run,
            uid=finished.uid,
            at=self.clock(),
            channel="chat",
            transition="finished",
            target="slack",
            state=finished.phase,
            context=message.context,
        )
        if response.ok:
            await self.bus.publish(NotificationSent(**fields))
        else:
            reason, text = refusal_reason(response.status), excerpt(response)
            await self.bus.publish(
                NotificationFailed(status=response.status, reason=reason, message=text, **fields)
            )
        log.info("notifier.chat", status=response.status)

    def _message(self, run: RunProgress) -> chat.ChatMessage:
        ctx, spec = run.ctx, run.ctx.spec
        assert spec is not None
        return chat.ChatMessage(
            namespace=ctx.namespace,
            run=ctx.run,
            context=context_name(ctx.config, spec.matrix_index),
            commit=spec.commit,
            branch=spec.branch,
            link=run_url(self.public_url, ctx.namespace, ctx.run) if self.public_url else "",
        )

    async def _settings(self, namespace: str) -> chat.ChatSettings | None:
        try:
            secret = await self.store.get(Secret, namespace, chat.SECRET_NAME)
        except NotFound:
            return None
        except NotOnboarded as e:
            log.warning("notifier.not_onboarded", namespace=namespace, error=str(e))
            return None
        return chat.chat_settings(secret)
