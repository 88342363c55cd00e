"""A fresh checkout of one commit: `git clone` of the repository, then `git checkout <commit>`.

A pull request's head that no branch of the repository holds (a fork's) is fetched first from the
ref the provider keeps for it (`fetch_ref`, e.g. refs/pull/7/head; see api/triggers.py).

Works with every URL git itself takes (git://, https://, ssh://, file paths). Credentials never
reach the command line, the environment of the step or its log:
- username/password: an askpass script in a private scratch directory answers git's prompts from
  variables set only in git's own environment;
- ssh-key: the key is written 0600 to the scratch directory and used through GIT_SSH_COMMAND.
The scratch directory is removed afterwards; the workspace and its parent are 0700 (a checkout of
a private repository is no one else's to read). git runs with a clean environment (its HOME in the
scratch directory, no system config, never prompting), in its own process group, killed on timeout.
A failure raises CheckoutFailed whose message is git's error with every credential redacted.
"""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from msgspec import Struct

from adapters.runtime import processes

_ASKPASS = """#!/bin/sh
case "$1" in
  Username*) printf '%s\\n' "$C8S_GIT_USERNAME" ;;
  *) printf '%s\\n' "$C8S_GIT_PASSWORD" ;;
esac
"""
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]+@")
_MESSAGE_LIMIT = 900


class GitAuth(Struct, frozen=True, kw_only=True):
    """Credentials from the RepositoryConnection's authSecretRef."""

    username: str | None = None
    password: str | None = None
    ssh_key: str | None = None
    known_hosts: str | None = None

    def values(self) -> list[str]:
        return [v for v in (self.username, self.password, self.ssh_key) if v]


class CheckoutFailed(Exception):
    """The checkout did not happen; the message is safe to publish (credentials redacted)."""


async def checkout(
    repository: str,
    commit: str,
    workspace: Path,
    *,
    auth: GitAuth | None,
    base_env: Mapping[str, str],
    time_limit: float,
    fetch_ref: str | None = None,
) -> None:
    """Replace `workspace` with a checkout of `commit` from `repository` (after fetching `fetch_ref`).

    The clone is made in a directory of its own and renamed into place once complete, so a git
    left behind by a runner killed mid-checkout (its own process group outlives the runner)
    cannot collide with the next attempt's clone."""
    await asyncio.to_thread(_private_parent, workspace)
    scratch = Path(tempfile.mkdtemp(prefix=".git-", dir=workspace.parent))
    clone = Path(tempfile.mkdtemp(prefix=".clone-", dir=workspace.parent))
    try:
        env = git_env(scratch, auth, base_env)
        redact = redactor(auth)
        git = _Git(env=env, scratch=scratch, timeout=time_limit, redact=redact)
        await git("clone", "--quiet", "--no-checkout", "--", repository, str(clone))
        if fetch_ref:
            await git("fetch", "--quiet", "origin", f"+{fetch_ref}:{fetch_ref}", cwd=clone)
        await git("checkout", "--quiet", "--detach", commit, "--", cwd=clone)
        await asyncio.to_thread(clone.chmod, 0o700)
        await asyncio.to_thread(into_place, clone, workspace)
    finally:
        await asyncio.to_thread(shutil.rmtree, scratch, True)
        await asyncio.to_thread(shutil.rmtree, clone, True)


def _private_parent(workspace: Path) -> None:
    """The workspace's directory, which only the runner's user can enter."""
    workspace.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    workspace.parent.chmod(0o700)


def into_place(clone: Path, workspace: Path) -> None:
    """Move any earlier workspace aside (then remove it), and the new clone to its name."""
    stale = Path(tempfile.mkdtemp(prefix=".stale-", dir=workspace.parent))
    try:
        if workspace.exists():
            workspace.replace(stale / "workspace")
        clone.replace(workspace)
    finally:
        shutil.rmtree(stale, ignore_errors=True)


def git_env(scratch: Path, auth: GitAuth | None, base_env: Mapping[str, str]) -> dict[str, str]:
    """git's whole environment: clean, never prompting, credentials through files in `scratch`."""
    home = scratch / "home"
    home.mkdir(mode=0o700)
    env = {
        "PATH": base_env.get("PATH", os.defpath),
        "HOME": str(home),
        "LANG": "C",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_SSH_COMMAND": ssh_command(scratch, None),
    }
    if "SSH_AUTH_SOCK" in base_env:
        env["SSH_AUTH_SOCK"] = base_env["SSH_AUTH_SOCK"]
    if auth is not None:
        env.update(_credential_env(scratch, auth))
    return env


def _credential_env(scratch: Path, auth: GitAuth) -> dict[str, str]:
    env: dict[str, str] = {}
    if auth.password is not None or auth.username is not None:
        askpass = scratch / "askpass.sh"
        _write_private(askpass, _ASKPASS, 0o700)
        env |= {"GIT_ASKPASS": str(askpass), "C8S_GIT_USERNAME": auth.username or "git"}
        env["C8S_GIT_PASSWORD"] = auth.password or ""
    if auth.ssh_key is not None:
        key = scratch / "id_key"
        _write_private(key, auth.ssh_key if auth.ssh_key.endswith("\n") else auth.ssh_key + "\n", 0o600)
        if auth.known_hosts:
            _write_private(scratch / "known_hosts", auth.known_hosts, 0o600)
        env["GIT_SSH_COMMAND"] = ssh_command(scratch, key, strict=bool(auth.known_hosts))
    return env


def ssh_command(scratch: Path, key: Path | None, *, strict: bool = False) -> str:
    """ssh with no user config, known hosts kept in scratch (pinned when the Secret gives them)."""
    argv = ["ssh", "-F", "/dev/null", "-o", "BatchMode=yes"]
    argv += ["-o", f"UserKnownHostsFile={scratch / 'known_hosts'}"]
    argv += ["-o", f"StrictHostKeyChecking={'yes' if strict else 'accept-new'}"]
    if key is not None:
        argv += ["-i", str(key), "-o", "IdentitiesOnly=yes"]
    return shlex.join(argv)


def _write_private(path: Path, text: str, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def redactor(auth: GitAuth | None) -> Redactor:
    return Redactor(auth.values() if auth else [])


class Redactor:
    """Removes credential values and URL user-info from text meant for events and logs."""

    def __init__(self, values: Sequence[str]) -> None:
        self._values = sorted({v.strip() for v in values if v.strip()}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for value in self._values:
            text = text.replace(value, "***")
        return _USERINFO.sub(r"\g<scheme>***@", text)


@dataclass(frozen=True, kw_only=True)
class _Git:
    env: dict[str, str]
    scratch: Path
    timeout: float
    redact: Redactor

    async def __call__(self, verb: str, *args: str, cwd: Path | None = None) -> None:
        output = self.scratch / "git.out"
        output.unlink(missing_ok=True)
        argv = ["git", "-c", "advice.detachedHead=false", "-c", "credential.helper=", verb, *args]
        try:
            proc = await processes.start(
                argv, env=self.env, cwd=cwd or self.scratch, log_path=output, grace=1.0
            )
        except processes.ProcessStartError as e:
            raise CheckoutFailed(self.redact(str(e))) from e
        try:
            code = await asyncio.wait_for(proc.wait(), self.timeout)
        except TimeoutError:
            await proc.kill(grace=1.0)
            raise CheckoutFailed(f"git {verb} did not finish within {self.timeout:g}s") from None
        if code != 0:
            text = self.redact(output.read_text(errors="replace").strip())[-_MESSAGE_LIMIT:]
            raise CheckoutFailed(f"git {verb} failed (exit code {code}): {text}")
