"""Checkout with credentials: a repository over HTTP that demands Basic auth (git's dumb HTTP
protocol, served as static files by aiohttp on loopback), cloned with username/password from the
RepositoryConnection's authSecretRef.

Covers: the right credentials check out the commit; missing or wrong ones fail as CheckoutFailed
with git's error and the password redacted; through the runner, the Secret named by the run's
auth_secret_ref is used and its password appears in no event.
"""

from __future__ import annotations

import base64
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web

from adapters.jetstream.bus import NatsBus
from adapters.jetstream.kv.store import KvStore
from adapters.jetstream.server import NatsServer
from adapters.object_store import FsspecObjectStore
from api.meta import ObjectMeta
from api.pipelineconfig import Step
from api.secret import Secret
from events.codec import encode
from events.subjects import run_subject
from services.runner.checkout import CheckoutFailed, GitAuth, checkout
from tests.integration.conftest import bus_settings
from tests.support.git_daemon import GitRepo, git
from tests.support.runner_harness import NS, RunnerEnv, finished, run_events, running, stop_leftovers

USER, PASSWORD = "alice", "pa55-w0rd-xyz"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest.fixture
async def http_repo(tmp_path: Path) -> AsyncIterator[tuple[str, str]]:
    """(URL, commit) of a bare repository served over HTTP behind Basic auth."""
    repo = GitRepo.create(tmp_path / "src")
    sha = repo.commit({"hello.txt": "hello\n"}, "hello")
    served = tmp_path / "srv" / "app.git"
    git("clone", "--quiet", "--bare", str(repo.path), str(served))
    git("update-server-info", cwd=served)
    app = web.Application(middlewares=[_basic_auth])
    app.router.add_static("/", tmp_path / "srv")
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}/app.git", sha
    await runner.cleanup()


@web.middleware
async def _basic_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    if request.headers.get("Authorization") != expected:
        return web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="git"'})
    return await handler(request)


def _base_env() -> dict[str, str]:
    return {"PATH": os.environ["PATH"]}


async def test_username_password_check_out_the_commit(http_repo: tuple[str, str], tmp_path: Path) -> None:
    """With the Secret's username and password git gets through Basic auth."""
    url, sha = http_repo
    workspace = tmp_path / "ws" / "workspace"
    auth = GitAuth(username=USER, password=PASSWORD)
    await checkout(url, sha, workspace, auth=auth, base_env=_base_env(), time_limit=30)
    assert (workspace / "hello.txt").read_text() == "hello\n"


@pytest.mark.parametrize("auth", [None, GitAuth(username=USER, password="wrong-" + PASSWORD)])
async def test_missing_or_wrong_credentials_fail_without_leaking(
    http_repo: tuple[str, str], tmp_path: Path, auth: GitAuth | None
) -> None:
    """Without the right password the checkout fails with git's message, never the password itself."""
    url, sha = http_repo
    with pytest.raises(CheckoutFailed) as failed:
        await checkout(
            url, sha, tmp_path / "ws" / "workspace", auth=auth, base_env=_base_env(), time_limit=30
        )
    assert "git clone failed" in str(failed.value)
    assert PASSWORD not in str(failed.value)


@pytest.fixture
async def env(nats_server: NatsServer, tmp_path: Path) -> AsyncIterator[RunnerEnv]:
    bus = await NatsBus.connect(bus_settings(nats_server))
    await bus.ensure_streams()
    store = KvStore.from_connection(bus.connection)
    await store.ensure_buckets()
    yield RunnerEnv(
        bus=bus, store=store, objects=FsspecObjectStore((tmp_path / "o").as_uri()), home=tmp_path / "h"
    )
    await stop_leftovers(tmp_path / "h")
    await bus.close()


async def test_the_runner_checks_out_with_the_auth_secret(env: RunnerEnv, http_repo: tuple[str, str]) -> None:
    """The run's auth_secret_ref (a Secret with base64 data) authenticates the runner's clone."""
    url, sha = http_repo
    data = {
        k: base64.b64encode(v.encode()).decode() for k, v in {"username": USER, "password": PASSWORD}.items()
    }
    await env.store.create(Secret(metadata=ObjectMeta(name="git-creds", namespace=NS), data=data))
    step = Step(name="build", image="alpine:3", commands=["cat hello.txt"])
    await env.bus.publish_many(run_events(step, repository=url, commit=sha, auth_secret_ref="git-creds"))
    async with running(env.runner()):
        done = await finished(env.bus, "build")
    assert (done.exit_code, done.reason) == (0, "Completed")
    assert env.files("app-ci-1", "uid-1", "build").log.read_text() == "hello\n"
    stored = await env.bus.history(run_subject(NS, "app-ci-1"))
    assert stored and all(PASSWORD.encode() not in encode(r.event) for r in stored)
