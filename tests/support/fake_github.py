"""A fake GitHub API (tests.support.fake_providers) served from its own thread, for sync e2e tests
that run `c8s dev up`, and GitHub's documented push payload for the repository it knows (org/app).
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from pathlib import Path

from tests.support.fake_providers import FakeProviders
from tests.support.webhooks import headers_for

ORG_APP = "https://github.com/org/app"


class FakeGitHub:
    """FakeProviders served from a thread with its own event loop (the test itself is sync)."""

    def __init__(self) -> None:
        self.fake = FakeProviders()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> FakeGitHub:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.fake.start(), self.loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.fake.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def push_to_org_app(commit: str, key: bytes) -> tuple[bytes, dict[str, str]]:
    """GitHub's documented push payload, for repository org/app (the one the fake API knows)."""
    text = (Path(__file__).parents[1] / "fixtures" / "webhooks" / "github_push.json").read_text()
    data = json.loads(text.replace("octo-org/hello-world", "org/app"))
    data.update(ref="refs/heads/main", after=commit)
    body = json.dumps(data).encode()
    return body, headers_for("github", "push", body, key, str(uuid.uuid4()))
