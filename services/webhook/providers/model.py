"""What a provider's request means, independent of the provider: a Delivery, or a Refusal.

Every provider module turns (headers, raw body) into these in two pure steps: `envelope` reads only
what is needed to find the RepositoryConnection (the delivery id, the event name, the repository
URLs) before any signature can be checked; `interpret` reads the event itself, after the signature
held. A Refusal carries the HTTP status to answer: 400 for bad input, 200 for deliveries that are
well-formed but start nothing (a ping, a branch deletion, a closed pull request, an event c8s
does not act on: providers count any other answer as a failed delivery, and GitLab disables a hook
after four in a row). One delivery may carry several refs (a Bitbucket push): `interpret` then
gives one Delivery per ref, each with its own `part`. A pull request comment holding a command
(`/retest`, `/cancel` on a line of its own, as Prow and Pipelines-as-Code read them) is a Delivery
of kind `comment`; any other comment is a 200 that starts nothing.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Literal, TypeVar

import msgspec
from msgspec import Struct

from services.webhook.providers.urls import normalise_repo_url

ProviderName = Literal["github", "gitlab", "bitbucket"]
EventKind = Literal["push", "tag", "pull_request", "ping", "comment"]
Command = Literal["retest", "cancel"]
#: Request headers with lower-case names (the HTTP layer lower-cases them).
Headers = Mapping[str, str]

T = TypeVar("T")
ZERO_SHA = re.compile(r"^0+$")
_SHA = re.compile(r"^[0-9a-f]{7,40}$")
_COMMAND = re.compile(r"^\s*/(retest|cancel)\s*$", re.IGNORECASE | re.MULTILINE)
#: A comment longer than this is not searched for a command (a command is a line of its own).
MAX_COMMENT = 65536


class Refusal(Struct, frozen=True, kw_only=True):
    """The delivery starts nothing; `status` is what the provider is answered, `reason` why."""

    status: int
    reason: str


class Envelope(Struct, frozen=True, kw_only=True):
    """What is known before the signature is checked."""

    provider: ProviderName
    delivery: str
    event: str
    repository_urls: tuple[str, ...]
    #: The repository as the provider names it (GitHub/Bitbucket full_name, GitLab's full path).
    identity: str = ""

    @property
    def repository_keys(self) -> frozenset[str]:
        keys = (normalise_repo_url(url) for url in self.repository_urls)
        return frozenset(key for key in keys if key)


class Delivery(Struct, frozen=True, kw_only=True):
    """A verified event that may start runs: which commit, on which branch (or tag), by whom."""

    provider: ProviderName
    delivery: str
    kind: EventKind
    repository_urls: tuple[str, ...]
    commit: str = ""
    branch: str = ""
    actor: str = ""
    #: A pull request's base (target) branch: the branch filters apply to it, as CI systems do.
    target_branch: str = ""
    #: The repository as the provider names it (the notifier's owner/repo), from the Envelope.
    identity: str = ""
    #: A pull request's number (GitLab: the merge request's iid).
    number: int | None = None
    #: Clone URL of the repository holding a pull request's head, and whether it is a fork.
    source_repository: str = ""
    fork: bool = False
    #: Which ref of a multi-ref delivery this is (0 for the first, the only one elsewhere).
    part: int = 0
    #: A comment's command, the provider's id of the comment and of its author's account.
    command: Command | None = None
    comment_id: str = ""
    commenter_id: str = ""

    @property
    def filtered_branch(self) -> str:
        """The branch `spec.branches` is matched against: the target of a pull request, else `branch`."""
        return self.target_branch or self.branch


def command_in(text: str) -> Command | None:
    """The first command of a comment: a line that is `/retest` or `/cancel` (any case)."""
    found = _COMMAND.search(text[:MAX_COMMENT])
    if found is None:
        return None
    return "retest" if found.group(1).lower() == "retest" else "cancel"


def no_command(provider: str) -> Refusal:
    """A 200 for a comment that asks nothing of c8s (most comments, and other bots' commands)."""
    return Refusal(status=200, reason=f"{provider} comment holds no /retest or /cancel: nothing to do")


def header(headers: Headers, name: str) -> str:
    return headers.get(name.lower(), "").strip()


def delivery_id(headers: Headers, names: tuple[str, ...], body: bytes) -> str:
    """The first of the named headers present; else a digest of the body, which a provider's
    retry repeats byte for byte, so a retried delivery is still recognised."""
    for name in names:
        if value := header(headers, name):
            return value[:256]
    return "sha256-" + hashlib.sha256(body).hexdigest()[:40]


def decode(body: bytes, shape: type[T], what: str) -> T | Refusal:
    """The body as `shape`, or a 400 saying which field is missing or wrong."""
    try:
        return msgspec.json.decode(body, type=shape)
    except msgspec.ValidationError as e:
        return Refusal(status=400, reason=f"malformed {what} payload: {e}")
    except msgspec.DecodeError as e:
        return Refusal(status=400, reason=f"malformed JSON body: {e}")


def commit_sha(value: str, where: str) -> str | Refusal:
    """A commit id as PipelineRun.spec.commit takes it (lower-case hex, 7 to 40 characters)."""
    sha = value.strip().lower()
    if not _SHA.match(sha):
        return Refusal(status=400, reason=f"{where} is not a commit SHA: {value[:64]!r}")
    return sha


def unsupported(provider: str, event: str, supported: tuple[str, ...]) -> Refusal:
    """A 200 for a well-formed event c8s does not act on (a provider retries, and may disable the
    hook after, anything else)."""
    reason = f"{provider} event {event[:64]!r} starts nothing: c8s acts on {', '.join(supported)}"
    return Refusal(status=200, reason=reason)


def same_repository(a: str, b: str) -> bool:
    """Whether two provider names of a repository (owner/repo) are one: providers ignore case."""
    return a.strip().lower() == b.strip().lower()


def urls(*candidates: str | None) -> tuple[str, ...]:
    return tuple(dict.fromkeys(u for u in candidates if u))


def split_ref(ref: str) -> tuple[EventKind | None, str]:
    """("push", branch) for refs/heads/..., ("tag", name) for refs/tags/..., else (None, ref)."""
    prefixes: tuple[tuple[str, EventKind], ...] = (("refs/heads/", "push"), ("refs/tags/", "tag"))
    for prefix, kind in prefixes:
        if ref.startswith(prefix) and len(ref) > len(prefix):
            return kind, ref.removeprefix(prefix)
    return None, ref
