"""The providers' request builders and the aiohttp client against fake provider APIs on loopback.

Covers: commit statuses on GitHub, GitLab (URL-encoded nested project) and Bitbucket with each
provider's state spelling and documented body, no request outside the documented shape; 401, 404
and 422 returned to the caller without retry; 429 with Retry-After waited for as asked; 5xx
retried with exponential backoff, then ApiUnavailable; a Retry-After beyond the client's patience
handed to the caller; GitLab's refusal of a repeated `pending` counted as accepted; Slack
messages; webhook hooks listed then created once, found on the next registration.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from adapters.http_client import AiohttpClient
from api.repositories import repository_parts
from ports.http import ApiUnavailable, HttpResponse, RetryPolicy
from services.notifier import chat
from services.notifier.providers import PROVIDERS, Credentials, HookSpec
from services.notifier.statuses import CommitStatus, Outcome
from tests.support.fake_providers import TOKEN, FakeProviders, Scripted

SHA = "0123456789abcdef0123456789abcdef01234567"
REPOS = {
    "github": "https://ghe.example/org/app",
    "gitlab": "https://gitlab.example/group/sub/app.git",
    "bitbucket": "https://bitbucket.org/team/app",
}
ROOTS = {"github": "/api/v3", "gitlab": "/api/v4", "bitbucket": "/2.0"}


class Sleeps:
    """Records the client's waits instead of taking them."""

    def __init__(self) -> None:
        self.taken: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.taken.append(seconds)


@pytest.fixture
async def fake() -> AsyncIterator[FakeProviders]:
    providers = FakeProviders()
    await providers.start()
    yield providers
    await providers.stop()


@pytest.fixture
async def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def client(sleeps: Sleeps) -> AsyncIterator[AiohttpClient]:
    http = AiohttpClient(RetryPolicy(attempts=3, base_delay=0.5, max_delay=5.0), sleep=sleeps)
    yield http
    await http.close()


def status(outcome: Outcome, context: str = "c8s/app-ci (python=3.12)") -> CommitStatus:
    return CommitStatus(
        commit=SHA,
        branch="main",
        outcome=outcome,
        context=context,
        description="Running",
        target_url="https://ci.example/runs/team-a/app-ci-1",
    )


async def post(
    fake: FakeProviders, client: AiohttpClient, provider: str, outcome: Outcome, token: str = TOKEN
) -> HttpResponse:
    api = PROVIDERS[provider]
    parts = repository_parts(REPOS[provider])
    assert parts is not None
    request = api.status_request(fake.url + ROOTS[provider], parts, status(outcome), Credentials(token=token))
    return await client.send(request)


@pytest.mark.parametrize(
    ("provider", "spelled"),
    [
        ("github", ["pending", "success", "failure", "error"]),
        ("gitlab", ["pending", "success", "failed", "canceled"]),
        ("bitbucket", ["INPROGRESS", "SUCCESSFUL", "FAILED", "STOPPED"]),
    ],
)
async def test_statuses_in_each_providers_spelling(
    fake: FakeProviders, client: AiohttpClient, provider: str, spelled: list[str]
) -> None:
    """Every outcome reaches the provider in its own spelling, in the documented shape."""
    outcomes: list[Outcome] = ["pending", "succeeded", "failed", "cancelled"]
    for outcome in outcomes:
        response = await post(fake, client, provider, outcome)
        assert response.status in (200, 201), response.text
    assert fake.states(provider) == spelled
    assert fake.violations == []
    assert {p.target_url for p in fake.statuses} == {"https://ci.example/runs/team-a/app-ci-1"}


@pytest.mark.parametrize("provider", ["github", "gitlab", "bitbucket"])
async def test_bad_token_is_401_without_retry(
    fake: FakeProviders, client: AiohttpClient, sleeps: Sleeps, provider: str
) -> None:
    """A wrong token is answered 401 and handed back at once."""
    response = await post(fake, client, provider, "pending", token="wrong")
    assert response.status == 401 and sleeps.taken == [] and len(fake.seen) == 1


async def test_unknown_repository_is_404(fake: FakeProviders, client: AiohttpClient) -> None:
    """A repository the provider does not know is answered 404."""
    parts = repository_parts("https://ghe.example/org/missing")
    assert parts is not None
    request = PROVIDERS["github"].status_request(
        fake.url + "/api/v3", parts, status("pending"), Credentials(token=TOKEN)
    )
    assert (await client.send(request)).status == 404


async def test_422_is_returned(fake: FakeProviders, client: AiohttpClient, sleeps: Sleeps) -> None:
    """A validation failure (422) is not retried."""
    fake.script(Scripted(422, body='{"message": "Validation Failed"}'))
    response = await post(fake, client, "github", "pending")
    assert response.status == 422 and sleeps.taken == []


async def test_429_waits_as_retry_after_says(
    fake: FakeProviders, client: AiohttpClient, sleeps: Sleeps
) -> None:
    """A 429 with Retry-After: 2 is retried after exactly 2 seconds, then succeeds once."""
    fake.script(Scripted(429, headers={"Retry-After": "2"}))
    response = await post(fake, client, "github", "pending")
    assert response.status == 201 and sleeps.taken == [2.0]
    assert fake.states("github") == ["pending"]


async def test_5xx_backs_off_then_gives_up(
    fake: FakeProviders, client: AiohttpClient, sleeps: Sleeps
) -> None:
    """Server errors are retried with doubling waits, and after the last attempt ApiUnavailable."""
    fake.script(Scripted(502), Scripted(503), Scripted(500))
    with pytest.raises(ApiUnavailable):
        await post(fake, client, "gitlab", "pending")
    assert sleeps.taken == [0.5, 1.0] and fake.statuses == []


async def test_5xx_then_success(fake: FakeProviders, client: AiohttpClient, sleeps: Sleeps) -> None:
    """One 500 then a 201: the status is stored once."""
    fake.script(Scripted(500))
    assert (await post(fake, client, "bitbucket", "succeeded")).status == 201
    assert fake.states("bitbucket") == ["SUCCESSFUL"] and sleeps.taken == [0.5]


async def test_long_retry_after_goes_to_the_caller(
    fake: FakeProviders, client: AiohttpClient, sleeps: Sleeps
) -> None:
    """A server asking for more than the client's patience is not waited for: its delay is raised."""
    fake.script(Scripted(429, headers={"Retry-After": "3600"}))
    with pytest.raises(ApiUnavailable) as raised:
        await post(fake, client, "github", "pending")
    assert raised.value.retry_after == 3600.0 and sleeps.taken == []


async def test_gitlab_repeated_pending_counts_as_accepted(fake: FakeProviders, client: AiohttpClient) -> None:
    """GitLab refuses a second identical pending with 400; the builder reads that as already there."""
    first = await post(fake, client, "gitlab", "pending")
    again = await post(fake, client, "gitlab", "pending")
    assert first.status == 201 and again.status == 400
    assert PROVIDERS["gitlab"].status_accepted(status("pending"), again)
    assert not PROVIDERS["gitlab"].status_accepted(status("succeeded"), again)
    assert fake.states("gitlab") == ["pending"]


async def test_slack_message(fake: FakeProviders, client: AiohttpClient) -> None:
    """A chat message is a Slack incoming-webhook body with text and blocks; unknown hooks 404."""
    from events.run import RunFinished
    from tests.support.runs import ident

    done = RunFinished(
        config="app-ci", phase="Failed", reason="StepFailed", message="test failed", **ident(5)
    )
    message = chat.ChatMessage(
        namespace="team-a", run="r1", context="c8s/app-ci", commit=SHA, branch="main", link=""
    )
    ok = chat.ChatSettings(webhook_url=f"{fake.url}/slack/T000/B000/XXXX")
    gone = chat.ChatSettings(webhook_url=f"{fake.url}/slack/T000/B000/GONE")
    assert (await client.send(chat.slack_request(ok, message, done))).status == 200
    assert (await client.send(chat.slack_request(gone, message, done))).status == 404
    assert fake.slack[0].text.startswith("c8s/app-ci failed") and fake.violations == []


@pytest.mark.parametrize("provider", ["github", "gitlab", "bitbucket"])
async def test_hooks_listed_then_created_once(
    fake: FakeProviders, client: AiohttpClient, provider: str
) -> None:
    """The list answer is read for URLs; a created hook is found by the next listing."""
    api, parts = PROVIDERS[provider], repository_parts(REPOS[provider])
    assert parts is not None
    root, creds = fake.url + ROOTS[provider], Credentials(token=TOKEN)
    hook = HookSpec(url=f"https://ci.example/webhooks/{provider}", secret="shh")
    assert api.hook_urls(await client.send(api.list_hooks_request(root, parts, creds))) == []
    assert (await client.send(api.create_hook_request(root, parts, creds, hook))).status == 201
    assert api.hook_urls(await client.send(api.list_hooks_request(root, parts, creds))) == [hook.url]
    assert fake.violations == []
