"""`c8s run CONFIG --commit SHA`: trigger a config by hand, printing the name of each run created."""

from __future__ import annotations

import argparse
import getpass
import re
import sys
from datetime import UTC, datetime
from typing import TextIO

from api.pipelineconfig import PipelineConfig
from c8s.commands import Subparsers, command
from c8s.failures import not_found, run_async
from c8s.instance import add_namespace_option, add_server_option, resources
from c8s.manual_runs import manual_runs, random_suffix
from ports.resources import NotFound, ResourceStore

_SHA = re.compile(r"^[a-f0-9]{7,40}$")

EPILOG = """examples:
  c8s run my-app-ci --commit 3f2a9c1 --branch main
  c8s run my-app-ci --commit "$(git rev-parse HEAD)" -n team-a
"""


def register(subparsers: Subparsers) -> None:
    parser = command(
        subparsers,
        "run",
        "start a pipeline run by hand",
        "Create a PipelineRun of CONFIG at a commit (one per matrix combination when the "
        "config has a matrix) and print the name of each run.",
        EPILOG,
    )
    parser.add_argument("config", metavar="CONFIG", help="the PipelineConfig's name")
    parser.add_argument("--commit", required=True, type=commit_sha, metavar="SHA", help="commit to run")
    parser.add_argument("--branch", default=None, help="branch name (for conditional steps)")
    add_namespace_option(parser)
    add_server_option(parser)
    parser.set_defaults(handler=lambda args: run_async(run(args, sys.stdout)))


def commit_sha(text: str) -> str:
    """argparse type: 7 to 40 lower-case hex characters (upper case is folded)."""
    sha = text.strip().lower()
    if not _SHA.match(sha):
        raise argparse.ArgumentTypeError(f'"{text}" is not a commit SHA: use 7 to 40 hex characters')
    return sha


async def run(args: argparse.Namespace, out: TextIO) -> int:
    async with resources(args) as store:
        config = await _config(store, args.namespace, args.config)
        runs = manual_runs(config, args.commit, args.branch, _user(), datetime.now(UTC), random_suffix())
        created = [await store.create(r) for r in runs]
    for r in created:
        print(r.metadata.name, file=out)
    return 0


async def _config(store: ResourceStore, namespace: str, name: str) -> PipelineConfig:
    try:
        return await store.get(PipelineConfig, namespace, name)
    except NotFound:
        raise not_found("pipelineconfig", name, namespace) from None


def _user() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"
