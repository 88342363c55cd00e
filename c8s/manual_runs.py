"""The PipelineRuns a manual trigger creates for a config: one, or one per matrix combination
(api.matrix.expand_matrix, excludes applied), each carrying its combination in spec.matrixIndex.

Names are `<config>-<5 random characters>` (the apiserver's generateName alphabet), with a
matrix `<config>-<random>-<n>`, n counting from 1, so the runs of one trigger sort together; the
config name is cut so that a run name fits 63 characters.
Pure apart from the random suffix and the trigger time, which are parameters.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from api.matrix import expand_matrix
from api.meta import ObjectMeta
from api.pipelineconfig import PipelineConfig
from api.pipelinerun import PipelineRun, PipelineRunSpec

#: No vowels, no look-alike characters: names never spell words or confuse 0/o, 1/l.
SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
#: Run names become Job names and label values: at most 63 characters, suffixes included
#: (`-<5 random>` and, with a matrix, `-<n>` with n up to 256 combinations).
MAX_NAME = 63
MAX_PREFIX = MAX_NAME - 6 - 4


def random_suffix(length: int = 5) -> str:
    return "".join(secrets.choice(SUFFIX_ALPHABET) for _ in range(length))


def manual_runs(
    config: PipelineConfig, commit: str, branch: str | None, triggered_by: str, at: datetime, suffix: str
) -> list[PipelineRun]:
    """The runs to create for one trigger of `config` at `commit`."""
    base = f"{config.metadata.name[:MAX_PREFIX].rstrip('-.')}-{suffix}"
    matrix = config.spec.matrix
    combinations: list[dict[str, str] | None] = list(expand_matrix(matrix)) if matrix else [None]
    names = [base] if matrix is None else [f"{base}-{n}" for n in range(1, len(combinations) + 1)]
    return [
        PipelineRun(
            metadata=ObjectMeta(name=name, namespace=config.metadata.namespace),
            spec=PipelineRunSpec(
                pipeline_config_ref=config.metadata.name,
                commit=commit,
                branch=branch,
                triggered_by=triggered_by,
                triggered_at=at,
                matrix_index=combination,
            ),
        )
        for name, combination in zip(names, combinations, strict=True)
    ]
