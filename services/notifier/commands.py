"""Comment commands in the notifier (the process holding the provider tokens): the durable consumer
`notifier-commands` of CommentCommand.

Per command: the connection's API target (its authSecretRef's token) -> the provider's answer to
"may the commenter write?" -> for a GitHub `/retest`, the pull request's head (GET pulls/{n}: the
comment delivery carries none) -> CommentCommandDecided (accepted or refused, with the reason) ->
the answer on the comment: a `+1` (GitLab `thumbsup`) reaction when accepted, `confused` when
refused; on Bitbucket, which has no reactions, a reply saying which. Who may not write gets no
run and a `confused` reaction; a comment that is no command never gets here (the webhook answers
it 200 and publishes nothing), so other bots' commands (`/lgtm`, `/assign`) get no reaction.

Idempotent: the decision's Nats-Msg-Id is the comment's (events.subjects), so a redelivered
command decides once within the dedupe window, and whatever the window the runs it starts are
named from the comment (the webhook finds them by name). The answer on the comment is
at-least-once: a crash between the decision and the reaction repeats the reaction, which GitHub
and GitLab keep once (the repeat is answered 200 or 4xx and ignored); on Bitbucket it may repeat
the reply. 5xx/429/transport failures naks the message for later (RetryLater); a connection that
cannot be called (no token, no such Secret) is refused without an answer on the comment.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

import msgspec

from adapters.runtime.structured_logging import get_logger
from api.repositoryconnection import RepositoryConnection
from events.command import CommentCommand, CommentCommandDecided, Verdict
from events.subjects import command_filter
from ports.bus import Bus, Received, RetryLater, StopSignal
from ports.http import ApiUnavailable, HttpClient
from ports.resources import NotFound, ResourceStore
from services.notifier.connections import Target
from services.notifier.providers import comments
from services.notifier.reporting import connection_target

DURABLE = "notifier-commands"
log = get_logger()


class CommandDecider:
    def __init__(
        self, bus: Bus, store: ResourceStore, http: HttpClient, overrides: Mapping[str, str],
        clock: Callable[[], datetime],
    ) -> None:  # fmt: skip
        self.bus, self.store, self.http, self.clock = bus, store, http, clock
        self.overrides = dict(overrides)

    async def handle(self, received: Received) -> None:
        """Consumer handler: decide one CommentCommand, publish the decision, answer on the comment."""
        command = received.event
        if not isinstance(command, CommentCommand):
            return
        try:
            await self._decide(command)
        except ApiUnavailable as e:
            raise RetryLater(str(e), delay=max(e.retry_after, 1.0)) from e

    async def _decide(self, command: CommentCommand) -> None:
        target = await self._target(command)
        if not isinstance(target, Target):
            await self._publish(command, "refused", target)
            return
        reason, decided_on = await self._refusal(target, command), command
        if not reason and command.command == "retest":
            head = await self._head(target, command)
            reason = "" if head else f"pull request #{command.number} has no open head to run"
            decided_on = head or command
        decided = await self._publish(decided_on, "refused" if reason else "accepted", reason)
        await self._answer(target, decided)

    async def _target(self, command: CommentCommand) -> Target | str:
        """The connection's API target, or why there is none."""
        ns, name = command.namespace, command.connection
        try:
            conn = await self.store.get(RepositoryConnection, ns, name)
        except NotFound:
            return f"RepositoryConnection {ns}/{name} does not exist"
        target = await connection_target(self.store, conn, self.overrides, command.repository)
        if target is None:
            return f"RepositoryConnection {ns}/{name} has no authSecretRef: c8s cannot ask the provider"
        return target if isinstance(target, Target) else target.message

    async def _refusal(self, target: Target, command: CommentCommand) -> str:
        """Why the commenter may not command runs ("" when they may write to the repository)."""
        where = target.provider.locate(target.parts) or ""
        name = target.provider.name
        response = await self.http.send(
            comments.permission_request(name, target.api, where, target.creds, command)
        )
        if comments.may_write(name, response, command):
            return ""
        return f"{command.commenter or 'the commenter'} has no write access to {command.repository or where}"

    async def _head(self, target: Target, command: CommentCommand) -> CommentCommand | None:
        """The command with the pull request's head: from the payload, or GitHub's API."""
        if command.commit:
            return command
        where = target.provider.locate(target.parts) or ""
        response = await self.http.send(
            comments.head_request(target.api, where, target.creds, command.number)
        )
        head = comments.head_of(response)
        if head is None or not head.open or not head.commit:
            return None
        return msgspec.structs.replace(
            command, commit=head.commit, branch=head.branch, target_branch=head.target_branch,
            source_repository=head.source_repository, fork=head.fork,
        )  # fmt: skip

    async def _publish(self, command: CommentCommand, verdict: Verdict, reason: str) -> CommentCommandDecided:
        fields = msgspec.structs.asdict(command) | {"at": self.clock()}
        decided = CommentCommandDecided(**fields, verdict=verdict, reason=reason[:512])
        await self.bus.publish(decided)
        log.info("notifier.command_decided", command=command.command, verdict=decided.verdict, reason=reason)
        return decided

    async def _answer(self, target: Target, decided: CommentCommandDecided) -> None:
        """The reaction (or Bitbucket reply); a 4xx is logged, never retried."""
        accepted = decided.verdict == "accepted"
        text = f"c8s: /{decided.command} " + ("accepted." if accepted else f"refused: {decided.reason}.")
        where = target.provider.locate(target.parts) or ""
        request = comments.answer_request(
            target.provider.name, target.api, where, target.creds, decided, accepted, text
        )
        response = await self.http.send(request)
        if not response.ok:
            log.warning("notifier.command_answer_refused", status=response.status)


async def serve_commands(bus: Bus, decider: CommandDecider, stop: StopSignal) -> None:
    await bus.consume(DURABLE, [command_filter("comment.command")], decider.handle, stop)
