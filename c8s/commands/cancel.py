"""`c8s cancel RUN`: ask for a run to be cancelled (spec.cancelRequested, as `kubectl patch` would).

The scheduler sees the request, stops the running steps and skips the rest; the run ends Cancelled.
A run that already finished is left as it is.
"""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from api.pipelinerun import TERMINAL_RUN_PHASES, PipelineRun
from c8s.commands import Subparsers, command
from c8s.failures import not_found, run_async
from c8s.instance import add_namespace_option, add_server_option, resources
from c8s.render.columns import run_phase
from ports.resources import NotFound, ResourceStore

EPILOG = """examples:
  c8s cancel my-app-ci-x7k2p
  c8s cancel my-app-ci-x7k2p -n team-a && c8s get pr my-app-ci-x7k2p -n team-a
"""


def register(subparsers: Subparsers) -> None:
    parser = command(
        subparsers,
        "cancel",
        "cancel a pipeline run",
        "Request cancellation of a PipelineRun: running steps are stopped, pending ones "
        "skipped, and the run ends Cancelled. Asking twice is harmless.",
        EPILOG,
    )
    parser.add_argument("run", metavar="RUN", help="the PipelineRun's name")
    add_namespace_option(parser)
    add_server_option(parser)
    parser.set_defaults(handler=lambda args: run_async(cancel(args, sys.stdout)))


async def cancel(args: argparse.Namespace, out: TextIO) -> int:
    async with resources(args) as store:
        run = await _get(store, args.namespace, args.run)
        phase = run_phase(run)
        if phase in TERMINAL_RUN_PHASES:
            print(f"pipelinerun/{args.run} already {phase}: nothing to cancel", file=out)
            return 0
        await store.request_cancel(args.namespace, args.run)
    print(f"pipelinerun/{args.run} cancel requested", file=out)
    return 0


async def _get(store: ResourceStore, namespace: str, name: str) -> PipelineRun:
    try:
        return await store.get(PipelineRun, namespace, name)
    except NotFound:
        raise not_found("pipelinerun", name, namespace) from None
