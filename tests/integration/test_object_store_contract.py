"""The ObjectStore contract (ports/objects.py), run against adapters.object_store on `file://` (a temp
dir) and on a real S3 endpoint (moto's server mode on loopback, reached through s3fs).

Covers: put/read round trip and stable URLs; streaming writes of many chunks (past S3's multipart
threshold); nothing visible under the key before close, and nothing after abort or a writer that
was never closed; rewriting a key replaces the object; a missing object raises ObjectNotFound;
invalid keys are refused; chunks() streams an object in bounded pieces (and a missing one is
ObjectNotFound before any piece); an unreachable endpoint is ObjectStoreUnavailable; the S3 endpoint and
credentials are taken from the standard AWS_* environment variables.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import s3fs
from moto.server import ThreadedMotoServer

from adapters.object_store import FsspecObjectStore
from ports.objects import ObjectNotFound, ObjectStore, ObjectStoreUnavailable

BUCKET = "c8s-logs"
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    """A real S3 endpoint on a free loopback port, for the whole module."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_env(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The standard AWS environment pointing at moto, with an empty bucket."""
    for name, value in {**AWS_ENV, "AWS_ENDPOINT_URL": moto_endpoint}.items():
        monkeypatch.setenv(name, value)
    bucket = f"{BUCKET}-{os.urandom(4).hex()}"
    s3fs.S3FileSystem(skip_instance_cache=True).mkdir(bucket)
    return bucket


@pytest.fixture(params=["file", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "file":
        return FsspecObjectStore((tmp_path / "objects").as_uri())
    bucket = request.getfixturevalue("s3_env")
    return FsspecObjectStore(f"s3://{bucket}/logs")


class TestObjectStoreContract:
    async def test_put_then_read(self, store: ObjectStore) -> None:
        """put returns url(key), and read of that URL returns the bytes."""
        url = await store.put("team-a/run-1/uid/build.log", b"hello\n")
        assert url == store.url("team-a/run-1/uid/build.log")
        assert await store.read(url) == b"hello\n"

    async def test_streamed_write_of_many_chunks(self, store: ObjectStore) -> None:
        """A writer's chunks make up the object, also past the S3 multipart part size."""
        chunks = [bytes([i % 251]) * 1_000_000 for i in range(7)]
        writer = await store.writer("big/object.log")
        for chunk in chunks:
            await writer.write(chunk)
        url = await writer.close()
        assert await store.read(url) == b"".join(chunks)

    async def test_nothing_visible_before_close(self, store: ObjectStore) -> None:
        """Until close, reading the key finds nothing (no half object)."""
        writer = await store.writer("ns/run/uid/step.log")
        await writer.write(b"partial output")
        with pytest.raises(ObjectNotFound):
            await store.read(store.url("ns/run/uid/step.log"))
        await writer.close()
        assert await store.read(store.url("ns/run/uid/step.log")) == b"partial output"

    async def test_abort_leaves_nothing(self, store: ObjectStore) -> None:
        """An aborted writer leaves no object under the key."""
        writer = await store.writer("ns/run/uid/aborted.log")
        await writer.write(b"x" * 100)
        await writer.abort()
        with pytest.raises(ObjectNotFound):
            await store.read(store.url("ns/run/uid/aborted.log"))

    async def test_abandoned_writer_leaves_nothing_and_old_object_stays(self, store: ObjectStore) -> None:
        """A writer that never closes (its process was killed) neither creates nor damages the object."""
        url = await store.put("ns/run/uid/step.log", b"first complete version")
        writer = await store.writer("ns/run/uid/step.log")
        await writer.write(b"second, never finished")
        assert await store.read(url) == b"first complete version"
        await writer.abort()

    async def test_rewrite_replaces(self, store: ObjectStore) -> None:
        """Writing a key again replaces the whole object (a shorter one too)."""
        await store.put("k/log", b"a much longer first version")
        url = await store.put("k/log", b"second")
        assert await store.read(url) == b"second"

    async def test_empty_object(self, store: ObjectStore) -> None:
        """A step with no output still gets an (empty) object."""
        writer = await store.writer("k/empty.log")
        url = await writer.close()
        assert await store.read(url) == b""

    async def test_missing_object(self, store: ObjectStore) -> None:
        """read of a key never written raises ObjectNotFound."""
        with pytest.raises(ObjectNotFound):
            await store.read(store.url("no/such.log"))

    async def test_foreign_url_is_not_found(self, store: ObjectStore) -> None:
        """A URL outside the store's base is not one of its objects."""
        with pytest.raises(ObjectNotFound):
            await store.read("s3://elsewhere/x.log")

    async def test_chunks_stream_the_object(self, store: ObjectStore) -> None:
        """chunks yields the object's bytes in order, no piece larger than asked."""
        data = os.urandom(300_000)
        url = await store.put("k/artifact.bin", data)
        pieces = [piece async for piece in store.chunks(url, chunk_size=64 * 1024)]
        assert b"".join(pieces) == data
        assert len(pieces) >= 5 and all(len(p) <= 64 * 1024 for p in pieces)

    async def test_chunks_of_missing_object(self, store: ObjectStore) -> None:
        """chunks of a key never written raises ObjectNotFound, and so does a foreign URL."""
        for url in (store.url("no/such.bin"), "s3://elsewhere/x.bin"):
            with pytest.raises(ObjectNotFound):
                async for _ in store.chunks(url):
                    pass

    @pytest.mark.parametrize("key", ["", "/abs", "a//b", "a/../b", "a/./b", "a/"])
    async def test_invalid_keys(self, store: ObjectStore, key: str) -> None:
        """Keys with empty, '.' or '..' segments are refused before any I/O."""
        with pytest.raises(ValueError, match="invalid object key"):
            await store.put(key, b"x")


async def test_s3_endpoint_comes_from_environment(s3_env: str) -> None:
    """With AWS_ENDPOINT_URL set and no endpoint in code, s3fs talks to that endpoint."""
    store = FsspecObjectStore(f"s3://{s3_env}")
    await store.put("env/check.log", b"via env")
    direct = s3fs.S3FileSystem(skip_instance_cache=True, endpoint_url=os.environ["AWS_ENDPOINT_URL"])
    assert direct.cat_file(f"{s3_env}/env/check.log") == b"via env"


async def test_unreachable_endpoint_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    """A closed port is ObjectStoreUnavailable (retryable), not a library exception."""
    for name, value in {**AWS_ENV, "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    store = FsspecObjectStore("s3://nowhere")
    with pytest.raises(ObjectStoreUnavailable):
        await store.put("k", b"x")
