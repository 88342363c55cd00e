"""`c8s apply -f FILE|DIR`: create or update PipelineConfigs, PipelineRuns, RepositoryConnections and
v1 Secrets in the instance's resource store, printing `<kind>/<name> created|configured|unchanged`.

All or nothing per invocation: every document is read and validated (with `c8s validate`'s
messages) and every existing object it would change is checked before the first write, so an
invalid document, a file that cannot be read, or a change to a run's immutable spec applies
nothing at all. Objects are written Secrets first, runs last, so what a run refers to exists first.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import TextIO

from msgspec.structs import replace

from api.pipelinerun import PipelineRun
from c8s import any_kind
from c8s.commands import Subparsers, add_files_option, command
from c8s.failures import run_async
from c8s.instance import add_server_option, resources
from c8s.kinds import resource_name
from c8s.manifests import load
from ports.resources import NotFound, Resource, ResourceStore

EPILOG = """examples:
  c8s apply -f examples/pipelineconfig-my-app-ci.yaml
  c8s apply -f deploy/pipelines/ -n team-a
  cat run.yaml | c8s apply -f -
"""


def register(subparsers: Subparsers) -> None:
    parser = command(
        subparsers,
        "apply",
        "create or update objects from manifest files",
        "Create or update PipelineConfig, PipelineRun, RepositoryConnection and v1 Secret "
        "objects (Secrets may use data or stringData). Every document is validated first: if any is "
        "invalid, its errors are printed as `c8s validate` prints them and nothing is applied.",
        EPILOG,
    )
    add_files_option(parser)
    parser.add_argument(
        "-n", "--namespace", default=None, help="namespace for objects that name none (default: default)"
    )
    add_server_option(parser)
    parser.set_defaults(handler=lambda args: run_async(apply(args, sys.stdout, sys.stderr)))


@dataclass(frozen=True)
class Change:
    """One object to write, and what the store holds under its name now (None: nothing)."""

    obj: Resource
    current: Resource | None


async def apply(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    objs, errors = load(args.paths, args.namespace)
    if not errors:
        async with resources(args) as store:
            changes = [await _change(store, obj) for obj in objs]
            errors = [e for e in map(refusal, changes) if e]
            if not errors:
                for change in changes:
                    print(await _write(store, change), file=out)
                return 0
    for line in errors:
        print(line, file=err)
    print(f"c8s: error: nothing applied: {_plural(len(errors), 'error')}", file=err)
    return 1


async def _change(store: ResourceStore, obj: Resource) -> Change:
    if not obj.metadata.name:
        return Change(obj=obj, current=None)  # generateName: always a new object
    try:
        return Change(
            obj=obj, current=await any_kind.get(store, type(obj), obj.metadata.namespace, obj.metadata.name)
        )
    except NotFound:
        return Change(obj=obj, current=None)


def refusal(change: Change) -> str | None:
    """Why this change cannot be applied: a run's spec is immutable (except cancelRequested)."""
    new, current = change.obj, change.current
    if not isinstance(new, PipelineRun) or not isinstance(current, PipelineRun):
        return None
    if _fixed_spec(new) == _fixed_spec(current):
        return None
    label = f"pipelinerun/{new.metadata.name}"
    return f"{label}: spec is immutable (only cancelRequested may change): create a new run instead"


def _fixed_spec(run: PipelineRun) -> object:
    return replace(run.spec, cancel_requested=False)


async def _write(store: ResourceStore, change: Change) -> str:
    obj, current = change.obj, change.current
    label = f"{resource_name(type(obj))}/"
    if current is None:
        write = any_kind.apply if obj.metadata.name else any_kind.create
        created = await write(store, obj)
        return f"{label}{created.metadata.name} created"
    if isinstance(obj, PipelineRun) and isinstance(current, PipelineRun):
        obj = _keep_cancel(obj, current)
    written = await any_kind.apply(store, obj)
    same = written.metadata.resource_version == current.metadata.resource_version
    verb = "unchanged" if same else "configured"
    return f"{label}{written.metadata.name} {verb}"


def _keep_cancel(run: PipelineRun, current: PipelineRun) -> PipelineRun:
    """A cancel request is never taken back by re-applying the manifest that started the run."""
    cancel = run.spec.cancel_requested or current.spec.cancel_requested
    return replace(run, spec=replace(run.spec, cancel_requested=cancel))


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"
