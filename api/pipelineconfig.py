"""PipelineConfig: the declared structure of a pipeline (spec/data-model.md, entity 1).

Field metadata (pattern, description, default) here is the single source of the CRD schema in
deploy/300-crds, which is generated from these Structs and checked for staleness by a test.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from msgspec import Meta, Struct, field

from api.meta import API_VERSION, ObjectMeta

GitURL = Annotated[
    str, Meta(pattern=r"^(https?|git|ssh)://.*", description="Git repository URL (https, git or ssh)")
]
StepName = Annotated[
    str,
    Meta(
        pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
        max_length=63,
        description="Step identifier, unique within the pipeline (lower-case letters, digits, '-')",
    ),
]
Duration = Annotated[
    str, Meta(pattern=r"^[0-9]+(s|m|h)$", description="A duration such as 90s, 30m or 2h")
]
CPU = Annotated[
    str, Meta(pattern=r"^[0-9]+m?$", description="CPU request and limit: cores (2) or millicores (500m)")
]
Memory = Annotated[
    str, Meta(pattern=r"^[0-9]+(Mi|Gi)$", description="Memory request and limit, such as 512Mi or 2Gi")
]


DEFAULT_STEP_TIMEOUT = "30m"


class Resources(Struct, kw_only=True, rename="camel", omit_defaults=False):
    """CPU/memory requests and limits of one step."""

    cpu: CPU = "500m"
    memory: Memory = "1Gi"


class SecretEnv(Struct, kw_only=True, rename="camel", omit_defaults=True):
    """One key of a Secret in the run's namespace, injected as an environment variable."""

    secret_ref: Annotated[str, Meta(description="Name of the Kubernetes Secret")]
    key: Annotated[str, Meta(description="Key within the Secret")]
    env_var: Annotated[
        str | None, Meta(description="Environment variable name (defaults to the key)")
    ] = None

    @property
    def variable(self) -> str:
        return self.env_var or self.key


class Conditional(Struct, kw_only=True, rename="camel", omit_defaults=False):
    """When a step runs."""

    branch: Annotated[
        str | None, Meta(description="Run only when the run's branch matches this glob")
    ] = None
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
    image: Annotated[str, Meta(description="Container image for the step")]
    commands: Annotated[list[str], Meta(description="Shell commands, run in order; the first failure fails the step")]
    depends_on: Annotated[
        list[str], Meta(description="Names of steps that must complete before this one")
    ] = field(default_factory=list)
    resources: Resources = field(default_factory=Resources)
    timeout: Annotated[
        Duration | None,
        Meta(description="Step timeout such as 10m or 2h (default 30m); the step is killed and fails after it"),
    ] = None
    artifacts: Annotated[
        list[str], Meta(description="File patterns (globs, ** crosses directories) to upload after the step")
    ] = field(default_factory=list)
    secrets: list[SecretEnv] = field(default_factory=list)
    conditional: Conditional | None = None

    @property
    def effective_timeout(self) -> str:
        """The timeout in force: left unset (not defaulted by the CRD) so the pipeline-timeout rule
        can tell explicit step timeouts from the default (see DESIGN.md, spec corrections)."""
        return self.timeout or DEFAULT_STEP_TIMEOUT


class Matrix(Struct, kw_only=True, rename="camel", omit_defaults=True):
    """A matrix strategy: one PipelineRun per combination of dimension values, minus exclusions."""

    dimensions: Annotated[
        dict[str, list[str]], Meta(description="Dimension name to the values it takes")
    ] = field(default_factory=dict)
    exclude: Annotated[
        list[dict[str, str]], Meta(description="Combinations (partial ones match all completions) to skip")
    ] = field(default_factory=list)


class PipelineConfigSpec(Struct, kw_only=True, rename="camel", omit_defaults=True):
    repository: GitURL
    branches: Annotated[
        list[str], Meta(description="Branch filters as globs ('*' stays in one path segment, '**' crosses '/')")
    ] = field(default_factory=lambda: ["*"])
    steps: Annotated[list[Step], Meta(min_length=1, description="Pipeline steps")]
    timeout: Duration = "1h"
    matrix: Matrix | None = None


class PipelineConfigStatus(Struct, kw_only=True, rename="camel", omit_defaults=True):
    last_run: datetime | None = None
    total_runs: int = 0
    success_rate: float | None = None
    observed_sequence: int = 0


class PipelineConfig(Struct, kw_only=True, rename="camel", omit_defaults=True):
    api_version: str = API_VERSION
    kind: str = "PipelineConfig"
    metadata: ObjectMeta = field(default_factory=ObjectMeta)
    spec: PipelineConfigSpec
    status: PipelineConfigStatus | None = None
