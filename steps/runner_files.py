"""Where local mode keeps a step's output under its home directory (shared by runner and log-shipper).

    <home>/runs/<namespace>/<run>/<uid>/<step>.log   merged stdout+stderr, appended while it runs
    <home>/runs/<namespace>/<run>/<uid>/<step>.exit  the exit code, written atomically (write to a
                                                     temp file, then rename) only once the process
                                                     has exited and all its output is in the .log

The protocol's one invariant: once `<step>.exit` exists, `<step>.log` never grows again, so a
reader that sees the exit file and then reads the log to its end has the whole output. The uid
level keeps two runs that reused a name apart.
"""

from __future__ import annotations

from pathlib import Path

from steps.plans import StepRef


def run_dir(home: str | Path, namespace: str, run: str, uid: str) -> Path:
    return Path(home) / "runs" / namespace / run / uid


def step_log_path(home: str | Path, ref: StepRef) -> Path:
    return run_dir(home, ref.namespace, ref.run, ref.uid) / f"{ref.step}.log"


def step_exit_path(home: str | Path, ref: StepRef) -> Path:
    return run_dir(home, ref.namespace, ref.run, ref.uid) / f"{ref.step}.exit"
