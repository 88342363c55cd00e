"""`c8s get pipelineruns|pr|pipelineconfigs|pc|repositoryconnections|rc [NAME]`: list or show objects.

`-o table` (default) prints kubectl's columns (c8s/render/columns.py); for one run it adds the steps table.
`-o json|yaml` prints the object for NAME, else a v1 List of every object in the namespace.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TextIO

from api.pipelineconfig import PipelineConfig
from api.pipelinerun import PipelineRun
from api.repositoryconnection import RepositoryConnection
from c8s import any_kind
from c8s.commands import Subparsers, command
from c8s.failures import not_found, run_async
from c8s.instance import add_namespace_option, add_server_option, resources
from c8s.kinds import Kind, resource_kind, resource_name
from c8s.render import columns
from c8s.render import formats as rendering
from c8s.render.tables import format_table
from ports.resources import NotFound, ResourceStore

EPILOG = """examples:
  c8s get pr                      runs in namespace default
  c8s get pr my-app-ci-x7k2p      one run and its steps
  c8s get pc -n team-a -o yaml    configs of team-a as a YAML List
  c8s get rc -A                   connections in every namespace
"""


def register(subparsers: Subparsers) -> None:
    parser = command(
        subparsers,
        "get",
        "list pipeline runs, configs or repository connections",
        "Show c8s objects as kubectl does: a table with the kind's columns, or the "
        "objects themselves as JSON or YAML.",
        EPILOG,
    )
    parser.add_argument(
        "resource",
        metavar="RESOURCE",
        help="pipelineruns (pr), pipelineconfigs (pc) or repositoryconnections (rc)",
    )
    parser.add_argument("name", metavar="NAME", nargs="?", help="one object's name (default: all)")
    add_namespace_option(parser)
    parser.add_argument("-A", "--all-namespaces", action="store_true", help="list across all namespaces")
    parser.add_argument("-o", "--output", choices=["table", "json", "yaml"], default="table")
    add_server_option(parser)
    parser.set_defaults(handler=lambda args: run_async(get(args, sys.stdout)))


async def get(args: argparse.Namespace, out: TextIO) -> int:
    kind = resource_kind(args.resource)
    async with resources(args) as store:
        objs = await _fetch(store, kind, args)
    if not objs and args.output == "table":
        where = "any namespace" if args.all_namespaces else f"{args.namespace} namespace"
        print(f"No resources found in {where}.", file=sys.stderr)
        return 0
    out.write(render(kind, objs, args, datetime.now(UTC)))
    return 0


async def _fetch(store: ResourceStore, kind: Kind, args: argparse.Namespace) -> list[columns.Listed]:
    if args.name is None:
        objs = await any_kind.list_of(store, kind, None if args.all_namespaces else args.namespace)
    else:
        try:
            objs = [await any_kind.get(store, kind, args.namespace, args.name)]
        except NotFound:
            raise not_found(resource_name(kind), args.name, args.namespace) from None
    return [o for o in objs if isinstance(o, PipelineConfig | PipelineRun | RepositoryConnection)]


def render(kind: Kind, objs: Sequence[columns.Listed], args: argparse.Namespace, now: datetime) -> str:
    """What `get` prints for these objects and arguments."""
    if args.output == "json":
        return rendering.to_json(_document(objs, args.name))
    if args.output == "yaml":
        return rendering.to_yaml(_document(objs, args.name))
    return _table(kind, objs, args.all_namespaces, now, one=args.name is not None)


def _document(objs: Sequence[columns.Listed], name: str | None) -> object:
    return rendering.builtin(objs[0]) if name is not None else rendering.kube_list(objs)


def _table(kind: Kind, objs: Sequence[columns.Listed], all_namespaces: bool, now: datetime, one: bool) -> str:
    rows = [columns.row(o, now, all_namespaces) for o in objs]
    text = format_table(columns.header(kind, all_namespaces), rows)
    run = objs[0]
    if one and isinstance(run, PipelineRun) and run.status is not None and run.status.steps:
        text += "\n" + format_table(columns.STEP_HEADER, columns.step_rows(run.status.steps, now))
    return text
