"""Where local mode keeps a step's output under its home directory (shared by runner and log-shipper).

    <home>/runs/<namespace>/<run>/<uid>/<step>.log   merged stdout+stderr, appended while it runs
    <home>/runs/<namespace>/<run>/<uid>/<step>.exit  the exit code, written atomically (write to a
                                                     temp file, then rename) only once the process
                                                     has exited and all its output is in the .log
    <home>/runs/<namespace>/<run>/<uid>/<step>.mask  the secret values the step was given, as the
                                                     runner read them when it started the step
                                                     (JSON list of base64 strings, 0600, written
                                                     before StepStarted is published)

The log and the mask files are the log-shipper's to remove: a step's log once its LogShipped is
published, the run's mask files once the run finished (a step may print a value another step was
given, so every snapshot of the run masks every step until the run is over).

The protocol's one invariant: once `<step>.exit` exists, `<step>.log` never grows again, so a
reader that sees the exit file and then reads the log to its end has the whole output. The uid
level keeps two runs that reused a name apart.
"""

from __future__ import annotations

from pathlib import Path

from steps.plans import StepRef

MASK_SUFFIX = ".mask"
#: The raw log's size limit in local mode, a guard for the runner's disk; past it one marker line
#: (adapters.runtime.processes). The stored log has its own, smaller, configurable cap (the
#: log-shipper's `max_log_bytes`).
RAW_LOG_LIMIT = 1024 * 1024 * 1024


def run_dir(home: str | Path, namespace: str, run: str, uid: str) -> Path:
    return Path(home) / "runs" / namespace / run / uid


def step_log_path(home: str | Path, ref: StepRef) -> Path:
    return run_dir(home, ref.namespace, ref.run, ref.uid) / f"{ref.step}.log"


def step_mask_path(home: str | Path, ref: StepRef) -> Path:
    return run_dir(home, ref.namespace, ref.run, ref.uid) / f"{ref.step}{MASK_SUFFIX}"


def step_exit_path(home: str | Path, ref: StepRef) -> Path:
    return run_dir(home, ref.namespace, ref.run, ref.uid) / f"{ref.step}.exit"
