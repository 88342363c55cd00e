"""The bus credentials `c8s dev up` generates (c8s.dev.credentials) and who gets which.

Covers: every file under DIR/nats is 0600; passwords are random per identity and kept across
`dev up`s; the server configuration names every identity; each service's environment holds its own
identity only (not the CLI's, even when dev up's shell has it exported); the CLI's export lines are
C8S_SERVER, C8S_NATS_USER, C8S_NATS_PASSWORD and C8S_LOG_STORE; the runner's shim environment has
no credential.
"""

from __future__ import annotations

import stat
from dataclasses import replace
from pathlib import Path

from c8s.dev import credentials
from c8s.dev.state_dir import Layout, service_spec
from services.runner.launching import shim_environment

STORE = "file:///tmp/c8s/objects"


def test_files_are_private_and_passwords_kept(tmp_path: Path) -> None:
    """0600 files; a second prepare reuses the passwords; each identity has its own."""
    first = credentials.prepare(tmp_path, "local", "nats://127.0.0.1:4222", STORE)
    for path in (tmp_path / "nats").iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    again = credentials.prepare(tmp_path, "local", "nats://127.0.0.1:4222", STORE)
    assert again.passwords == first.passwords
    assert len(set(first.passwords.values())) == len(first.passwords)
    config = first.config.read_text()
    assert all(f'"user": "{user}"' in config for user in first.passwords)


def test_each_service_gets_its_own_identity_only(tmp_path: Path) -> None:
    """A service's environment names itself, never the CLI's identity from dev up's shell."""
    creds = credentials.prepare(tmp_path, "local", "nats://127.0.0.1:4222", STORE)
    layout = replace(Layout(home=tmp_path, nats_port=4222, webhook_port=8080), credentials=creds)
    shell = {"PATH": "/bin", **creds.env_of("cli")}
    for name in ("scheduler", "log_shipper", "runner"):
        env = service_spec(layout, name, shell).env
        assert env["C8S_NATS_USER"] == name.replace("_", "-")
        assert env["C8S_NATS_PASSWORD"] == creds.passwords[name.replace("_", "-")]
        assert creds.passwords["cli"] not in env.values()


def test_cli_exports_are_exactly_server_credentials_and_store(tmp_path: Path) -> None:
    """Four export lines (server, identity, the object store logs are read from), as in cli.env."""
    creds = credentials.prepare(tmp_path, "local", "nats://127.0.0.1:14222", STORE)
    lines = creds.cli_exports("nats://127.0.0.1:14222", STORE)
    assert [line.split("=")[0] for line in lines] == [
        "export C8S_SERVER",
        "export C8S_NATS_USER",
        "export C8S_NATS_PASSWORD",
        "export C8S_LOG_STORE",
    ]
    assert creds.cli_env_file.read_text().splitlines() == lines


def test_the_shim_gets_no_credential() -> None:
    """The runner's bus identity and object-store keys are removed before a shim starts."""
    runner = {"PATH": "/bin", "C8S_NATS_USER": "runner", "C8S_NATS_PASSWORD": "p"}
    runner |= {"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s"}
    assert shim_environment(runner) == {"PATH": "/bin"}
