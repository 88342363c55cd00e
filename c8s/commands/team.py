"""`c8s team onboard NAMESPACE`: print the RoleBindings that let c8s work in a team namespace.

Prints (never applies: onboarding is a cluster admin's act, done with their own kubectl) the
manifest c8s.onboarding builds; a bad or reserved namespace name is a usage error (exit 2) that
says which names are accepted.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from typing import TextIO

from c8s.commands import HelpFormatter, Subparsers
from c8s.onboarding import (
    GRANTS,
    JOB_STOPPER,
    SECRET_READER,
    STEP_RUNNER,
    SYSTEM_NAMESPACE,
    BadNamespace,
    check_namespace,
    manifest,
)

WIDTH = 96

DESCRIPTION = (
    textwrap.fill(
        "c8s's services hold no cluster-wide right on Secrets, and none to write Jobs or pods. In each "
        "namespace where teams keep PipelineConfigs and RepositoryConnections and run pipelines, a "
        f"cluster admin lends them what they need there by binding ClusterRoles {SECRET_READER} "
        f"(`get` on Secrets), {STEP_RUNNER} (create and patch Jobs, list and patch pods) and "
        f"{JOB_STOPPER} (patch Jobs), all in deploy/210-team-roles.yaml:",
        WIDTH,
        break_on_hyphens=False,
    )
    + "\n"
    + "".join(
        textwrap.fill(
            f"{g.role.removeprefix('c8s-team-')}: {g.why}",
            WIDTH,
            initial_indent=f"  {g.account:<16} ",
            subsequent_indent=" " * 19,
        )
        + "\n"
        for g in GRANTS
    )
    + textwrap.fill(
        "This command prints those RoleBindings (YAML); pipe them to kubectl. Without them no step "
        "runs there (each run fails with reason NotOnboarded), webhooks are refused, commit statuses "
        "are not posted, step logs are not shipped (they cannot be masked) and configs naming Secrets "
        "are refused, each with a message naming the namespace and this command.",
        WIDTH,
    )
    + "\n"
)
EPILOG = """examples:
  c8s team onboard team-a | kubectl apply -f -     onboard team-a (as a cluster admin; the
                                                   namespace must exist: kubectl create namespace)
  c8s team onboard team-a > team-a-c8s.yaml        review or commit it first (GitOps)
  c8s team onboard team-a | kubectl delete -f -    offboard team-a
  kubectl get rolebindings -A -l app.kubernetes.io/managed-by=c8s-team-onboard
                                                   which namespaces are onboarded
"""


def register(subparsers: Subparsers) -> None:
    """Add `team` and its subcommand `onboard`."""
    team = subparsers.add_parser("team", help="onboard a team namespace (RBAC for c8s's services)")
    commands = team.add_subparsers(title="commands", metavar="COMMAND", required=True)
    parser = commands.add_parser(
        "onboard",
        help="print the RoleBindings c8s's services need in a team namespace",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("namespace", metavar="NAMESPACE", type=_namespace, help="the team namespace")
    parser.add_argument(
        "--system-namespace",
        default=SYSTEM_NAMESPACE,
        metavar="NS",
        help=f"where c8s's ServiceAccounts live (default: {SYSTEM_NAMESPACE})",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Print the onboarding manifest of `args.namespace`."""
    try:
        text = manifest(args.namespace, args.system_namespace)
    except BadNamespace as e:  # the team namespace is the system namespace given
        print(f"c8s: {e}", file=sys.stderr)
        return 2
    (out or sys.stdout).write(text)
    return 0


def _namespace(text: str) -> str:
    try:
        check_namespace(text)
    except BadNamespace as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text
