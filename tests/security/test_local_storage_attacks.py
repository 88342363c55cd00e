"""Issue 11's storage attack in local mode: `c8s dev up` with logs and artifacts on an S3 endpoint
that authenticates (moto with IAM on), a step in namespace `attacker` trying to read and overwrite
the log and the artifact of a finished run in namespace `victim`.

Covers: the attacker's step gathers every storage credential it can find in its environment, its
shim's environment (its parent's, up to services.runner.shim), its HOME and its workspace — none
— and tries to read and to overwrite the victim's objects with each, anonymously and with moto's
well-known test keys: every attempt is refused, the attacker's run still ends Succeeded (the
attack ran), and the victim's log and artifact are byte for byte unchanged. Local mode's known limit
(steps run as the operator's user, so `/proc/<service>/environ` of the runner itself is not
guarded) is in docs/security.md and not exercised here.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.local import Instance, pipeline, step
from tests.security.test_local_attacks import run_of
from tests.support.dev_up import DevUp
from tests.support.git_daemon import served_repo
from tests.support.s3_server import authenticating_s3_server, s3_client

BUCKET = "c8s-secure"
ATTACK = r'''
import os, pathlib, re, sys
import botocore.session
from botocore import UNSIGNED
from botocore.config import Config

ENDPOINT, BUCKET, KEYS = sys.argv[1], sys.argv[2], sys.argv[3:]
NAMES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
found = {}

def scan(where, text):
    for name in NAMES:
        for m in re.finditer(name + r"\s*[=:]\s*(\S+)", text, re.IGNORECASE):
            found.setdefault(where, {})[name] = m.group(1)

def environ(pid):
    return open(f"/proc/{pid}/environ", "rb").read().replace(b"\0", b"\n").decode(errors="replace")

def cmdline(pid):
    return open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace")

scan("step env", "\n".join(f"{k}={v}" for k, v in os.environ.items()))
pid = os.getppid()
while pid > 1:
    scan(f"ancestor {pid}", environ(pid))
    if "services.runner.shim" in cmdline(pid):
        break
    pid = int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])
for root in (pathlib.Path(os.environ["HOME"]), pathlib.Path.cwd()):
    for path in root.rglob("*"):
        if path.is_file():
            scan(str(path), path.read_text(errors="replace"))
print("credentials found:", found or "none", flush=True)

attempts = [("anonymous", {"config": Config(signature_version=UNSIGNED)}),
            ("moto's test keys", {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"})]
for where, creds in found.items():
    attempts.append((where, {"aws_access_key_id": creds.get("AWS_ACCESS_KEY_ID"),
                             "aws_secret_access_key": creds.get("AWS_SECRET_ACCESS_KEY")}))
for label, kwargs in attempts:
    session = botocore.session.get_session()
    s3 = session.create_client("s3", endpoint_url=ENDPOINT, region_name="us-east-1", **kwargs)
    for key in KEYS:
        for verb, call in (("read", lambda: s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()),
                           ("overwrite", lambda: s3.put_object(Bucket=BUCKET, Key=key, Body=b"pwned"))):
            try:
                call()
                print(f"ALLOWED {verb} {key} as {label}", flush=True)
            except Exception as e:
                print(f"refused {verb} as {label}: {type(e).__name__}", flush=True)
'''


@pytest.fixture(scope="module")
def s3_env() -> Iterator[dict[str, str]]:
    with authenticating_s3_server(BUCKET) as env:
        yield env


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    with served_repo(tmp_path_factory.mktemp("repos"), {"README": "app\n"}) as served:
        yield served


@pytest.fixture(scope="module")
def c8s(tmp_path_factory: pytest.TempPathFactory, s3_env: dict[str, str]) -> Iterator[Instance]:
    home = tmp_path_factory.mktemp("dev") / "c8s"
    with DevUp(home, "--log-store", f"s3://{BUCKET}/c8s", env=s3_env) as dev:
        dev.wait_for(r"^c8s is up$", deadline=120)
        yield Instance(dev, env={**os.environ, **s3_env})
        assert dev.stop() == 0


def test_a_step_cannot_read_or_overwrite_another_runs_objects(
    c8s: Instance, repo: tuple[str, str], s3_env: dict[str, str], tmp_path: Path
) -> None:
    """No credential is found in the step's reach; every read and write of the victim's objects fails."""
    url, commit = repo
    report = "echo 'report v1' > report.txt"
    build = step("build", "echo 'secret build output'", report, artifacts=["report.txt"])
    c8s.apply(tmp_path, pipeline("victim-ci", url, [build], ns="victim"))
    c8s.apply(tmp_path, run_of("victim-ci", "release-1", commit, "victim"))
    victim = {s["name"]: s for s in c8s.wait("release-1", "victim")["status"]["steps"]}["build"]
    keys = [_key(victim["logURL"]), _key(victim["artifactURLs"][0])]
    before = {key: _object(s3_env, key) for key in keys}
    assert b"secret build output" in before[keys[0]] and before[keys[1]] == b"report v1\n"

    script = tmp_path / "attack.py"
    script.write_text(ATTACK)
    argv = f"{sys.executable} {script} {s3_env['AWS_ENDPOINT_URL']} {BUCKET} {' '.join(keys)}"
    attack = step("attack", argv)
    c8s.apply(tmp_path, pipeline("attacker-ci", url, [attack], ns="attacker"))
    c8s.apply(tmp_path, run_of("attacker-ci", "attack-1", commit, "attacker"))
    assert c8s.wait("attack-1", "attacker")["status"]["phase"] == "Succeeded"
    log = c8s.logs("attack-1", "attack", "attacker")
    assert "credentials found: none" in log, log
    assert "ALLOWED" not in log and log.count("refused ") == 2 * 2 * len(keys), log
    assert {key: _object(s3_env, key) for key in keys} == before


def _key(url: str) -> str:
    """The bucket key of an s3:// URL of this bucket."""
    prefix = f"s3://{BUCKET}/"
    assert url.startswith(prefix), url
    return url[len(prefix) :]


def _object(env: dict[str, str], key: str) -> bytes:
    return bytes(s3_client(env).cat(f"{BUCKET}/{key}"))
