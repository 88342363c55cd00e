"""The webhook's pure decisions: runs planned from a delivery, names, labels, keys, the connection
index, how several connections' replies combine, and webhook message ids.

Covers: one run without a matrix and one per combination with one (exclude applied, matrixIndex
set); deterministic names that fit 63 characters and differ per delivery and combination; labels
that are valid label values whatever the delivery id; branch filters with the reason; branch name
length; the delivery-log key; secrets from data or stringData; index upsert/move/delete and lookup
across namespaces; reply combination; message ids per connection and decision.
"""

from __future__ import annotations

import re
from base64 import b64encode
from datetime import UTC, datetime

import msgspec

from api.meta import ObjectMeta
from api.pipelineconfig import Matrix, PipelineConfig, PipelineConfigSpec, Step
from api.pipelinerun import PipelineRun
from api.repositoryconnection import RepositoryConnection, RepositoryConnectionSpec
from api.secret import Secret
from events.subjects import message_id
from events.webhook import WebhookAccepted, WebhookRejected
from ports.resources import WatchEvent
from services.webhook.handling import Reply, combine, secret_value
from services.webhook.index import ConnectionIndex
from services.webhook.providers import Delivery, Refusal
from services.webhook.triggering import branch_refusal, delivery_key, label_value, plan_runs, run_name

AT = datetime(2026, 1, 1, 12, tzinfo=UTC)
SHA = "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"
NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def config(
    name: str = "app-ci", branches: list[str] | None = None, matrix: Matrix | None = None
) -> PipelineConfig:
    spec = PipelineConfigSpec(
        repository="https://github.com/octo-org/hello-world",
        branches=branches or ["**"],
        steps=[Step(name="test", image="alpine", commands=["true"])],
        matrix=matrix,
    )
    return PipelineConfig(metadata=ObjectMeta(name=name, namespace="team-a"), spec=spec)


def connection(
    name: str = "hello", ns: str = "team-a", repo: str = "https://github.com/octo-org/hello-world"
) -> RepositoryConnection:
    spec = RepositoryConnectionSpec(
        repository=repo, provider="github", webhook_secret_ref="s", pipeline_config_ref="app-ci"
    )
    return RepositoryConnection(metadata=ObjectMeta(name=name, namespace=ns), spec=spec)


def delivery(id_: str = "d-1", branch: str = "main", actor: str = "octocat") -> Delivery:
    return Delivery(
        provider="github", delivery=id_, kind="push", repository_urls=("https://github.com/octo-org/hello-world",),
        commit=SHA, branch=branch, actor=actor,
    )  # fmt: skip


def runs(cfg: PipelineConfig, d: Delivery | None = None) -> list[PipelineRun]:
    planned = plan_runs(connection(), cfg, d or delivery(), AT)
    assert isinstance(planned, list)
    return planned


def test_one_run_without_matrix() -> None:
    """Without a matrix a delivery plans one run carrying commit, branch, actor and time."""
    [run] = runs(config())
    assert run.metadata.namespace == "team-a"
    assert (run.spec.pipeline_config_ref, run.spec.commit, run.spec.branch) == ("app-ci", SHA, "main")
    assert (run.spec.triggered_by, run.spec.triggered_at, run.spec.matrix_index) == ("octocat", AT, None)
    assert run.metadata.labels == {
        "c8s.dev/config": "app-ci",
        "c8s.dev/delivery": "d-1",
        "c8s.dev/provider": "github",
    }


def test_one_run_per_matrix_combination() -> None:
    """A 2x2 matrix with one exclusion plans three runs, each with its own matrixIndex and name."""
    matrix = Matrix(
        dimensions={"go": ["1.21", "1.22"], "os": ["linux", "mac"]}, exclude=[{"go": "1.21", "os": "mac"}]
    )
    planned = runs(config(matrix=matrix))
    assert [r.spec.matrix_index for r in planned] == [
        {"go": "1.21", "os": "linux"}, {"go": "1.22", "os": "linux"}, {"go": "1.22", "os": "mac"},
    ]  # fmt: skip
    assert len({r.metadata.name for r in planned}) == 3


def test_names_are_deterministic_and_distinct() -> None:
    """The same delivery gives the same name; another delivery of the same commit another name."""
    assert runs(config())[0].metadata.name == runs(config())[0].metadata.name
    assert runs(config())[0].metadata.name != runs(config(), delivery("d-2"))[0].metadata.name
    name = runs(config())[0].metadata.name
    assert name.startswith("app-ci-0d1a26e-") and len(name) == len("app-ci-0d1a26e-") + 8


def test_long_config_names_fit_63() -> None:
    """A config name near 253 characters (with dots) still gives a valid name of at most 63."""
    long = ".".join(["a" * 60] * 4)
    name = run_name(long, delivery(), {"x": "y"})
    assert len(name) <= 63 and NAME_RE.match(name)
    assert name != run_name(long, delivery(), {"x": "z"})


def test_label_values() -> None:
    """Valid label values pass through; anything else becomes a stable valid digest."""
    assert label_value("72d3162e-cc78-11e3-81ab-4c9367dc0958") == "72d3162e-cc78-11e3-81ab-4c9367dc0958"
    for odd in ("{uuid}", "a" * 64, "", "sha256-" + "f" * 40 + "/x"):
        value = label_value(odd)
        assert value == label_value(odd) and re.match(r"^[A-Za-z0-9][-A-Za-z0-9_.]{0,61}[A-Za-z0-9]$", value)


def test_odd_delivery_ids_still_plan_valid_runs() -> None:
    """A delivery id with braces and spaces gives a digest label and keeps the raw id in an annotation."""
    [run] = runs(config(), delivery("{a b}"))
    assert run.metadata.labels["c8s.dev/delivery"].startswith("h-")
    assert run.metadata.annotations["c8s.dev/delivery-id"] == "{a b}"


def test_actor_defaults_to_provider() -> None:
    """A delivery without an actor is triggered by `<provider>-webhook`."""
    assert runs(config(), delivery(actor=""))[0].spec.triggered_by == "github-webhook"


def test_branch_filters() -> None:
    """A branch outside spec.branches is a 200 naming the branch and the filters; inside, no refusal."""
    cfg = config(branches=["main", "release/*"])
    assert branch_refusal(cfg, delivery(branch="release/1.0")) is None
    refusal = branch_refusal(cfg, delivery(branch="feature/x"))
    assert refusal is not None and refusal.status == 200
    assert "'feature/x'" in refusal.reason and "release/*" in refusal.reason


def test_pull_request_filtered_by_target_branch() -> None:
    """A pull request from feature/x into main passes `branches: [main]`; one into develop does not."""
    cfg = config(branches=["main"])
    pr = Delivery(
        provider="github", delivery="d", kind="pull_request", repository_urls=(), commit=SHA,
        branch="feature/x", target_branch="main",
    )  # fmt: skip
    assert branch_refusal(cfg, pr) is None
    refusal = branch_refusal(cfg, Delivery(**{**msgspec.structs.asdict(pr), "target_branch": "develop"}))
    assert refusal is not None and "'develop'" in refusal.reason


def test_overlong_branch_is_400() -> None:
    """A branch name longer than PipelineRun.spec.branch allows is refused before any run."""
    planned = plan_runs(connection(), config(), delivery(branch="b" * 256), AT)
    assert isinstance(planned, Refusal) and planned.status == 400


def test_delivery_keys() -> None:
    """UUID-like ids are kept; ids with characters a KV key cannot hold become a digest."""
    assert delivery_key("github", "72d3162e-cc78") == "github.72d3162e-cc78"
    key = delivery_key("bitbucket", "{a.b c}")
    assert key.startswith("bitbucket.h-") and re.match(r"^[-/_=.a-zA-Z0-9]+$", key)


def test_secret_value_from_data_or_string_data() -> None:
    """The webhook secret is read from base64 `data`, else `stringData`; bad base64 gives none."""
    assert secret_value(Secret(data={"webhook-secret": b64encode(b"k").decode()})) == b"k"
    assert secret_value(Secret(string_data={"webhook-secret": "k"})) == b"k"
    assert secret_value(Secret(data={"webhook-secret": "!!"})) == b""
    assert secret_value(Secret(data={"other": "aw=="})) == b""


def test_index_lookup_across_namespaces() -> None:
    """Connections naming one repository in any form are all found, in namespace/name order."""
    a = connection("x", "ns-b", "git@github.com:octo-org/hello-world.git")
    b = connection("y", "ns-a", "https://GITHUB.com/octo-org/hello-world/")
    index = ConnectionIndex([a, b, connection("z", "ns-a", "https://github.com/other/repo")])
    assert index.lookup({"github.com/octo-org/hello-world"}) == [b, a]


def test_index_follows_watch_events() -> None:
    """MODIFIED moves a connection to its new repository; DELETED removes it."""
    index = ConnectionIndex([connection()])
    moved = connection(repo="https://github.com/octo-org/other")
    index.apply(WatchEvent(type="MODIFIED", object=moved))
    assert index.lookup({"github.com/octo-org/hello-world"}) == []
    assert index.lookup({"github.com/octo-org/other"}) == [moved]
    index.apply(WatchEvent(type="DELETED", object=moved))
    assert len(index) == 0 and index.lookup({"github.com/octo-org/other"}) == []


def test_combine_replies() -> None:
    """Any 202 wins with every run (once); otherwise a 422 outranks a 400, which outranks a 200."""
    ok1, ok2 = (
        Reply(status=202, reason="accepted", runs=["a"]),
        Reply(status=202, reason="accepted", runs=["a", "b"]),
    )
    filtered, missing = Reply(status=200, reason="filtered"), Reply(status=422, reason="missing")
    assert combine([filtered, ok1, ok2]).runs == ["a", "b"]
    assert combine([filtered, missing]).status == 422
    assert combine([filtered]).reason == "filtered"


def test_webhook_message_ids_per_connection_and_decision() -> None:
    """One delivery's decisions for two connections, or two decisions for one, have distinct ids;
    the same decision published twice has one id."""

    def accepted(ns: str) -> WebhookAccepted:
        return WebhookAccepted(
            at=AT,
            provider="github",
            delivery="d-1",
            event="push",
            namespace=ns,
            connection="c",
            repository="r",
        )

    def rejected(status: int, reason: str) -> WebhookRejected:
        return WebhookRejected(
            at=AT,
            provider="github",
            delivery="d-1",
            status=status,
            reason=reason,
            namespace="a",
            connection="c",
        )

    acc_a, acc_b = accepted("a"), accepted("b")
    rej_a, dup_a = rejected(401, "bad"), rejected(200, "duplicate delivery")
    ids = [message_id(e) for e in (acc_a, acc_b, rej_a, dup_a)]
    assert len(set(ids)) == 4
    assert message_id(acc_a) == message_id(accepted("a"))
