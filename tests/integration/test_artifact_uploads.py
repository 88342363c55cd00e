"""The artifact upload endpoint (services/job_watcher/uploads.py) with per-step tokens, over a real
S3 endpoint (moto server) and real HTTP, through the sidecar's client (adapters/artifact_uploads.py).

Covers: with its token a step's artifact lands in S3 under its own prefix; the same token is
refused (403) for another run's prefix and another namespace, after its expiry, and when tampered
with; no token is 401; reading an object or listing through the endpoint is refused (405) and the
client cannot read at all; an artifact past the size limit is refused (413) and leaves nothing;
in every refused case the victim's object is unchanged.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import aiohttp
import pytest

from adapters.artifact_uploads import TokenUploadStore, UploadRefusedByEndpoint
from adapters.object_store import FsspecObjectStore
from ports.objects import ObjectNotFound
from services.job_watcher.uploads import Uploads, listening
from steps.plans import StepRef
from steps.upload_grant import mint
from tests.support.s3_server import s3_client, s3_server

KEY = os.urandom(32)
NOW = 2_000_000_000.0
OURS = StepRef(namespace="team-a", run="app-1", uid="u-1", step="build", job_name="app-1-build")
VICTIM_KEY = "victim/release-1/u-9/build/artifacts/report.txt"
MAX_BYTES = 1000


@dataclass
class World:
    endpoint: str
    base: str
    env: dict[str, str]
    clock: list[float]

    def client(self, token: str) -> TokenUploadStore:
        return TokenUploadStore(self.endpoint, token, self.base)

    def object(self, key: str) -> bytes:
        return bytes(s3_client(self.env).cat(f"{self.base.removeprefix('s3://')}/{key}"))


@pytest.fixture(scope="module")
def s3() -> Iterator[tuple[dict[str, str], str]]:
    with s3_server("uploads") as server:
        yield server


@pytest.fixture
async def world(s3: tuple[dict[str, str], str], monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[World]:
    env, bucket = s3
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    base = f"s3://{bucket}/logs"
    store = FsspecObjectStore(base)
    await store.put(VICTIM_KEY, b"the victim's report\n")
    clock = [NOW]
    async with listening(Uploads(store, KEY, MAX_BYTES, lambda: clock[0]), "127.0.0.1", 0) as url:
        yield World(url, base, env, clock)


def token(expires: float = NOW + 600, ref: StepRef = OURS) -> str:
    return mint(KEY, ref, int(expires))


async def test_upload_inside_the_prefix_succeeds(world: World) -> None:
    """A step's token stores its artifact under its own prefix, with the URL the runner would report."""
    key = "team-a/app-1/u-1/build/artifacts/dist/app.txt"
    url = await world.client(token()).put(key, b"version 1\n")
    assert url == f"{world.base}/{key}"
    assert world.object(key) == b"version 1\n"


@pytest.mark.parametrize(
    "key", [VICTIM_KEY, "team-a/app-2/u-2/build/artifacts/report.txt", "team-a/app-1/u-1/build/log"]
)
async def test_keys_outside_the_prefix_are_refused(world: World, key: str) -> None:
    """Another namespace, another run of the same team and the step's log key are refused."""
    with pytest.raises(UploadRefusedByEndpoint, match="403 the upload token allows only keys under"):
        await world.client(token()).put(key, b"overwritten\n")
    assert world.object(VICTIM_KEY) == b"the victim's report\n"


async def test_expired_token_is_refused(world: World) -> None:
    """After the token's expiry nothing is stored, even under its own prefix."""
    world.clock[0] = NOW + 601
    key = "team-a/app-1/u-1/build/artifacts/late.txt"
    with pytest.raises(UploadRefusedByEndpoint, match="403 the upload token has expired"):
        await world.client(token()).put(key, b"late\n")
    assert not s3_client(world.env).exists(f"{world.base.removeprefix('s3://')}/{key}")


async def test_tampered_and_missing_tokens_are_refused(world: World) -> None:
    """A token re-signed with another key is 403; no token at all is 401."""
    forged = mint(b"guessed key", StepRef(namespace="victim", run="release-1", uid="u-9", step="build",
                                          job_name="x"), int(NOW + 600))
    with pytest.raises(UploadRefusedByEndpoint, match="403 the upload token's signature"):
        await world.client(forged).put(VICTIM_KEY, b"overwritten\n")
    with pytest.raises(UploadRefusedByEndpoint, match="401"):
        await world.client("").put(VICTIM_KEY, b"overwritten\n")
    assert world.object(VICTIM_KEY) == b"the victim's report\n"


async def test_reading_and_listing_are_refused(world: World) -> None:
    """The endpoint answers no GET (object or listing), and the client cannot read at all."""
    headers = {"Authorization": f"Bearer {token(ref=victim_ref())}"}
    async with aiohttp.ClientSession() as session:
        for path in (f"/artifacts/{VICTIM_KEY}", "/artifacts/", "/artifacts/victim/", "/"):
            async with session.get(world.endpoint + path, headers=headers) as response:
                assert response.status in (404, 405), path
                assert b"the victim's report" not in await response.read()
    with pytest.raises(ObjectNotFound):
        await world.client(token()).read(f"{world.base}/{VICTIM_KEY}")


async def test_too_big_is_refused_and_leaves_nothing(world: World) -> None:
    """An artifact over the limit is refused with 413 and no object appears."""
    key = "team-a/app-1/u-1/build/artifacts/big.bin"
    with pytest.raises(UploadRefusedByEndpoint, match="413"):
        await world.client(token()).put(key, b"x" * (MAX_BYTES + 1))
    assert not s3_client(world.env).exists(f"{world.base.removeprefix('s3://')}/{key}")


def victim_ref() -> StepRef:
    return StepRef(namespace="victim", run="release-1", uid="u-9", step="build", job_name="release-1-build")
