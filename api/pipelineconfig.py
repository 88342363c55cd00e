"""PipelineConfig: the declared structure of a pipeline (spec/data-model.md, entity 1).

Field metadata (pattern, description, default, limits) here is the single source of the CRD schema in
deploy/300-crds, which is generated from these Structs (api/crds.py) and checked for staleness by a
test. `Meta(extra={"expected": ...})` is the phrase the validator uses when a value breaks a pattern.
The size limits (steps, commands, ...) keep the CRD's CEL rules within the apiserver's cost budget.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from msgspec import Meta, Struct, field

from api.meta import API_VERSION, Name, ObjectMeta

MAX_STEPS = 100
MAX_ITEMS = 100
MAX_DIMENSIONS = 10
MAX_VALUES = 50

GitURL = Annotated[
    str,
    Meta(
        pattern=r"^(https?|git|ssh)://.*",
        max_length=2048,
        description="Git repository URL (https, git or ssh)",
        extra={"expected": "a git URL starting with https://, http://, git:// or ssh://"},
    ),
]
StepName = Annotated[
    str,
    Meta(
        pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
        max_length=63,
        description="Step identifier, unique within the pipeline (lower-case letters, digits, '-')",
        extra={"expected": "lower-case letters, digits and '-', starting and ending with a letter or digit"},
    ),
]
Duration = Annotated[
    str,
    Meta(
        pattern=r"^[0-9]+(s|m|h)$",
        max_length=16,
        description="A duration such as 90s, 30m or 2h",
        extra={"expected": "a whole number of seconds, minutes or hours such as 90s, 30m or 2h"},
    ),
]
CPU = Annotated[
    str,
    Meta(
        pattern=r"^[0-9]+m?$",
        max_length=16,
        description="CPU request and limit: cores (2) or millicores (500m)",
        extra={"expected": 'whole cores such as "2" or millicores such as 500m'},
    ),
]
Memory = Annotated[
    str,
    Meta(
        pattern=r"^[0-9]+(Mi|Gi)$",
        max_length=16,
        description="Memory request and limit, such as 512Mi or 2Gi",
        extra={"expected": "a size in Mi or Gi such as 512Mi or 2Gi"},
    ),
]
ENV_VAR_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
EnvVarName = Annotated[
    str,
    Meta(
        pattern=ENV_VAR_PATTERN,
        max_length=253,
        description="Environment variable name (letters, digits and '_', not starting with a digit)",
        extra={"expected": "letters, digits and '_', not starting with a digit (e.g. DB_PASSWORD)"},
    ),
]
SecretKey = Annotated[
    str,
    Meta(
        pattern=r"^[-._a-zA-Z0-9]+$",
        max_length=253,
        description="Key within the Secret",
        extra={"expected": "a Secret key: letters, digits, '-', '_' and '.'"},
    ),
]
Glob = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=253,
        description="Branch glob: '*' matches within one path segment, '**' also crosses '/'",
    ),
]
Command = Annotated[str, Meta(max_length=65536, description="One shell command")]
ArtifactPattern = Annotated[str, Meta(min_length=1, max_length=1024, description="File glob")]
MatrixValue = Annotated[str, Meta(max_length=253, description="One value of a matrix dimension")]


DEFAULT_STEP_TIMEOUT = "30m"


class Resources(Struct, kw_only=True, rename="camel", omit_defaults=False):
    """CPU/memory requests and limits of one step."""

    cpu: CPU = "500m"
    memory: Memory = "1Gi"


class SecretEnv(Struct, kw_only=True, rename="camel", omit_defaults=True):
    """One key of a Secret in the run's namespace, injected as an environment variable."""

    secret_ref: Annotated[Name, Meta(description="Name of the Kubernetes Secret (same namespace)")]
    key: SecretKey
    env_var: Annotated[
        EnvVarName | None,
        Meta(description="Environment variable name (defaults to the key, which must then be a valid name)"),
    ] = None

    @property
    def variable(self) -> str:
        return self.env_var or self.key


class Conditional(Struct, kw_only=True, rename="camel", omit_defaults=False):
    """When a step runs."""

    branch: Annotated[Glob | None, Meta(description="Run only when the run's branch matches this glob")] = (
        None
    )
    on_success: Annotated[
        bool,
        Meta(
            description="true: run only if the steps it depends on succeeded; "
            "false: run even after a failure (a cleanup step)"
        ),
    ] = True


class Step(Struct, kw_only=True, rename="camel", omit_defaults=True):
    """One step of a pipeline: a container image and the shell commands to run in it."""

    name: StepName
    image: Annotated[str, Meta(min_length=1, max_length=1024, description="Container image for the step")]
    commands: Annotated[
        list[Command],
        Meta(
            max_length=MAX_ITEMS,
            description="Shell commands, run in order; the first failure fails the step",
        ),
    ]
    depends_on: Annotated[
        list[Annotated[str, Meta(max_length=63)]],
        Meta(max_length=MAX_STEPS, description="Names of steps that must complete before this one"),
    ] = field(default_factory=list)
    resources: Annotated[
        Resources, Meta(description="CPU/memory requests and limits (default 500m CPU, 1Gi memory)")
    ] = field(default_factory=Resources)
    timeout: Annotated[
        Duration | None,
        Meta(
            description="Step timeout such as 10m or 2h (default 30m); the step is killed and fails after it"
        ),
    ] = None
    artifacts: Annotated[
        list[ArtifactPattern],
        Meta(
            max_length=MAX_ITEMS,
            description="File patterns (globs, ** crosses directories) to upload after the step",
        ),
    ] = field(default_factory=list)
    secrets: Annotated[
        list[SecretEnv],
        Meta(max_length=MAX_ITEMS, description="Secret keys to inject as environment variables"),
    ] = field(default_factory=list)
    conditional: Annotated[
        Conditional | None, Meta(description="When the step runs (branch filter, cleanup after failure)")
    ] = None

    @property
    def effective_timeout(self) -> str:
        """The timeout in force: left unset (not defaulted by the CRD) so the pipeline-timeout rule
        can tell explicit step timeouts from the default (see DESIGN.md, spec corrections)."""
        return self.timeout or DEFAULT_STEP_TIMEOUT


class Matrix(Struct, kw_only=True, rename="camel", omit_defaults=True):
    """A matrix strategy: one PipelineRun per combination of dimension values, minus exclusions."""

    dimensions: Annotated[
        dict[str, Annotated[list[MatrixValue], Meta(max_length=MAX_VALUES)]],
        Meta(
            max_length=MAX_DIMENSIONS,
            description="Dimension name to the values it takes; each run gets MATRIX_<NAME> set",
        ),
    ] = field(default_factory=dict)
    exclude: Annotated[
        list[Annotated[dict[str, MatrixValue], Meta(max_length=MAX_DIMENSIONS)]],
        Meta(
            max_length=MAX_ITEMS,
            description="Combinations to skip; a partial one skips every combination containing it",
        ),
    ] = field(default_factory=list)


class PipelineConfigSpec(Struct, kw_only=True, rename="camel", omit_defaults=True):
    """The desired pipeline: where the code is, which branches run, and the steps."""

    repository: GitURL
    branches: Annotated[
        list[Glob],
        Meta(
            max_length=MAX_ITEMS,
            description="Branch globs ('*' stays in one path segment, '**' crosses '/'); default: every ref",
        ),
    ] = field(default_factory=lambda: ["**"])
    steps: Annotated[
        list[Step],
        Meta(min_length=1, max_length=MAX_STEPS, description="Pipeline steps; dependsOn orders them"),
    ]
    timeout: Annotated[
        Duration, Meta(description="Pipeline timeout such as 1h; the run fails when it is exceeded")
    ] = "1h"
    matrix: Annotated[
        Matrix | None, Meta(description="Matrix strategy: one run per combination of dimension values")
    ] = None
    cancel_superseded: Annotated[
        bool,
        Meta(
            description="A newer push to a branch or pull request cancels this config's unfinished "
            "runs of it (false keeps them running)"
        ),
    ] = True


class PipelineConfigStatus(Struct, kw_only=True, rename="camel", omit_defaults=True):
    """Run statistics, written by the projector."""

    last_run: Annotated[datetime | None, Meta(description="When the latest run was triggered")] = None
    total_runs: Annotated[int, Meta(ge=0, description="Number of runs of this pipeline")] = 0
    success_rate: Annotated[
        Annotated[float, Meta(ge=0, le=1)] | None,
        Meta(description="Fraction of finished runs that succeeded (0 to 1)"),
    ] = None
    finished_runs: Annotated[int, Meta(ge=0, description="Number of runs that reached a final phase")] = 0
    succeeded_runs: Annotated[int, Meta(ge=0, description="Number of runs that succeeded")] = 0
    observed_sequence: Annotated[
        int, Meta(ge=0, description="Stream sequence of the last event folded into this status")
    ] = 0


class PipelineConfig(Struct, kw_only=True, rename="camel", omit_defaults=True):
    """A pipeline definition: steps, dependencies, resources and execution conditions."""

    api_version: str = API_VERSION
    kind: str = "PipelineConfig"
    metadata: ObjectMeta = field(default_factory=ObjectMeta)
    spec: PipelineConfigSpec
    status: PipelineConfigStatus | None = None
