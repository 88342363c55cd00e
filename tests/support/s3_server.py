"""A real S3 endpoint (moto's server mode) on loopback, with one empty bucket.

By default moto's server accepts any access key (s3_server); authenticating_s3_server turns its IAM
checks on, for tests where "no valid key, no access" must hold. Either way it does not enforce S3
POST policies (see docs/security.md), which is why c8s checks its upload tokens itself.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import botocore.session  # type: ignore[import-untyped]
import s3fs
from moto.server import ThreadedMotoServer

AWS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@contextmanager
def s3_server(bucket_prefix: str = "c8s", host: str = "127.0.0.1") -> Iterator[tuple[dict[str, str], str]]:
    """(the AWS_* variables of the endpoint, the name of an empty bucket) while the server runs on
    ``host`` (tests/cluster: the node's IP, which pods reach)."""
    server = ThreadedMotoServer(ip_address=host, port=0, verbose=False)
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


@contextmanager
def authenticating_s3_server(bucket: str = "c8s-secure") -> Iterator[dict[str, str]]:
    """moto's server in a child process that *authenticates* every request (IAM on, after the three
    unauthenticated calls that create the one user c8s is given): the AWS_* variables of that
    user, whose keys alone may read and write `bucket`. Anonymous and unknown keys get 403."""
    port = _free_port()
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "3"}
    argv = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        endpoint = f"http://127.0.0.1:{port}"
        _wait_for_port(port)
        keys = _iam_user(endpoint)
        s3_env = {**keys, "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": endpoint}
        s3_client(s3_env).mkdir(bucket)
        yield s3_env
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _iam_user(endpoint: str) -> dict[str, str]:
    setup = {"aws_access_key_id": "setup", "aws_secret_access_key": "x"}
    iam = botocore.session.get_session().create_client(
        "iam", endpoint_url=endpoint, region_name="us-east-1", **setup
    )
    iam.create_user(UserName="c8s")
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    iam.put_user_policy(UserName="c8s", PolicyName="objects", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName="c8s")["AccessKey"]
    return {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_port(port: int, deadline: float = 30.0) -> None:
    end = time.monotonic() + deadline
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > end:
                raise
            time.sleep(0.05)
