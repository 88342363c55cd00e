"""The notifier's pure parts: which status a run event calls for, contexts, descriptions, links,
the run facts folded from history, which connection a run belongs to, secrets, chat messages.

Covers: RunAccepted -> pending, RunFinished phases -> outcomes, silent events; matrix contexts
sorted by dimension; descriptions cut to 140 characters; run links; the facts fold (settled
transitions, events of another uid skipped); the run's connection (recorded, else api/triggers.py's
rule) and the repository as the provider named it;
API roots (public, self-hosted, overrides); tokens from `token`/`password`, base64 or stringData;
chat settings, filter and message; the notification events' message ids.
"""

from __future__ import annotations

from base64 import b64encode

from msgspec.structs import replace

from api.meta import ObjectMeta
from api.pipelinerun import PipelineRunSpec
from api.repositories import repository_parts
from api.repositoryconnection import RepositoryConnection, RepositoryConnectionSpec
from api.secret import Secret
from events import run as ev
from events.notification import NotificationFailed, NotificationSent
from events.subjects import message_id
from projections.run_progress import fold_run
from services.notifier import chat
from services.notifier.connections import Target, Unreachable, run_connection, target_of
from services.notifier.credentials import credentials
from services.notifier.providers import PROVIDERS, Credentials, api_base
from services.notifier.statuses import MAX_DESCRIPTION, context_name, report_for, run_url
from tests.support.runs import CONFIG, accepted, ident, requested


def finished(phase: ev.FinalPhase, message: str = "", second: int = 9) -> ev.RunFinished:
    return ev.RunFinished(config=CONFIG, phase=phase, reason=phase, message=message, **ident(second))


def sent(transition: str, channel: str = "commit-status") -> NotificationSent:
    return NotificationSent(channel=channel, transition=transition, **ident(10))  # type: ignore[arg-type]


def conn(name: str, repo: str, config: str | None = None, auth: str | None = "auth") -> RepositoryConnection:
    spec = RepositoryConnectionSpec(
        repository=repo, provider="github", pipeline_config_ref=config, auth_secret_ref=auth
    )
    return RepositoryConnection(metadata=ObjectMeta(namespace="team-a", name=name), spec=spec)


def test_accepted_reports_pending() -> None:
    """A RunAccepted calls for the pending transition."""
    report = report_for(accepted("test"))
    assert report is not None and (report.transition, report.outcome) == ("pending", "pending")


def test_finished_phases_map_to_outcomes() -> None:
    """Succeeded, Failed and Cancelled become succeeded, failed and cancelled final statuses."""
    outcomes = {p: report_for(finished(p)) for p in ("Succeeded", "Failed", "Cancelled")}
    assert {p: (r.transition, r.outcome) for p, r in outcomes.items() if r} == {
        "Succeeded": ("finished", "succeeded"),
        "Failed": ("finished", "failed"),
        "Cancelled": ("finished", "cancelled"),
    }


def test_other_events_report_nothing() -> None:
    """Requested, step and notification events call for no status."""
    assert report_for(requested()) is None
    assert report_for(ev.StepStarted(step="test", **ident(2))) is None
    assert report_for(sent("pending")) is None


def test_description_fits_github_limit() -> None:
    """A long failure message is cut to 140 characters with an ellipsis."""
    report = report_for(finished("Failed", message="x " * 300))
    assert report is not None
    assert len(report.description) == MAX_DESCRIPTION and report.description.endswith("…")


def test_context_names_config_and_sorted_matrix() -> None:
    """The context is c8s/<config>, plus the matrix values sorted by dimension."""
    assert context_name("app-ci", None) == "c8s/app-ci"
    assert context_name("app-ci", {"python": "3.12", "os": "linux"}) == "c8s/app-ci (os=linux, python=3.12)"


def test_run_url_joins_public_url() -> None:
    """The link is <public url>/runs/<namespace>/<run>, whatever the trailing slash."""
    assert run_url("https://ci.example.com/", "team-a", "r1") == "https://ci.example.com/runs/team-a/r1"


def test_facts_fold_settles_and_skips_other_uids() -> None:
    """Notifications settle their transition; events of an earlier run with the same name are ignored."""
    other = ev.RunFinished(config=CONFIG, phase="Failed", reason="x", **{**ident(0), "uid": "old"})
    folded = fold_run([other, requested(), accepted("test"), sent("pending")], uid="uid-1")
    assert folded.commit == "abcdef1" and folded.config == CONFIG
    assert folded.finished is None
    assert folded.is_settled("commit-status", "pending")
    assert not folded.is_settled("commit-status", "finished")


def test_the_recorded_connection_wins_over_the_rule() -> None:
    """The connection RunAccepted recorded is the run's; without one, api/triggers.py's rule on the spec."""
    first = conn("a", "https://example.com/org/app", config=CONFIG)
    recorded = conn("b", "https://example.com/org/app", config=CONFIG)
    ctx = fold_run([requested(), accepted("test")], uid="uid-1").ctx
    assert run_connection(ctx, [first, recorded]) is first
    assert run_connection(replace(ctx, connection="b"), [first, recorded]) is recorded
    assert run_connection(replace(ctx, connection="gone"), [first, recorded]) is None


def test_owner_and_repo_come_from_the_delivery_not_the_url() -> None:
    """A git:// clone URL names no owner/repo, but the provider's full_name does (issue 13.10)."""
    creds = Credentials(token="t")
    found = target_of(conn("a", "git://host/app.git"), creds, {"github": "http://api"}, "Org/App")
    assert isinstance(found, Target) and found.provider.locate(found.parts) == "Org/App"
    assert isinstance(target_of(conn("a", "git://host/app.git"), creds, {}), Unreachable)


def test_api_roots_public_self_hosted_and_overridden() -> None:
    """Public hosts use the public APIs, other hosts their own root, and overrides win."""
    gh, gl, bb = PROVIDERS["github"], PROVIDERS["gitlab"], PROVIDERS["bitbucket"]
    assert api_base(gh, "github.com", {}) == "https://api.github.com"
    assert api_base(gh, "ghe.corp", {}) == "https://ghe.corp/api/v3"
    assert api_base(gl, "gitlab.com", {}) == "https://gitlab.com/api/v4"
    assert api_base(gl, "git.corp", {"gitlab": "http://127.0.0.1:9/api/v4/"}) == "http://127.0.0.1:9/api/v4"
    assert api_base(bb, "bitbucket.org", {}) == "https://api.bitbucket.org/2.0"


def test_target_refuses_urls_that_name_no_repository_and_missing_tokens() -> None:
    """A GitHub URL without owner/repo, or a secret without a token, cannot be called."""
    creds = Credentials(token="t")
    bad = target_of(conn("a", "https://github.com/only-owner"), creds, {})
    assert isinstance(bad, Unreachable) and bad.reason == "UnsupportedRepository"
    missing = target_of(conn("a", "https://github.com/o/r"), None, {})
    assert isinstance(missing, Unreachable) and missing.reason == "NoToken"
    assert isinstance(target_of(conn("a", "https://github.com/o/r"), creds, {}), Target)


def test_gitlab_locates_nested_project_paths_url_encoded() -> None:
    """GitLab's :id is the whole project path, URL-encoded."""
    parts = repository_parts("https://gitlab.com/group/sub/app.git")
    assert parts is not None
    assert PROVIDERS["gitlab"].locate(parts) == "group%2Fsub%2Fapp"


def test_credentials_prefer_token_then_password() -> None:
    """`token` wins over `password`; base64 data and plain stringData both read; no key -> None."""
    b64 = b64encode(b"secret-pat").decode()
    assert credentials(Secret(data={"password": b64, "username": b64encode(b"me").decode()})) == Credentials(
        token="secret-pat", username="me"
    )
    assert credentials(Secret(string_data={"token": "tok", "password": "pw"})) == Credentials(token="tok")
    assert credentials(Secret(string_data={"ssh-key": "x"})) is None


def test_chat_settings_filter_and_message() -> None:
    """Failures-only by default; `all` takes every phase; the message links the run."""
    only_failures = chat.chat_settings(Secret(string_data={"slack-webhook-url": "https://hooks.example/x"}))
    everything = chat.chat_settings(
        Secret(string_data={"slack-webhook-url": "https://hooks.example/x", "slack-filter": "all"})
    )
    assert only_failures is not None and everything is not None
    assert not chat.wants(only_failures, finished("Succeeded")) and chat.wants(
        only_failures, finished("Failed")
    )
    assert chat.wants(everything, finished("Succeeded"))
    assert chat.chat_settings(Secret(string_data={"slack-filter": "all"})) is None
    message = chat.ChatMessage(
        namespace="team-a",
        run="r1",
        context="c8s/app-ci",
        commit="abcdef1234",
        branch="main",
        link="https://c/r",
    )
    request = chat.slack_request(everything, message, finished("Failed"))
    assert request.method == "POST" and request.url == "https://hooks.example/x"
    assert (
        request.json is not None and request.json["text"] == "c8s/app-ci failed on main@abcdef1 (team-a/r1)"
    )
    assert "<https://c/r|team-a/r1>" in str(request.json["blocks"])


def test_notification_message_ids_per_channel_and_transition() -> None:
    """Each (uid, channel, transition) has its own id, and Sent and Failed differ."""
    failed = NotificationFailed(
        channel="commit-status", transition="pending", status=401, reason="x", **ident(10)
    )
    ids = {message_id(sent("pending")), message_id(sent("finished")), message_id(sent("finished", "chat"))}
    assert len(ids | {message_id(failed)}) == 4
    assert message_id(sent("pending")) == "uid-1:notification.sent:commit-status:pending"


def test_matrix_spec_context() -> None:
    """A matrix run's context carries its combination."""
    spec = PipelineRunSpec(pipeline_config_ref=CONFIG, commit="abcdef1", matrix_index={"python": "3.12"})
    req = ev.RunRequested(spec=spec, **ident(0))
    folded = fold_run([req, accepted("test")], uid="uid-1")
    assert folded.ctx.spec is not None
    assert context_name(folded.ctx.config, folded.ctx.spec.matrix_index) == "c8s/app-ci (python=3.12)"
