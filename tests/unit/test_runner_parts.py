"""The runner's parts that need no server: claims and their locks, artifact globs, the step's
environment and command line, git credentials kept off command lines and out of messages, and
Secret values (stringData over base64 data)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from adapters.runtime.artifact_files import matching_files
from api.meta import ObjectMeta
from api.pipelineconfig import Step
from api.secret import Secret
from services.runner.checkout import GitAuth, Redactor, git_env
from services.runner.claims import claim_alive, new_claim, try_claim
from services.runner.credentials import MissingSecret, value
from services.runner.launching import command_argv, step_environment
from services.runner.shim import outcome
from services.runner.step_files import Outcome, StepFiles, StopRequest, request_stop
from steps.plans import StepPlan, StepRef
from tests.support.runs import at

REF = StepRef(namespace="ns", run="r", uid="u", step="build", job_name="r-build")


def plan(env: dict[str, str] | None = None) -> StepPlan:
    step = Step(name="build", image="alpine", commands=["true"])
    return StepPlan(
        ref=REF,
        step=step,
        repository="git://h/r",
        commit="abcdef1",
        branch="main",
        auth_secret_ref=None,
        env=env or {},
        secrets=[],
        timeout_seconds=60,
    )


def test_a_step_is_claimed_once(tmp_path: Path) -> None:
    """A second claim of the same step fails while the first holds the lock, and after."""
    files = StepFiles.of(tmp_path, REF)
    fd = try_claim(files, new_claim(plan(), at(0)))
    assert fd is not None
    assert try_claim(files, new_claim(plan(), at(1))) is None
    os.close(fd)
    assert try_claim(files, new_claim(plan(), at(2))) is None


def test_the_claim_lock_tells_live_from_lost(tmp_path: Path) -> None:
    """The claim is alive exactly while a descriptor of its creator (or an heir) is open."""
    files = StepFiles.of(tmp_path, REF)
    fd = try_claim(files, new_claim(plan(), at(0)))
    assert fd is not None
    assert claim_alive(files)
    heir = os.dup(fd)
    os.close(fd)
    assert claim_alive(files)
    os.close(heir)
    assert not claim_alive(files)


def test_the_first_stop_request_wins(tmp_path: Path) -> None:
    """A stop request is written once; a later one (another reason) changes nothing."""
    files = StepFiles.of(tmp_path, REF)
    assert request_stop(files, StopRequest(reason="Cancelled"))
    assert not request_stop(files, StopRequest(reason="Timeout"))
    assert b"Cancelled" in files.stop.read_bytes()


def test_outcome_reasons() -> None:
    """Exit 0 is Completed, another code Error, a stop keeps its reason and the real code."""
    assert outcome(0, None).reason == "Completed"
    assert outcome(2, None) == Outcome(exit_code=2, reason="Error", message="exit code 2")
    assert outcome(143, StopRequest(reason="Timeout", message="m")) == Outcome(
        exit_code=143, reason="Timeout", message="m"
    )


def test_artifact_globs(tmp_path: Path) -> None:
    """`*` stays in one directory, `**` crosses them; .git and links out of the workspace are skipped."""
    for rel in ["a.txt", "d/b.txt", "d/e/c.txt", ".git/config", "d/e/x.bin"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(rel)
    outside = tmp_path.parent / "outside.txt"
    outside.write_text("secret")
    (tmp_path / "d" / "link.txt").symlink_to(outside)
    assert matching_files(tmp_path, ["*.txt"]) == ["a.txt"]
    assert matching_files(tmp_path, ["d/*.txt"]) == ["d/b.txt"]
    assert matching_files(tmp_path, ["**/*.txt"]) == ["a.txt", "d/b.txt", "d/e/c.txt"]
    assert matching_files(tmp_path, ["d/**", "./a.txt"]) == ["a.txt", "d/b.txt", "d/e/c.txt", "d/e/x.bin"]
    assert matching_files(tmp_path, ["**"]) == ["a.txt", "d/b.txt", "d/e/c.txt", "d/e/x.bin"]


def test_step_environment_is_built_from_nothing(tmp_path: Path) -> None:
    """Only PATH, LANG, HOME, the run's variables and the secrets; secrets come last."""
    env = step_environment(
        plan({"C8S_RUN": "r", "X": "plan"}), {"X": "secret"}, tmp_path, {"PATH": "/bin", "OTHER": "no"}
    )
    assert env == {"PATH": "/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8", "C8S_RUN": "r", "X": "secret"}


def test_commands_run_under_sh_e() -> None:
    """Commands are joined by newlines under `sh -e -c`, so the first failure ends the script."""
    assert command_argv(["a", "b"]) == ["sh", "-e", "-c", "a\nb"]


def test_redactor_hides_credentials_and_url_userinfo() -> None:
    """Secret values and URL user-info never survive into a message."""
    redact = Redactor(["hunter2", "alice"])
    text = "fatal: https://alice:hunter2@git.example/x.git: auth failed for alice (hunter2)"
    assert redact(text) == "fatal: https://***@git.example/x.git: auth failed for *** (***)"


def test_git_credentials_go_through_private_files(tmp_path: Path) -> None:
    """Password and key reach git through an askpass script and a 0600 key file, not argv."""
    auth = GitAuth(username="alice", password="hunter2", ssh_key="-----KEY-----")
    env = git_env(tmp_path, auth, {"PATH": "/bin"})
    key = tmp_path / "id_key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert f"-i {key}" in env["GIT_SSH_COMMAND"]
    assert env["GIT_ASKPASS"] == str(tmp_path / "askpass.sh")
    assert "hunter2" not in (tmp_path / "askpass.sh").read_text()
    assert env["GIT_TERMINAL_PROMPT"] == "0"


def test_secret_values_prefer_string_data() -> None:
    """stringData wins over data; data is base64; a bad encoding is a configuration error."""
    secret = Secret(
        metadata=ObjectMeta(name="s"), data={"a": "ZGF0YQ==", "b": "!!"}, string_data={"c": "plain"}
    )
    assert value(secret, "a") == "data"
    assert value(secret, "c") == "plain"
    assert value(secret, "missing") is None
    with pytest.raises(MissingSecret):
        value(secret, "b")
