"""The CLI's argument parsing (c8s/cli.py and each subcommand's register), offline.

Covers: every command and `dev up` has --help with examples; resource aliases (pr, pipelineruns,
PipelineRun, ...) and the error for an unknown one; defaults (namespace default, output table,
dev up's ./.c8s and ports 8080/4222); where the server URL comes from (--server, then C8S_SERVER,
then nats://127.0.0.1:4222); commit SHAs and port numbers are checked by argparse (exit 2).
"""

from __future__ import annotations

import argparse

import pytest

from api.pipelineconfig import PipelineConfig
from api.pipelinerun import PipelineRun
from api.repositoryconnection import RepositoryConnection
from c8s.cli import build_parser
from c8s.failures import CliError
from c8s.instance import DEFAULT_SERVER, server_url
from c8s.kinds import resource_kind

COMMANDS = [["apply"], ["get"], ["logs"], ["events"], ["cancel"], ["run"], ["dev", "up"], ["validate"]]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help_with_examples(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """`--help` on every command exits 0 and shows at least one example."""
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args([*command, "--help"])
    assert exit_info.value.code == 0
    assert "example" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("pr", PipelineRun),
        ("pipelineruns", PipelineRun),
        ("PipelineRun", PipelineRun),
        ("pc", PipelineConfig),
        ("pipelineconfig", PipelineConfig),
        ("rc", RepositoryConnection),
        ("repositoryconnections", RepositoryConnection),
    ],
)
def test_resource_aliases(text: str, kind: type) -> None:
    """Plural, singular, short and kind names all name the resource, as in kubectl."""
    assert resource_kind(text) is kind


def test_unknown_resource_lists_the_known_ones() -> None:
    """An unknown resource type is a CliError naming the accepted ones."""
    with pytest.raises(CliError, match=r'unknown resource type "pods": use one of pipelineruns \(pr\)'):
        resource_kind("pods")


def test_defaults() -> None:
    """Namespace default, table output, dev up in ./.c8s on ports 8080 and 4222."""
    get = build_parser().parse_args(["get", "pr"])
    assert (get.namespace, get.output, get.name, get.all_namespaces) == ("default", "table", None, False)
    up = build_parser().parse_args(["dev", "up"])
    assert (up.dir, up.webhook_port, up.nats_port, up.demo) == (".c8s", 8080, 4222, False)
    logs = build_parser().parse_args(["logs", "r1", "build", "-f", "-n", "team-a"])
    assert (logs.run, logs.step, logs.follow, logs.namespace) == ("r1", "build", True, "team-a")


def test_server_url_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    """--server wins over C8S_SERVER, which wins over the default."""
    monkeypatch.delenv("C8S_SERVER", raising=False)
    assert server_url(argparse.Namespace(server=None)) == DEFAULT_SERVER == "nats://127.0.0.1:4222"
    monkeypatch.setenv("C8S_SERVER", "nats://10.0.0.1:4222")
    assert server_url(argparse.Namespace(server=None)) == "nats://10.0.0.1:4222"
    assert server_url(argparse.Namespace(server="nats://h:1")) == "nats://h:1"


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "app", "--commit", "not-a-sha"],
        ["run", "app"],
        ["dev", "up", "--nats-port", "70000"],
        ["get", "pr", "-o", "wide"],
    ],
)
def test_bad_arguments_are_usage_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """Bad arguments exit 2 with argparse's one-line usage error, before anything connects."""
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(argv)
    assert exit_info.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_commit_is_normalised() -> None:
    """An upper-case SHA is folded to lower case (the schema requires lower-case hex)."""
    assert build_parser().parse_args(["run", "app", "--commit", "ABCDEF1"]).commit == "abcdef1"
