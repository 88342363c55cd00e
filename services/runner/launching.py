"""Handing a prepared step to its shim: the command line, the environment, the detached start.

The step runs `sh -e -c` with its commands joined by newlines, so the first failing command fails
the step. Its environment is built from nothing: PATH and LANG from the runner, HOME a directory of
the step's own, then the run's variables (C8S_*, COMMIT_SHA, BRANCH, MATRIX_*), then its secrets.
`launch` returns once the shim is detached and holds the claim's lock; the step then belongs to
the shim, whatever happens to the runner. The shim's own environment is the runner's without its
credentials (bus identity, object-store keys), so a step cannot read them from its parent either.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Mapping
from pathlib import Path

import msgspec

from services.runner.shim import ShimSpec
from steps.plans import StepPlan

SHELL = "sh"


class ShimFailed(Exception):
    """The shim could not be started; the step did not run."""


def command_argv(commands: list[str]) -> list[str]:
    return [SHELL, "-e", "-c", "\n".join(commands)]


def step_environment(
    plan: StepPlan, secrets: Mapping[str, str], home: Path, base: Mapping[str, str]
) -> dict[str, str]:
    env = {"PATH": base.get("PATH", "/usr/local/bin:/usr/bin:/bin"), "HOME": str(home)}
    env["LANG"] = base.get("LANG", "C.UTF-8")
    env.update(plan.env)
    env.update(secrets)
    return env


#: The runner's own credentials: never in a shim's or a step's environment.
PRIVATE = (
    "C8S_NATS_USER",
    "C8S_NATS_PASSWORD",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
)


def shim_environment(runner_env: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in runner_env.items() if k not in PRIVATE}


async def launch(spec: ShimSpec) -> None:
    """Start the shim for `spec` and return once it has detached."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.runner.shim",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
        pass_fds=(spec.lock_fd,),
        env=shim_environment(os.environ),
    )
    output, _ = await proc.communicate(msgspec.json.encode(spec))
    if proc.returncode != 0:
        text = output.decode(errors="replace").strip()[-500:]
        raise ShimFailed(f"the step's shim did not start (exit code {proc.returncode}): {text}")
