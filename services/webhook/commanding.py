"""Pull request comment commands in the webhook: publishing what a comment asks, and acting on the
notifier's decision. The webhook makes no call to a provider: it verifies and publishes
CommentCommand; the notifier (which holds the tokens) asks the provider whether the commenter may
write, reacts on the comment and publishes CommentCommandDecided; only an accepted decision is
acted on here, through the same run-creation path a pull request delivery takes.

- `/retest`: the pull request's head commit runs again, with the trigger a pull request delivery
  gives (event pull_request, number, target branch, head repository, fork, so a fork's code runs
  without secrets unless the connection says otherwise, or not at all with `Ignore`), after the
  config's branch filters. Runs are named from the comment id (`comment-<id>` stands for the
  delivery id in triggering.run_name): a redelivered decision, or the same comment delivered
  twice, finds its runs by name. Bounded: no run is created while the pull request already has an
  unfinished run of that commit (a flood of `/retest` starts one run at a time per pull request
  and commit), and a new run supersedes the pull request's older unfinished ones as a push does.
- `/cancel`: every unfinished run of that pull request, through that connection, is asked to
  cancel (spec.cancelRequested, as `c8s cancel` and superseding do).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from datetime import datetime

from adapters.runtime.structured_logging import get_logger
from api.pipelineconfig import PipelineConfig
from api.pipelinerun import PipelineRun
from api.repositoryconnection import RepositoryConnection
from events.command import CommentCommand, CommentCommandDecided
from events.subjects import command_filter
from ports.bus import Bus, Received
from ports.resources import AlreadyExists, NotFound, ResourceStore
from services.webhook.providers import PROVIDERS, Delivery, Refusal
from services.webhook.superseding import cancel_superseded, is_open
from services.webhook.triggering import branch_refusal, fork_refusal, plan_runs

DURABLE = "webhook-commands"
log = get_logger()


def command_event(at: datetime, connection: RepositoryConnection, delivery: Delivery) -> CommentCommand:
    """The CommentCommand a verified comment Delivery gives for one connection."""
    assert delivery.command is not None and delivery.number is not None
    return CommentCommand(
        at=at, provider=delivery.provider, namespace=connection.metadata.namespace,
        connection=connection.metadata.name, comment_id=delivery.comment_id[:64],
        command=delivery.command, delivery=delivery.delivery[:256], repository=delivery.identity[:512],
        number=delivery.number, commenter=delivery.actor[:255], commenter_id=delivery.commenter_id[:128],
        commit=delivery.commit, branch=delivery.branch[:255], target_branch=delivery.target_branch[:255],
        source_repository=delivery.source_repository[:2048], fork=delivery.fork,
    )  # fmt: skip


def pull_request_delivery(decided: CommentCommandDecided) -> Delivery:
    """The pull request delivery a retest stands for: its head, named by the comment."""
    return Delivery(
        provider=PROVIDERS[decided.provider].name, delivery=f"comment-{decided.comment_id}",
        kind="pull_request", repository_urls=(), commit=decided.commit, branch=decided.branch,
        actor=decided.commenter, target_branch=decided.target_branch, identity=decided.repository,
        number=decided.number, source_repository=decided.source_repository, fork=decided.fork,
    )  # fmt: skip


def of_pull_request(run: PipelineRun, connection: str, number: int) -> bool:
    trigger = run.spec.trigger
    return (
        trigger is not None
        and trigger.event == "pull_request"
        and trigger.connection == connection
        and trigger.number == number
    )


class Commands:
    """The consumer of CommentCommandDecided: creates or cancels the pull request's runs."""

    def __init__(self, store: ResourceStore, clock: Callable[[], datetime]) -> None:
        self.store, self.clock = store, clock

    async def handle(self, received: Received) -> None:
        decided = received.event
        if not isinstance(decided, CommentCommandDecided) or decided.verdict != "accepted":
            return
        runs = [
            r
            for r in await self.store.list(PipelineRun, decided.namespace)
            if of_pull_request(r, decided.connection, decided.number)
        ]
        if decided.command == "cancel":
            await self._cancel(decided.namespace, [r for r in runs if is_open(r)])
        else:
            await self._retest(decided, runs)

    async def _cancel(self, namespace: str, runs: Sequence[PipelineRun]) -> None:
        for run in runs:
            with contextlib.suppress(NotFound):
                await self.store.request_cancel(namespace, run.metadata.name)
        log.info("webhook.command_cancel", cancelled=[r.metadata.name for r in runs])

    async def _retest(self, decided: CommentCommandDecided, runs: Sequence[PipelineRun]) -> None:
        if not decided.commit or decided.provider not in PROVIDERS:
            return
        if any(is_open(r) and r.spec.commit == decided.commit for r in runs):
            log.info("webhook.command_retest_running", commit=decided.commit)
            return
        planned = await self._plan(decided)
        if isinstance(planned, Refusal):
            log.info("webhook.command_retest_refused", reason=planned.reason)
            return
        await asyncio.gather(*(self._create(run) for run in planned))
        config = await self.store.get(PipelineConfig, decided.namespace, planned[0].spec.pipeline_config_ref)
        if config.spec.cancel_superseded:
            await cancel_superseded(self.store, decided.namespace, planned)
        log.info("webhook.command_retest", runs=[r.metadata.name for r in planned])

    async def _plan(self, decided: CommentCommandDecided) -> list[PipelineRun] | Refusal:
        ns, name = decided.namespace, decided.connection
        try:
            connection = await self.store.get(RepositoryConnection, ns, name)
            config = await self.store.get(PipelineConfig, ns, connection.spec.pipeline_config_ref or "")
        except NotFound:
            return Refusal(
                status=422, reason=f"RepositoryConnection {ns}/{name} or its PipelineConfig is gone"
            )
        delivery = pull_request_delivery(decided)
        refused = fork_refusal(connection, delivery) or branch_refusal(config, delivery)
        return refused or plan_runs(connection, config, delivery, decided.at)

    async def _create(self, run: PipelineRun) -> None:
        with contextlib.suppress(AlreadyExists):
            await self.store.create(run)


async def serve_commands(bus: Bus, commands: Commands, stop: asyncio.Event) -> None:
    """Consume the notifier's decisions until `stop` is set."""
    await bus.consume(DURABLE, [command_filter("comment.decided")], commands.handle, stop)
