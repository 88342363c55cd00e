"""A real S3 endpoint (moto's server mode) on loopback, with one empty bucket.

moto's server accepts any access key, and (checked: see docs/security.md) it does not enforce S3
POST policies, which is why c8s's upload grants are checked by c8s itself.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import s3fs
from moto.server import ThreadedMotoServer

AWS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@contextmanager
def s3_server(bucket_prefix: str = "c8s") -> Iterator[tuple[dict[str, str], str]]:
    """(the AWS_* variables of the endpoint, the name of an empty bucket) while the server runs."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        env = {**AWS, "AWS_ENDPOINT_URL": f"http://{host}:{port}"}
        bucket = f"{bucket_prefix}-{uuid.uuid4().hex[:8]}"
        s3_client(env).mkdir(bucket)
        yield env, bucket
    finally:
        server.stop()


def s3_client(env: dict[str, str]) -> s3fs.S3FileSystem:
    """An s3fs client with c8s's own (full) credentials: what the tests check objects with."""
    return s3fs.S3FileSystem(
        skip_instance_cache=True,
        key=env["AWS_ACCESS_KEY_ID"],
        secret=env["AWS_SECRET_ACCESS_KEY"],
        endpoint_url=env["AWS_ENDPOINT_URL"],
    )
