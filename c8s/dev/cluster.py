"""`c8s dev up --kubeconfig FILE`: the options of Kubernetes mode and the cluster check before start.

Before any service starts, the cluster in FILE must answer and serve the c8s CRDs: missing ones are
installed (adapters.kube.crds, the same bodies as deploy/300-crds), each one said on the terminal.
A cluster that cannot be reached or refuses is a one-line error naming FILE, not a crash loop of
six services.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from adapters.kube.crds import ensure_crds
from c8s.failures import CliError
from ports.resources import StoreError, StoreUnavailable

CRD_DEADLINE = 60.0


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--kubeconfig",
        metavar="FILE",
        default=None,
        help="run in Kubernetes mode against the cluster of this kubeconfig (steps run as Jobs)",
    )
    parser.add_argument(
        "--log-store",
        metavar="URL",
        default=None,
        help="object storage for logs and artifacts, e.g. s3://bucket/prefix (default: DIR/objects)",
    )


def check_kubeconfig(kubeconfig: Path) -> None:
    if not kubeconfig.is_file():
        raise CliError(f"--kubeconfig {kubeconfig}: no such file")


async def prepare(kubeconfig: Path, say: Callable[[str], None]) -> None:
    """The cluster answers and serves the c8s CRDs (installed when missing); else a CliError."""
    say(f"Kubernetes mode: cluster of {kubeconfig}; checking the c8s CRDs ...")
    try:
        installed = await ensure_crds(str(kubeconfig), lambda m: say(f"  {m}"), CRD_DEADLINE)
    except StoreUnavailable as e:
        raise CliError(f"the cluster of {kubeconfig} cannot be reached: {e}") from e
    except StoreError as e:
        raise CliError(
            f"cannot check or install the c8s CRDs on the cluster of {kubeconfig}: {e} "
            "(ask an administrator to run: kubectl apply -f deploy/300-crds)"
        ) from e
    say(f"c8s CRDs {'installed and ' if installed else ''}established")
