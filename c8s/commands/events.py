"""`c8s events RUN`: the run's whole event history from the stream, one line per event, in order."""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from api.pipelinerun import PipelineRun
from c8s.commands import Subparsers, command
from c8s.failures import not_found, run_async
from c8s.instance import (
    Instance,
    add_namespace_option,
    add_server_option,
    connected,
    kubeconfig_of,
    server_url,
)
from c8s.render.event_lines import event_line
from events.subjects import run_subject
from ports.bus import Received
from ports.bus_errors import BusRejected
from ports.resources import NotFound

EPILOG = """output: <seq> <time> <type> <details>, e.g.
  7 2025-10-12T10:30:04.120Z step.finished step=test exitCode=0

examples:
  c8s events my-app-ci-x7k2p
  c8s events my-app-ci-x7k2p -n team-a | grep step.finished
"""


def register(subparsers: Subparsers) -> None:
    parser = command(
        subparsers,
        "events",
        "show a pipeline run's event history",
        "Print every event stored for a PipelineRun, in stream order: when it was "
        "requested and accepted, each step scheduled, started, finished or skipped, logs shipped, "
        "artifacts uploaded, cancellation, the final result.",
        EPILOG,
    )
    parser.add_argument("run", metavar="RUN", help="the PipelineRun's name")
    add_namespace_option(parser)
    add_server_option(parser)
    parser.set_defaults(handler=lambda args: run_async(events(args, sys.stdout)))


async def events(args: argparse.Namespace, out: TextIO) -> int:
    async with connected(server_url(args), kubeconfig_of(args)) as instance:
        history = await _history(instance, args.namespace, args.run)
        if not history:
            await _check_exists(instance, args.namespace, args.run)
    for received in history:
        print(event_line(received), file=out)
    return 0


async def _history(instance: Instance, namespace: str, run: str) -> list[Received]:
    try:
        return list(await instance.bus.history(run_subject(namespace, run)))
    except BusRejected:
        return []  # no stream yet: nothing ever happened on this instance


async def _check_exists(instance: Instance, namespace: str, run: str) -> None:
    """No events: fine for a run that exists (not picked up yet), an error for a name that does not."""
    try:
        await instance.store.get(PipelineRun, namespace, run)
    except NotFound:
        raise not_found("pipelinerun", run, namespace) from None
