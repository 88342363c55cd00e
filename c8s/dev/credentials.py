"""The bus identities of a `c8s dev up` instance, generated under its state directory:

    DIR/nats/passwords.json   one random password per identity (generated once, kept across ups)
    DIR/nats/nats.conf        nats-server's authorization block (adapters.jetstream.permissions)
    DIR/nats/cli.env          the `export NAME=VALUE` lines a second shell needs for the CLI

Every file is 0600 from the moment it exists. Each service gets only its own identity
(C8S_NATS_USER/C8S_NATS_PASSWORD in its environment); the CLI's lines are printed by the banner;
the read-only `subscriber` identity is for outside subscribers (examples/subscriber.py).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from adapters.jetstream.permissions import authorization_config, identities
from adapters.jetstream.server import write_private
from adapters.runtime.settings import Mode

USER_VARIABLE = "C8S_NATS_USER"
PASSWORD_VARIABLE = "C8S_NATS_PASSWORD"
SERVER_VARIABLE = "C8S_SERVER"
LOG_STORE_VARIABLE = "C8S_LOG_STORE"


@dataclass(frozen=True)
class Credentials:
    directory: Path
    passwords: dict[str, str]

    @property
    def config(self) -> Path:
        return self.directory / "nats.conf"

    @property
    def cli_env_file(self) -> Path:
        return self.directory / "cli.env"

    def env_of(self, user: str) -> dict[str, str]:
        """The environment variables that make a process connect as `user`."""
        return {USER_VARIABLE: user, PASSWORD_VARIABLE: self.passwords[user]}

    def cli_exports(self, nats_url: str, log_store: str) -> list[str]:
        """What a second shell needs for the CLI, one `export NAME=VALUE` per line: the server,
        the CLI's identity and the object store `c8s logs` may read from."""
        env = {SERVER_VARIABLE: nats_url, **self.env_of("cli"), LOG_STORE_VARIABLE: log_store}
        return [f"export {name}={value}" for name, value in env.items()]


def identity_of(service: str) -> str:
    """A service package name (`log_shipper`) as its bus identity (`log-shipper`)."""
    return service.replace("_", "-")


def prepare(home: Path, mode: Mode, nats_url: str, log_store: str) -> Credentials:
    """Passwords for every identity of `mode` (reused when already generated), the server's
    configuration and the CLI's environment file, all 0600."""
    directory = home / "nats"
    creds = Credentials(directory, _passwords(directory / "passwords.json", list(identities(mode))))
    write_private(creds.config, authorization_config(creds.passwords, mode))
    exports = creds.cli_exports(nats_url, log_store)
    write_private(creds.cli_env_file, "".join(f"{line}\n" for line in exports))
    return creds


def _passwords(path: Path, users: list[str]) -> dict[str, str]:
    known: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    passwords = {user: known.get(user) or secrets.token_urlsafe(24) for user in users}
    if passwords != known:
        write_private(path, json.dumps(passwords, indent=2))
    return passwords


def upload_key(home: Path) -> str:
    """The key the scheduler signs artifact upload tokens with and the job-watcher checks them
    with (Kubernetes mode; steps.upload_grant): generated once, DIR/upload.key, 0600."""
    path = home / "upload.key"
    if not path.exists():
        write_private(path, secrets.token_urlsafe(32))
    return path.read_text().strip()
