"""`c8s dev up --demo`: a whole pipeline run for a newcomer to watch, from a signed webhook on.

1. a sample git repository under DIR/demo/repo gets a new commit (c8s/dev/demo_repo.py);
2. `git daemon` serves it on a free loopback port (git://), supervised like the services;
3. the example manifests for it are validated and applied (c8s/dev/demo_manifests.py), and kept in
   DIR/demo/manifests.yaml;
4. a GitHub push delivery, signed with the connection's webhook secret, is POSTed to the webhook
   (retried while the webhook does not know the new connection yet);
5. the runs it started are watched to the end: step progress and logs on the terminal, and their
   dashboard pages' URLs printed.
The demo never stops `dev up`: a failure is reported and everything keeps running.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

from adapters.jetstream.server import free_port
from c8s import any_kind
from c8s.dev.demo_manifests import manifests
from c8s.dev.demo_repo import BRANCH, daemon_argv, ensure_repo
from c8s.dev.github_push import ZERO_SHA, push_headers, push_payload
from c8s.dev.readiness import accepts, wait_until
from c8s.dev.run_progress import watch_runs
from c8s.dev.state_dir import HOST, Layout, shown
from c8s.dev.supervisor import ChildSpec, Supervisor, status_line
from c8s.failures import CliError
from c8s.instance import connected
from c8s.manifests import load

Say = Callable[[str], None]
NAMESPACE = "default"
#: The webhook learns new RepositoryConnections by watching them: give it this long.
DELIVERY_DEADLINE = 30.0


async def run(layout: Layout, supervisor: Supervisor, say: Say) -> None:
    try:
        await _demo(layout, supervisor, say)
    except (CliError, RuntimeError, OSError, aiohttp.ClientError, TimeoutError) as e:
        say(f"demo: failed: {e}")


async def _demo(layout: Layout, supervisor: Supervisor, say: Say) -> None:
    base = layout.home / "demo"
    sha = await asyncio.to_thread(ensure_repo, base / "repo")
    say(f"demo: repository {base / 'repo'} at commit {sha[:12]} on {BRANCH}")
    url = await _serve_repository(base, layout, supervisor, say)
    secret = await _apply_manifests(base, url, layout, say)
    names = await _send_push(url, sha, secret, layout, say)
    for name in names:
        say(f"demo: watch it at {layout.dashboard_url}/runs/{NAMESPACE}/{name}")
    async with connected(layout.nats_url, env=_cli_env(layout)) as instance:
        await watch_runs(instance.store, layout.object_store_url, NAMESPACE, names, say)
    _hints(layout, names, say)


async def _serve_repository(base: Path, layout: Layout, supervisor: Supervisor, say: Say) -> str:
    port = free_port(HOST)
    spec = ChildSpec(
        name="git-daemon", argv=daemon_argv(base, port), env={}, log_path=layout.log_of("git-daemon")
    )
    child = await supervisor.start(spec)
    say(status_line(child, shown(spec.log_path)))
    await wait_until(lambda: accepts(HOST, port), "git daemon", 10.0, say)
    url = f"git://{HOST}:{port}/repo"
    say(f"demo: git daemon serves {url}")
    return url


async def _apply_manifests(base: Path, url: str, layout: Layout, say: Say) -> bytes:
    secret = secrets.token_hex(16)
    path = base / "manifests.yaml"
    path.write_text(manifests(url, secret, f"demo-token-{secrets.token_hex(8)}", NAMESPACE))
    objs, errors = load([str(path)], None)
    if errors:
        raise CliError("; ".join(errors))
    async with connected(layout.nats_url, env=_cli_env(layout)) as instance:
        for obj in objs:
            await any_kind.apply(instance.store, obj)
            say(f"demo: applied {obj.kind.lower()}/{obj.metadata.name}")
    return secret.encode()


async def _send_push(url: str, sha: str, secret: bytes, layout: Layout, say: Say) -> list[str]:
    """POST a signed push until the webhook accepts it (202); the names of the runs it started."""
    body = push_payload(url, BRANCH, ZERO_SHA, sha, datetime.now(UTC))
    endpoint = f"{layout.webhook_url}/webhooks/github"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DELIVERY_DEADLINE
    delivery = str(uuid.uuid4())  # kept across retries, as a provider does: a new id would be a replay
    async with aiohttp.ClientSession() as session:
        while True:
            async with session.post(
                endpoint, data=body, headers=push_headers(secret, body, delivery)
            ) as resp:
                status, reply = resp.status, await resp.text()
            if status == 202:
                names: list[str] = json.loads(reply).get("runs", [])
                say(f"demo: POST {endpoint} (push, delivery {delivery}) -> 202, runs: {', '.join(names)}")
                return names
            if status not in (404, 503) or loop.time() > deadline:
                raise CliError(f"the webhook answered {status}: {reply.strip()}")
            await asyncio.sleep(0.5)


def _cli_env(layout: Layout) -> dict[str, str]:
    """The CLI's identity (the demo applies and reads as the CLI would)."""
    return layout.credentials.env_of("cli") if layout.credentials is not None else {}


def _hints(layout: Layout, names: list[str], say: Say) -> None:
    say("demo: done. Try, in another terminal (after the export lines above):")
    say("  c8s get pr")
    for name in names[:1]:
        say(f"  c8s logs {name}")
        say(f"  c8s events {name}")
    say("c8s keeps running; Ctrl-C stops everything.")
