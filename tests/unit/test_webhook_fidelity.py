"""Provider fidelity of the webhook's parsers (issue 13, items 1, 4, 5, 7, 8), on the fixtures with
the one field each case is about changed.

Covers: a GitHub annotated tag runs the commit it points to (`head_commit.id`), not the tag object
(`after`); a Bitbucket push of two refs gives two deliveries (parts 0 and 1) and one deleted ref
among them is skipped; GitHub `create`, an organization's ping without a repository, GitLab `Note
Hook` and Bitbucket `pullrequest:fulfilled`/`rejected` are 200 no-ops; pull requests carry their
number, the provider's name of the repository and whether the head is in a fork (GitHub head repo,
GitLab source project, Bitbucket source repository).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from services.webhook.providers import PROVIDERS, Delivery, Envelope, Refusal
from tests.support.webhooks import lower, payload, request_for

SECRET = b"s3cret"
COMMIT = "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"
TAG_OBJECT = "7f3e6b2a9c1d4e5f60718293a4b5c6d7e8f90a1b"


def parse(name: str, body: dict[str, Any] | None = None, event: str = "") -> list[Delivery] | Refusal:
    raw = json.dumps(body).encode() if body is not None else None
    provider, headers, data = request_for(name, SECRET, "d-1", raw)
    hdrs = lower(headers)
    if event:
        key = {"github": "x-github-event", "gitlab": "x-gitlab-event", "bitbucket": "x-event-key"}[provider]
        hdrs[key] = event
    p = PROVIDERS[provider]
    env = p.envelope(hdrs, data)
    if isinstance(env, Refusal):
        return env
    assert isinstance(env, Envelope) and p.verify(hdrs, data, SECRET)
    return p.deliveries(env, hdrs, data)


def test_github_annotated_tag_runs_the_commit_it_points_to() -> None:
    """A tag push whose `after` is a tag object runs `head_commit.id` (issue 13.1)."""
    body = payload("github_push_tag") | {"after": TAG_OBJECT}
    [d] = parse("github_push_tag", body)  # type: ignore[misc]
    assert (d.kind, d.commit) == ("tag", COMMIT)


def test_bitbucket_multi_ref_push_gives_one_delivery_per_ref() -> None:
    """Two changed refs in one repo:push are two deliveries; a deleted ref among them is skipped
    (issue 13.4)."""
    body = payload("bitbucket_repo_push")
    change = body["push"]["changes"][0]
    other = json.loads(json.dumps(change))
    other["new"]["name"], other["new"]["target"]["hash"] = "release/2.0", "b" * 40
    body["push"]["changes"] = [change, {"new": None, "old": change["new"]}, other]
    found = parse("bitbucket_repo_push", body)
    assert isinstance(found, list)
    assert [(d.branch, d.part) for d in found] == [(change["new"]["name"], 0), ("release/2.0", 1)]


@pytest.mark.parametrize(
    ("fixture", "event"),
    [
        ("github_push", "create"),
        ("gitlab_merge_request_open", "Note Hook"),
        ("bitbucket_pullrequest_created", "pullrequest:fulfilled"),
        ("bitbucket_pullrequest_created", "pullrequest:rejected"),
    ],
)
def test_unhandled_events_are_200(fixture: str, event: str) -> None:
    """Events c8s does not act on are acknowledged with 200 (issue 13.5)."""
    found = parse(fixture, event=event)
    assert isinstance(found, Refusal) and found.status == 200


def test_an_organization_ping_without_repository_is_200() -> None:
    """A ping for an organization names no repository and is still a 200; a push without one is 400."""
    ping = {k: v for k, v in payload("github_ping").items() if k != "repository"}
    found = parse("github_ping", ping)
    assert isinstance(found, Refusal) and found.status == 200
    push = {k: v for k, v in payload("github_push").items() if k != "repository"}
    refused = parse("github_push", push)
    assert isinstance(refused, Refusal) and refused.status == 400


def test_github_pull_request_from_a_fork() -> None:
    """A head repo other than the base is a fork; the number and full_name are recorded."""
    body = payload("github_pull_request_opened")
    [same] = parse("github_pull_request_opened", body)  # type: ignore[misc]
    assert (same.fork, same.number, same.identity) == (False, body["number"], "octo-org/hello-world")
    body["pull_request"]["head"]["repo"]["full_name"] = "someone/hello-world"
    body["pull_request"]["head"]["repo"]["clone_url"] = "https://github.com/someone/hello-world.git"
    [fork] = parse("github_pull_request_opened", body)  # type: ignore[misc]
    assert (fork.fork, fork.source_repository) == (True, "https://github.com/someone/hello-world.git")


def test_gitlab_merge_request_from_a_fork() -> None:
    """A source project other than the target is a fork; the iid and full path are recorded."""
    body = payload("gitlab_merge_request_open")
    attributes = body["object_attributes"]
    attributes["source_project_id"] = attributes["target_project_id"]
    [same] = parse("gitlab_merge_request_open", body)  # type: ignore[misc]
    assert (same.fork, same.number, same.identity) == (False, attributes["iid"], "group/sub/app")
    attributes["source_project_id"] = attributes["target_project_id"] + 1
    [fork] = parse("gitlab_merge_request_open", body)  # type: ignore[misc]
    assert fork.fork and fork.source_repository == attributes["source"]["git_http_url"]


def test_bitbucket_pull_request_from_a_fork() -> None:
    """A source repository other than the destination is a fork, cloned from its own URL."""
    body = payload("bitbucket_pullrequest_created")
    [same] = parse("bitbucket_pullrequest_created", body)  # type: ignore[misc]
    assert (same.fork, same.number, same.identity) == (False, 7, "team-a/app")
    source = body["pullrequest"]["source"]["repository"]
    source["full_name"] = "someone/app"
    source["links"]["html"]["href"] = "https://bitbucket.org/someone/app"
    [fork] = parse("bitbucket_pullrequest_created", body)  # type: ignore[misc]
    assert (fork.fork, fork.source_repository) == (True, "https://bitbucket.org/someone/app")
