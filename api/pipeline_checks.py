"""Cross-field rules of a PipelineConfig spec that no single field's type can express.

Step names unique; dependsOn names another existing step, once; no dependency cycles (the message
names the cycle); explicit step timeouts along the longest dependsOn chain fit in the pipeline
timeout (DESIGN.md's correction of the spec: parallel steps do not add up); secrets map to valid,
distinct environment variables; the branch filter is not empty; the matrix expands sensibly.

The rules tolerate a spec read best-effort from a manifest with shape errors: values that do not
parse (already reported) are skipped rather than reported twice.
"""

from __future__ import annotations

import re

from api.dag import find_cycles, longest_path, step_graph
from api.durations import format_duration, parse_duration
from api.fielderrors import FieldError, child, item, suggestion
from api.matrix import check_matrix
from api.pipelineconfig import ENV_VAR_PATTERN, PipelineConfigSpec, SecretEnv, Step

_ENV_VAR = re.compile(ENV_VAR_PATTERN)


def check_pipeline_spec(spec: PipelineConfigSpec, path: str = "spec") -> list[FieldError]:
    """Every cross-field error of `spec`, whose fields live under `path`."""
    steps = child(path, "steps")
    errors = _unique_names(spec.steps, steps) + _dependencies(spec.steps, steps)
    cycles = _cycles(spec.steps, steps)
    errors += cycles + _timeouts(spec, path, check_chain=not cycles)
    for i, step in enumerate(spec.steps):
        errors += _secrets(step.secrets, child(item(steps, i), "secrets"))
    if not spec.branches:
        message = 'no branch would ever run: list branch globs, or remove branches to run on all ("**")'
        errors.append(FieldError(path=child(path, "branches"), message=message))
    if spec.matrix is not None:
        errors += check_matrix(spec.matrix, child(path, "matrix"))
    return errors


def _first_index(steps: list[Step]) -> dict[str, int]:
    """Step name -> index of its first declaration."""
    index: dict[str, int] = {}
    for i, step in enumerate(steps):
        index.setdefault(step.name, i)
    return index


def _unique_names(steps: list[Step], path: str) -> list[FieldError]:
    first = _first_index(steps)
    return [
        FieldError(
            path=child(item(path, i), "name"),
            message=f'duplicate step name "{step.name}" (first used by {item(path, first[step.name])}): '
            "step names must be unique, rename one",
        )
        for i, step in enumerate(steps)
        if step.name and first[step.name] != i
    ]


def _dependencies(steps: list[Step], path: str) -> list[FieldError]:
    names = [s.name for s in steps if s.name]
    errors = []
    for i, step in enumerate(steps):
        seen: set[str] = set()
        for j, dep in enumerate(step.depends_on):
            problem = _dependency_problem(step.name, dep, names, seen)
            if problem:
                errors.append(FieldError(path=item(child(item(path, i), "dependsOn"), j), message=problem))
            seen.add(dep)
    return errors


def _dependency_problem(name: str, dep: str, names: list[str], seen: set[str]) -> str | None:
    if dep == name:
        return f'step "{name}" depends on itself: remove this entry'
    if dep not in names:
        others = [n for n in dict.fromkeys(names) if n != name]
        hint = suggestion(dep, others) or f": use one of {', '.join(others)}"
        return f'unknown step "{dep}" in dependsOn{hint}'
    if dep in seen:
        return f'"{dep}" is listed twice: remove one'
    return None


def _cycles(steps: list[Step], path: str) -> list[FieldError]:
    first = _first_index(steps)
    errors = []
    for cycle in find_cycles(step_graph(steps)):
        start = first[cycle[0]]
        where = item(child(item(path, start), "dependsOn"), steps[start].depends_on.index(cycle[1]))
        message = (
            f"dependency cycle {' -> '.join(cycle)} (each step depends on the next), so none of them "
            "can ever start: remove one of these dependsOn entries"
        )
        errors.append(FieldError(path=where, message=message))
    return errors


def _seconds(duration: str | None) -> int | None:
    """Seconds of a duration, or None when unset or unreadable (a shape error, reported already)."""
    try:
        return parse_duration(duration) if duration else None
    except ValueError:
        return None


def _timeouts(spec: PipelineConfigSpec, path: str, check_chain: bool) -> list[FieldError]:
    steps = child(path, "steps")
    errors = [
        FieldError(path=child(item(steps, i), "timeout"), message="must be longer than 0, e.g. 10m")
        for i, step in enumerate(spec.steps)
        if _seconds(step.timeout) == 0
    ]
    limit = _seconds(spec.timeout)
    if limit == 0:
        errors.append(FieldError(path=child(path, "timeout"), message="must be longer than 0, e.g. 1h"))
    elif limit is not None and check_chain:
        errors += _chain_fits(spec, limit, path)
    return errors


def _chain_fits(spec: PipelineConfigSpec, limit: int, path: str) -> list[FieldError]:
    weights = {s.name: seconds for s in spec.steps if (seconds := _seconds(s.timeout))}
    total, chain = longest_path(step_graph(spec.steps), weights)
    if total <= limit:
        return []
    parts = " + ".join(f"{name} {format_duration(weights[name])}" for name in chain if name in weights)
    message = (
        f"pipeline timeout {spec.timeout} is shorter than the explicit step timeouts along the longest "
        f"dependsOn path {' -> '.join(chain)} ({parts} = {format_duration(total)}); steps that run in "
        f"parallel do not add up, only steps that depend on each other: raise timeout to at least "
        f"{format_duration(total)} or lower those step timeouts"
    )
    return [FieldError(path=child(path, "timeout"), message=message)]


def _secrets(secrets: list[SecretEnv], path: str) -> list[FieldError]:
    errors = []
    first: dict[str, int] = {}
    for k, secret in enumerate(secrets):
        where = item(path, k)
        if secret.env_var is None and not _ENV_VAR.match(secret.key):
            errors.append(FieldError(path=child(where, "key"), message=_bad_env_key(secret.key)))
        elif secret.variable in first:
            other = item(path, first[secret.variable])
            message = f"environment variable {secret.variable} is already set by {other}: set another envVar"
            errors.append(FieldError(path=where, message=message))
        first.setdefault(secret.variable, k)
    return errors


def _bad_env_key(key: str) -> str:
    fixed = re.sub(r"\W", "_", key).upper()
    fixed = f"_{fixed}" if fixed[:1].isdigit() else fixed
    return (
        f'key "{key}" is not a valid environment variable name, and envVar defaults to the key: '
        f"set envVar (letters, digits and '_', not starting with a digit), e.g. envVar: {fixed}"
    )
