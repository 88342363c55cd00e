"""Comment commands, the pure parts: reading a command in a comment, each provider's comment
payload as a Delivery or a 200 no-op, and the notifier's request builders and answer readers.

Covers: a command is a line of its own (`/retest`, `/cancel`, any case, surrounding blanks), the
first one wins, other slash words (`/lgtm`) and inline mentions are none; GitHub comments on issues,
edited comments and comments without a command are 200, GitLab notes on commits and edited notes
are 200, a Bitbucket comment without a command is 200; the permission questions, reactions and
replies have the documented paths and bodies; write access is admin/write/maintain on GitHub,
access level 30 and up on GitLab, and on Bitbucket only a row for the commenter's own uuid counts
(a filter the server ignored lends nobody another's permission); GitHub's pull request gives the
head, fork and open state.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from events.command import CommentCommand
from ports.http import HttpResponse
from services.notifier.providers import comments
from services.notifier.providers.model import Credentials
from services.webhook.providers import PROVIDERS, Delivery, Refusal
from services.webhook.providers.model import command_in
from tests.support.webhooks import FIXTURES, headers_for, lower

CORPUS = FIXTURES / "corpus"
SECRET = b"s3cret"
CREDS = Credentials(token="t")
FILES = {
    "github": ("issue_comment_on_pull_request_retest", "issue_comment"),
    "gitlab": ("note_on_merge_request_cancel", "Note Hook"),
    "bitbucket": ("pullrequest_comment_created", "pullrequest:comment_created"),
}


def parse(provider: str, change: Any = None) -> list[Delivery] | Refusal:
    name, event = FILES[provider]
    data = json.loads((CORPUS / provider / f"{name}.json").read_text())
    if change is not None:
        change(data)
    body = json.dumps(data).encode()
    headers = lower(headers_for(provider, event, body, SECRET, "d-1"))
    p = PROVIDERS[provider]
    env = p.envelope(headers, body)
    assert not isinstance(env, Refusal)
    return p.deliveries(env, headers, body)


def command(**fields: Any) -> CommentCommand:
    base: dict[str, Any] = dict(
        at="2026-01-01T00:00:00Z", provider="github", namespace="team-a", connection="app",
        comment_id="17", command="retest", number=2, commenter="octo", commenter_id="{u-1}",
    )  # fmt: skip
    return CommentCommand(**(base | fields))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/retest", "retest"),
        ("  /CANCEL \r\n", "cancel"),
        ("flaky again\n/retest\n/cancel", "retest"),
        ("please /retest", None),
        ("/retest now", None),
        ("/lgtm\n/assign @me", None),
        ("", None),
    ],
)
def test_a_command_is_a_line_of_its_own(text: str, expected: str | None) -> None:
    """Only a line that is exactly a known command counts; the first one wins."""
    assert command_in(text) == expected


@pytest.mark.parametrize("provider", sorted(FILES))
def test_each_providers_command_comment_is_a_comment_delivery(provider: str) -> None:
    """The documented comment with a command gives one comment Delivery with its ids."""
    [delivery] = parse(provider)  # type: ignore[misc]
    assert delivery.kind == "comment" and delivery.command in ("retest", "cancel")
    assert delivery.comment_id and delivery.commenter_id and delivery.number


@pytest.mark.parametrize(
    ("provider", "change"),
    [
        ("github", lambda d: d.update(action="edited")),
        ("github", lambda d: d["issue"].pop("pull_request")),
        ("github", lambda d: d["comment"].update(body="/lgtm")),
        ("gitlab", lambda d: d["object_attributes"].update(noteable_type="Commit")),
        ("gitlab", lambda d: d["object_attributes"].update(action="update")),
        ("bitbucket", lambda d: d["comment"]["content"].update(raw="LGTM, thanks")),
    ],
    ids=["gh-edited", "gh-issue", "gh-other-command", "gl-commit-note", "gl-edited", "bb-plain"],
)
def test_comments_that_command_nothing_are_200(provider: str, change: Any) -> None:
    """Edits, issue and commit comments and comments without a command are 200 no-ops."""
    parsed = parse(provider, change)
    assert isinstance(parsed, Refusal) and parsed.status == 200


def test_permission_requests_have_the_documented_paths() -> None:
    """GitHub asks the collaborator's permission, GitLab the member, Bitbucket the filtered list."""
    cmd = command(commenter="octo cat", commenter_id="{d301aafa-d676}")
    gh = comments.permission_request("github", "https://api", "org/app", CREDS, cmd)
    gl = comments.permission_request(
        "gitlab", "https://gl/api/v4", "g%2Fapp", CREDS, command(commenter_id="7")
    )
    bb = comments.permission_request("bitbucket", "https://bb/2.0", "team/app", CREDS, cmd)
    assert gh.url == "https://api/repos/org/app/collaborators/octo%20cat/permission" and gh.method == "GET"
    assert gl.url == "https://gl/api/v4/projects/g%2Fapp/members/all/7"
    assert bb.url == (
        "https://bb/2.0/workspaces/team/permissions/repositories/app?q=user.uuid%3D%22%7Bd301aafa-d676%7D%22"
    )


@pytest.mark.parametrize(
    ("provider", "status", "body", "writes"),
    [
        ("github", 200, {"permission": "write"}, True),
        ("github", 200, {"permission": "admin"}, True),
        ("github", 200, {"permission": "read"}, False),
        ("github", 404, {"message": "Not Found"}, False),
        ("gitlab", 200, {"access_level": 30}, True),
        ("gitlab", 200, {"access_level": 20}, False),
        ("bitbucket", 200, {"values": [{"permission": "write", "user": {"uuid": "{u-1}"}}]}, True),
        ("bitbucket", 200, {"values": [{"permission": "admin", "user": {"uuid": "{someone-else}"}}]}, False),
        ("bitbucket", 200, {"values": []}, False),
        ("bitbucket", 403, {"type": "error"}, False),
    ],
)
def test_who_may_write(provider: str, status: int, body: Any, writes: bool) -> None:
    """Write access as each provider's answer states it; anything else is no access."""
    response = HttpResponse(status=status, content=json.dumps(body).encode())
    assert comments.may_write(provider, response, command()) is writes


def test_answers_on_the_comment() -> None:
    """+1/confused reactions on GitHub, thumbsup/confused awards on GitLab, a reply on Bitbucket."""
    cmd = command(comment_id="492700400", number=2)
    gh = comments.answer_request("github", "https://api", "org/app", CREDS, cmd, True, "")
    gl = comments.answer_request("gitlab", "https://gl", "g%2Fapp", CREDS, cmd, False, "")
    bb = comments.answer_request("bitbucket", "https://bb", "team/app", CREDS, cmd, False, "no")
    assert (gh.url, gh.json) == (
        "https://api/repos/org/app/issues/comments/492700400/reactions",
        {"content": "+1"},
    )
    assert (gl.url, gl.json) == (
        "https://gl/projects/g%2Fapp/merge_requests/2/notes/492700400/award_emoji",
        {"name": "confused"},
    )
    assert (bb.url, bb.json) == (
        "https://bb/repositories/team/app/pullrequests/2/comments",
        {"content": {"raw": "no"}, "parent": {"id": 492700400}},
    )


def test_github_pull_request_head() -> None:
    """The head commit, branches, fork and open state of GitHub's pull request answer."""
    pull = {
        "state": "closed",
        "head": {"ref": "fix", "sha": "ABC1234", "repo": {"full_name": "fork/app", "clone_url": "https://f"}},
        "base": {"ref": "main", "repo": {"full_name": "org/app"}},
    }
    head = comments.head_of(HttpResponse(status=200, content=json.dumps(pull).encode()))
    assert head == comments.Head(
        commit="abc1234",
        branch="fix",
        target_branch="main",
        source_repository="https://f",
        fork=True,
        open=False,
    )
    assert comments.head_of(HttpResponse(status=404)) is None
