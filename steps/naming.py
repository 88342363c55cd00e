"""Deterministic names for the workloads of a run.

A step's Job is `<run>-<step>`; when that exceeds Kubernetes' 63-character label limit it is cut
and suffixed with a hash of the full name, so the same run and step always give the same name (an
AlreadyExists on create means the work was already done) and two different steps never collide.
"""

from __future__ import annotations

import hashlib

MAX_NAME = 63
_HASH = 8


def job_name(run: str, step: str) -> str:
    full = f"{run}-{step}"
    if len(full) <= MAX_NAME:
        return full
    digest = hashlib.sha256(full.encode()).hexdigest()[:_HASH]
    head = full[: MAX_NAME - _HASH - 1].rstrip("-.")
    return f"{head}-{digest}"
