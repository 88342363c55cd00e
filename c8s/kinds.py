"""The resource names the CLI accepts, as kubectl spells them: plural, singular and short name."""

from __future__ import annotations

from api.pipelineconfig import PipelineConfig
from api.pipelinerun import PipelineRun
from api.repositoryconnection import RepositoryConnection
from c8s.failures import CliError

Kind = type[PipelineConfig] | type[PipelineRun] | type[RepositoryConnection]

#: Kind -> (resource name as printed, e.g. `pipelinerun/x`; its short name)
NAMES: dict[Kind, tuple[str, str]] = {
    PipelineRun: ("pipelinerun", "pr"),
    PipelineConfig: ("pipelineconfig", "pc"),
    RepositoryConnection: ("repositoryconnection", "rc"),
}
ALIASES: dict[str, Kind] = {
    alias: kind
    for kind, (singular, short) in NAMES.items()
    for alias in (singular, singular + "s", short, kind.__name__.lower())
}


def resource_kind(text: str) -> Kind:
    """The kind a resource argument names (`pr`, `pipelineruns`, `PipelineRun`, ...)."""
    kind = ALIASES.get(text.lower())
    if kind is None:
        known = ", ".join(f"{singular}s ({short})" for singular, short in NAMES.values())
        raise CliError(f'unknown resource type "{text}": use one of {known}')
    return kind


def resource_name(kind: type[object]) -> str:
    """`pipelinerun` for PipelineRun; `secret` for a v1 Secret."""
    for known, (singular, _) in NAMES.items():
        if kind is known:
            return singular
    return kind.__name__.lower()
