"""The `c8s` entry point: an argparse parser with one subcommand per module.

A subcommand module exposes `register(subparsers)`, which adds its parser and sets `handler`
(a function from the parsed arguments to an exit code). Add a subcommand by writing such a
module and listing it in SUBCOMMANDS.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from adapters.runtime.structured_logging import configure
from c8s.commands import apply as apply_cmd
from c8s.commands import cancel as cancel_cmd
from c8s.commands import dev as dev_cmd
from c8s.commands import events as events_cmd
from c8s.commands import get as get_cmd
from c8s.commands import logs as logs_cmd
from c8s.commands import run as run_cmd
from c8s.commands import team as team_cmd
from c8s.commands import validate as validate_cmd

SUBCOMMANDS = [dev_cmd, apply_cmd, get_cmd, run_cmd, cancel_cmd, logs_cmd, events_cmd, validate_cmd, team_cmd]


def build_parser() -> argparse.ArgumentParser:
    """The parser of the whole command line, with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="c8s",
        description="c8s: Kubernetes-native CI. Pipelines are PipelineConfig resources; "
        "each step of a PipelineRun runs as a Kubernetes Job.",
    )
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for module in SUBCOMMANDS:
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit code (0 ok, 1 failure, 2 usage error)."""
    args = build_parser().parse_args(argv)
    # Library diagnostics (reconnect notices) would mix with the command's output; errors the
    # user must see are printed by the commands themselves, as one line.
    configure("c8s", "error")
    code: int = args.handler(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
