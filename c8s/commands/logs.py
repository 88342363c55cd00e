"""`c8s logs RUN [STEP] [-f]`: a run's stored (masked) step logs, and with -f its live lines.

Stored logs are read from the step's status.steps[].logURL through the object store adapter, only
when that URL is under the configured store and the run's prefix (c8s.stored_logs: a status is not
trusted to name what to read).
Without STEP every step is printed in order, each line prefixed `[step] `. `-f` subscribes to the
live lines first (they are not kept), then prints what is stored, then live lines until the run
ends; it exits 0 when the run succeeded and 1 otherwise. De-duplication is best effort: a step
whose live lines were shown is not printed again from storage, and the output a step produced
before the subscription is only in its stored log (`c8s logs RUN STEP` once it finished).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from dataclasses import dataclass, field
from typing import TextIO

from adapters.jetstream.live_reader import LiveLogLines
from api.pipelinerun import TERMINAL_RUN_PHASES, PipelineRun, StepStatus
from c8s.commands import Subparsers, command
from c8s.failures import CliError, not_found, run_async
from c8s.instance import (
    Instance,
    add_namespace_option,
    add_server_option,
    connected,
    kubeconfig_of,
    resources,
    server_url,
)
from c8s.render.columns import run_phase
from c8s.stored_logs import StoredLogs, UntrustedLogURL, log_store
from ports.objects import ObjectNotFound
from ports.resources import NotFound, ResourceStore

#: How often -f looks at the run's status between live lines.
POLL_SECONDS = 0.5
#: After the run ended, how long -f waits for the last steps' logs to be stored.
SHIP_GRACE_SECONDS = 10.0

EPILOG = """examples:
  c8s logs my-app-ci-x7k2p             every step, in order
  c8s logs my-app-ci-x7k2p build       one step
  c8s logs -f my-app-ci-x7k2p          follow until the run ends (exit 1 if it failed)
"""


def register(subparsers: Subparsers) -> None:
    parser = command(
        subparsers,
        "logs",
        "print a pipeline run's step logs",
        "Print the stored logs of a PipelineRun's steps (secret values are masked). "
        "With -f, follow live output until the run ends.",
        EPILOG,
    )
    parser.add_argument("run", metavar="RUN", help="the PipelineRun's name")
    parser.add_argument("step", metavar="STEP", nargs="?", help="one step (default: all, in order)")
    parser.add_argument("-f", "--follow", action="store_true", help="follow live output until the run ends")
    add_namespace_option(parser)
    add_server_option(parser)
    parser.set_defaults(handler=lambda args: run_async(logs(args, sys.stdout, sys.stderr)))


@dataclass
class Printer:
    """Writes log lines, prefixed by step unless one step was asked for; remembers what it showed."""

    out: TextIO
    err: TextIO
    prefixed: bool
    logs: StoredLogs
    stored: set[str] = field(default_factory=set)
    live: set[str] = field(default_factory=set)

    def line(self, step: str, data: bytes) -> None:
        text = data.decode("utf-8", errors="replace").rstrip("\n")
        self.out.write(f"[{step}] {text}\n" if self.prefixed else text + "\n")
        self.out.flush()

    def block(self, step: str, data: bytes) -> None:
        for line in data.decode("utf-8", errors="replace").splitlines():
            self.line(step, line.encode())

    def note(self, message: str) -> None:
        print(f"c8s: {message}", file=self.err)


async def logs(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    logs = StoredLogs(log_store(os.environ), args.namespace, args.run)
    printer = Printer(out=out, err=err, prefixed=args.step is None, logs=logs)
    if args.follow:
        async with connected(server_url(args), kubeconfig_of(args)) as instance:
            return await follow(instance, args, printer)
    async with resources(args) as store:
        run = await get_run(store, args.namespace, args.run)
        for step in selected_steps(run, args.step):
            await print_stored(step, printer, explain=True)
    return 0


async def follow(instance: Instance, args: argparse.Namespace, printer: Printer) -> int:
    async with LiveLogLines(instance.connection, args.namespace, args.run, args.step) as live:
        run = await get_run(instance.store, args.namespace, args.run)
        _mark_late(run, args.step, printer)
        while run_phase(run) not in TERMINAL_RUN_PHASES:
            await _stored_of_finished(run, args.step, printer)
            await _live_until(live, printer, POLL_SECONDS)
            run = await get_run(instance.store, args.namespace, args.run)
        for step, line in live.drain():
            _show_live(printer, step, line)
        run = await _wait_shipped(instance.store, run, args.step)
        await _stored_of_finished(run, args.step, printer)
    return 0 if run_phase(run) == "Succeeded" else 1


def _mark_late(run: PipelineRun, step: str | None, printer: Printer) -> None:
    for s in selected_steps(run, step, strict=False):
        if s.phase == "Running":
            printer.note(f"step {s.name} was already running: its earlier output is in its stored log")


async def _live_until(live: LiveLogLines, printer: Printer, seconds: float) -> None:
    """Print live lines for up to `seconds`; return early once they pause."""
    deadline = asyncio.get_running_loop().time() + seconds
    got = await live.next(seconds)
    while got is not None:
        _show_live(printer, *got)
        got = await live.next(0.05) if asyncio.get_running_loop().time() < deadline else None


def _show_live(printer: Printer, step: str, line: bytes) -> None:
    if step in printer.stored:
        return
    printer.live.add(step)
    printer.line(step, line)


async def _stored_of_finished(run: PipelineRun, step: str | None, printer: Printer) -> None:
    """Stored logs of steps that finished and were not shown live (or were joined late)."""
    for s in selected_steps(run, step, strict=False):
        if not s.log_url or s.name in printer.stored:
            continue
        if s.name in printer.live:
            printer.stored.add(s.name)  # shown live already: no repeat (best effort)
        else:
            await print_stored(s, printer, explain=False)


async def _wait_shipped(store: ResourceStore, run: PipelineRun, step: str | None) -> PipelineRun:
    """The run once every step that ran has a stored log, or after the grace period."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SHIP_GRACE_SECONDS
    while any(_ran(s) and not s.log_url for s in selected_steps(run, step, strict=False)):
        if loop.time() > deadline:
            break
        await asyncio.sleep(POLL_SECONDS)
        run = await get_run(store, run.metadata.namespace, run.metadata.name)
    return run


def _ran(step: StepStatus) -> bool:
    return step.start_time is not None or step.exit_code is not None


async def print_stored(step: StepStatus, printer: Printer, *, explain: bool) -> None:
    printer.stored.add(step.name)
    if not step.log_url:
        if explain:
            printer.note(f"step {step.name}: {_why_no_log(step)}")
        return
    try:
        data = await printer.logs.read(step.log_url)
    except ObjectNotFound:
        printer.note(f"step {step.name}: its log is gone from {step.log_url}")
        return
    except UntrustedLogURL as e:
        printer.note(f"step {step.name}: not read: its logURL is outside the object store ({e})")
        return
    printer.block(step.name, data)


def _why_no_log(step: StepStatus) -> str:
    if step.phase == "Skipped":
        return "skipped, no log"
    if step.phase in ("Pending", "Running"):
        return f"{step.phase.lower()}, no stored log yet (use -f to follow)"
    return "no stored log (yet)"


async def get_run(store: ResourceStore, namespace: str, name: str) -> PipelineRun:
    try:
        return await store.get(PipelineRun, namespace, name)
    except NotFound:
        raise not_found("pipelinerun", name, namespace) from None


def selected_steps(run: PipelineRun, step: str | None, *, strict: bool = True) -> list[StepStatus]:
    """The run's steps in order, or the one asked for (an error when the run has no such step)."""
    steps = run.status.steps if run.status is not None else []
    if step is None:
        return list(steps)
    chosen = [s for s in steps if s.name == step]
    if not chosen and strict:
        known = ", ".join(s.name for s in steps) or "none yet"
        raise CliError(f'pipelinerun "{run.metadata.name}" has no step "{step}" (steps: {known})')
    return chosen
