"""Validation of PipelineConfig manifests (api/validation.py, api/manifests.py, api/pipeline_checks.py).

Covers, each with a valid and an invalid case and the exact path and message: required fields;
unknown fields with a did-you-mean hint (while the Structs themselves accept unknown fields);
types; the step-name pattern; step count limits; unique step names; dependsOn naming another
existing step, once; dependency cycles named in the message; cpu, memory and timeout formats; zero
timeouts; the git URL pattern; the corrected pipeline-timeout rule (explicit step timeouts along
the longest dependsOn path); secret keys and envVars as environment variable names; empty branch
filters; the matrix rules through a manifest; that all errors are collected at once; and that a
malformed step still takes part in the cross-step rules without false alarms.
"""

from __future__ import annotations

import copy

import msgspec

from api.pipelineconfig import PipelineConfig, Step
from api.validation import validate_manifest

Manifest = dict[str, object]


def step(name: str, **fields: object) -> Manifest:
    return {"name": name, "image": "golang:1.22", "commands": ["go test ./..."], **fields}


def config(*steps: Manifest, **spec: object) -> Manifest:
    body: Manifest = {"repository": "https://github.com/org/app", "steps": list(steps) or [step("test")]}
    return {
        "apiVersion": "c8s.dev/v1alpha1",
        "kind": "PipelineConfig",
        "metadata": {"name": "app-ci", "namespace": "team-a"},
        "spec": {**body, **spec},
    }


def errors(manifest: Manifest) -> list[str]:
    return [str(e) for e in validate_manifest(copy.deepcopy(manifest)).errors]


def test_minimal_config_is_valid_with_spec_defaults() -> None:
    """A config with a repository and one step validates and gets the spec's defaults."""
    result = validate_manifest(config())
    assert result.errors == []
    assert isinstance(result.obj, PipelineConfig)
    spec = result.obj.spec
    assert (spec.branches, spec.timeout, spec.steps[0].resources.cpu, spec.steps[0].resources.memory) == (
        ["**"],
        "1h",
        "500m",
        "1Gi",
    )
    assert spec.steps[0].timeout is None
    assert spec.steps[0].effective_timeout == "30m"


def test_missing_required_spec_fields() -> None:
    """Missing repository and steps are both reported, with what to add."""
    manifest = config()
    manifest["spec"] = {}
    assert errors(manifest) == [
        "spec.repository: required field is missing: add repository (Git repository URL (https, git or ssh))",
        "spec.steps: required field is missing: add steps (Pipeline steps; dependsOn orders them)",
    ]


def test_missing_required_step_fields() -> None:
    """A step without image and commands gets one error per field."""
    assert errors(config({"name": "test"})) == [
        "spec.steps[0].image: required field is missing: add image (Container image for the step)",
        "spec.steps[0].commands: required field is missing: add commands "
        "(Shell commands, run in order; the first failure fails the step)",
    ]


def test_missing_spec() -> None:
    """A manifest without spec says so."""
    manifest = config()
    del manifest["spec"]
    assert errors(manifest) == ["spec: required field is missing: add spec"]


def test_unknown_field_suggests_the_known_one() -> None:
    """A misspelt field is an error that names the intended field."""
    assert errors(config(step("build", dependson=["test"]), step("test"))) == [
        'spec.steps[0].dependson: unknown field "dependson": did you mean "dependsOn"?'
    ]


def test_unknown_field_without_close_match_lists_known_fields() -> None:
    """An unrelated unknown field lists the fields that exist."""
    assert errors(config(retries=3)) == [
        'spec.retries: unknown field "retries"; remove it (known fields: repository, branches, steps, '
        "timeout, matrix, cancelSuperseded)"
    ]


def test_structs_themselves_accept_unknown_fields() -> None:
    """The Structs do not forbid unknown fields (events carry them; schemas only grow)."""
    decoded = msgspec.convert({**step("a"), "futureField": 1}, Step)
    assert decoded.name == "a"


def test_wrong_types_say_how_to_fix() -> None:
    """A string for a list and a number for a string each get a fix."""
    assert errors(config(step("test", commands="go test ./...", image=3))) == [
        'spec.steps[0].image: expected a string, got an integer (3); quote it: "3"',
        "spec.steps[0].commands: expected a list, got a string (go test ./...); "
        'write a list, e.g. ["go test ./..."]',
    ]


def test_step_name_pattern() -> None:
    """Step names must be lower-case DNS labels."""
    assert errors(config(step("Unit_Test"))) == [
        "spec.steps[0].name: invalid value \"Unit_Test\": expected lower-case letters, digits and '-', "
        "starting and ending with a letter or digit"
    ]


def test_steps_must_not_be_empty() -> None:
    """A pipeline needs at least one step."""
    manifest = config()
    manifest["spec"]["steps"] = []  # type: ignore[index]
    assert errors(manifest) == ["spec.steps: needs at least 1 item, got 0"]


def test_steps_limit() -> None:
    """More than 100 steps is over the limit the CRD's CEL rules are costed for."""
    assert errors(config(*(step(f"s{i}") for i in range(101)))) == [
        "spec.steps: has 101 items, more than the limit of 100"
    ]


def test_duplicate_step_names() -> None:
    """The second use of a name is an error pointing at the first."""
    assert errors(config(step("test"), step("build"), step("test"))) == [
        'spec.steps[2].name: duplicate step name "test" (first used by spec.steps[0]): '
        "step names must be unique, rename one"
    ]


def test_depends_on_existing_step_is_valid() -> None:
    """dependsOn naming another step passes."""
    assert errors(config(step("test"), step("build", dependsOn=["test"]))) == []


def test_depends_on_unknown_step_suggests_closest() -> None:
    """A misspelt dependency names the step probably meant."""
    assert errors(config(step("test"), step("build", dependsOn=["tset"]))) == [
        'spec.steps[1].dependsOn[0]: unknown step "tset" in dependsOn: did you mean "test"?'
    ]


def test_depends_on_unknown_step_lists_steps() -> None:
    """Without a close match the message lists the other steps."""
    assert errors(config(step("test"), step("lint"), step("build", dependsOn=["deploy"]))) == [
        'spec.steps[2].dependsOn[0]: unknown step "deploy" in dependsOn: use one of test, lint'
    ]


def test_depends_on_itself() -> None:
    """A step cannot depend on itself."""
    assert errors(config(step("build", dependsOn=["build"]))) == [
        'spec.steps[0].dependsOn[0]: step "build" depends on itself: remove this entry'
    ]


def test_depends_on_listed_twice() -> None:
    """The same dependency twice is an error on the second."""
    assert errors(config(step("test"), step("build", dependsOn=["test", "test"]))) == [
        'spec.steps[1].dependsOn[1]: "test" is listed twice: remove one'
    ]


def test_cycle_is_named() -> None:
    """A dependency cycle is reported once, naming every step in it."""
    manifest = config(step("a", dependsOn=["b"]), step("b", dependsOn=["c"]), step("c", dependsOn=["a"]))
    assert errors(manifest) == [
        "spec.steps[0].dependsOn[0]: dependency cycle a -> b -> c -> a (each step depends on the next), "
        "so none of them can ever start: remove one of these dependsOn entries"
    ]


def test_resource_formats() -> None:
    """cpu and memory must use the accepted units."""
    resources = {"cpu": "0.5", "memory": "2G"}
    assert errors(config(step("test", resources=resources))) == [
        'spec.steps[0].resources.cpu: invalid value "0.5": expected whole cores such as "2" or millicores '
        "such as 500m",
        'spec.steps[0].resources.memory: invalid value "2G": '
        "expected a size in Mi or Gi such as 512Mi or 2Gi",
    ]


def test_unquoted_cpu_number() -> None:
    """cpu: 2 (a YAML integer) must be quoted; cpu: 0.5 cannot be fixed by quoting."""
    assert errors(config(step("a", resources={"cpu": 2}), step("b", resources={"cpu": 0.5}))) == [
        'spec.steps[0].resources.cpu: expected a string, got an integer (2); quote it: "2"',
        "spec.steps[1].resources.cpu: expected a string, got a number (0.5); expected whole cores such as "
        '"2" or millicores such as 500m',
    ]


def test_timeout_formats() -> None:
    """Step and pipeline timeouts must be a number with s, m or h."""
    expected = "expected a whole number of seconds, minutes or hours such as 90s, 30m or 2h"
    assert errors(config(step("test", timeout="10 min"), timeout="1d")) == [
        f'spec.steps[0].timeout: invalid value "10 min": {expected}',
        f'spec.timeout: invalid value "1d": {expected}',
    ]


def test_zero_timeouts() -> None:
    """A zero step or pipeline timeout is rejected."""
    assert errors(config(step("test", timeout="0m"), timeout="0h")) == [
        "spec.steps[0].timeout: must be longer than 0, e.g. 10m",
        "spec.timeout: must be longer than 0, e.g. 1h",
    ]


def test_repository_url_pattern() -> None:
    """scp-style git addresses are not URLs; the message lists the accepted schemes."""
    assert errors(config(repository="git@github.com:org/app.git")) == [
        'spec.repository: invalid value "git@github.com:org/app.git": expected a git URL starting with '
        "https://, http://, git:// or ssh://"
    ]


def test_repository_url_schemes_accepted() -> None:
    """https, http, git and ssh URLs pass."""
    for url in ("https://h/x", "http://h/x", "git://h/x", "ssh://git@h/x.git"):
        assert errors(config(repository=url)) == []


def test_default_step_timeouts_do_not_count_against_the_pipeline_timeout() -> None:
    """The spec's own example passes: only explicit step timeouts add up (DESIGN.md correction)."""
    steps = [
        step("test", timeout="10m"),
        step("build", dependsOn=["test"]),
        step("push", dependsOn=["build"]),
    ]
    assert errors(config(*steps, timeout="1h")) == []


def test_parallel_step_timeouts_do_not_add_up() -> None:
    """Two 40m steps side by side fit in 1h."""
    assert errors(config(step("a", timeout="40m"), step("b", timeout="40m"), timeout="1h")) == []


def test_chained_step_timeouts_exceeding_the_pipeline_timeout() -> None:
    """The longest chain of explicit timeouts must fit; the message names the chain and the fix."""
    steps = [
        step("test", timeout="40m"),
        step("lint", timeout="5m"),
        step("build", dependsOn=["test", "lint"]),
        step("push", dependsOn=["build"], timeout="30m"),
    ]
    assert errors(config(*steps, timeout="1h")) == [
        "spec.timeout: pipeline timeout 1h is shorter than the explicit step timeouts along the longest "
        "dependsOn path test -> build -> push (test 40m + push 30m = 70m); steps that run in parallel do "
        "not add up, only steps that depend on each other: raise timeout to at least 70m or lower those "
        "step timeouts"
    ]


def test_secret_with_valid_key_needs_no_env_var() -> None:
    """A key that is a valid variable name is used as the variable."""
    secrets = [
        {"secretRef": "db", "key": "DB_PASSWORD"},
        {"secretRef": "reg", "key": "config.json", "envVar": "CFG"},
    ]
    assert errors(config(step("test", secrets=secrets))) == []


def test_secret_key_that_is_not_a_variable_name_needs_env_var() -> None:
    """A key like config.json without envVar is an error with a suggested envVar."""
    secrets = [{"secretRef": "reg", "key": "config.json"}]
    assert errors(config(step("test", secrets=secrets))) == [
        'spec.steps[0].secrets[0].key: key "config.json" is not a valid environment variable name, and '
        "envVar defaults to the key: set envVar (letters, digits and '_', not starting with a digit), "
        "e.g. envVar: CONFIG_JSON"
    ]


def test_secret_env_var_pattern() -> None:
    """An envVar must itself be a valid variable name."""
    secrets = [{"secretRef": "db", "key": "pw", "envVar": "1PASSWORD"}]
    assert errors(config(step("test", secrets=secrets))) == [
        "spec.steps[0].secrets[0].envVar: invalid value \"1PASSWORD\": expected letters, digits and '_', "
        "not starting with a digit (e.g. DB_PASSWORD)"
    ]


def test_secret_env_var_set_twice() -> None:
    """Two secrets may not set the same variable."""
    secrets = [{"secretRef": "a", "key": "TOKEN"}, {"secretRef": "b", "key": "x", "envVar": "TOKEN"}]
    assert errors(config(step("test", secrets=secrets))) == [
        "spec.steps[0].secrets[1]: environment variable TOKEN is already set by spec.steps[0].secrets[0]: "
        "set another envVar"
    ]


def test_secret_ref_must_be_a_name() -> None:
    """secretRef names a Secret, so it follows Kubernetes naming."""
    secrets = [{"secretRef": "DB Creds", "key": "PW"}]
    assert errors(config(step("test", secrets=secrets))) == [
        'spec.steps[0].secrets[0].secretRef: invalid value "DB Creds": expected a DNS-1123 name: lower-case '
        "letters, digits, '-' and '.', e.g. my-app-ci"
    ]


def test_empty_branch_filter() -> None:
    """branches: [] would never run; the message says how to run on every branch."""
    assert errors(config(branches=[])) == [
        'spec.branches: no branch would ever run: list branch globs, or remove branches to run on all ("**")'
    ]


def test_empty_conditional_branch() -> None:
    """An empty conditional branch glob is rejected."""
    assert errors(config(step("test", conditional={"branch": ""}))) == [
        "spec.steps[0].conditional.branch: must not be empty"
    ]


def test_conditional_on_success_type() -> None:
    """onSuccess is a boolean."""
    assert errors(config(step("cleanup", conditional={"onSuccess": "no"}))) == [
        "spec.steps[0].conditional.onSuccess: expected true or false, got a string (no)"
    ]


def test_matrix_rules_apply_through_the_manifest() -> None:
    """An empty matrix in a manifest is reported at its path."""
    assert errors(config(matrix={})) == [
        "spec.matrix.dimensions: a matrix needs at least one dimension: "
        'add e.g. dimensions: {go: ["1.21", "1.22"]}'
    ]


def test_matrix_values_must_be_strings() -> None:
    """Unquoted version numbers are YAML floats: quote them."""
    assert errors(config(matrix={"dimensions": {"go": [1.22]}})) == [
        'spec.matrix.dimensions.go[0]: expected a string, got a number (1.22); quote it: "1.22"'
    ]


def test_every_error_is_collected() -> None:
    """Shape errors and cross-step errors of one manifest are all reported together."""
    manifest = config(
        step("test", resources={"cpu": "lots"}),
        step("test", dependsOn=["nope"]),
        repository="ftp://x",
    )
    paths = [e.path for e in validate_manifest(manifest).errors]
    assert paths == [
        "spec.repository",
        "spec.steps[0].resources.cpu",
        "spec.steps[1].name",
        "spec.steps[1].dependsOn[0]",
    ]


def test_malformed_step_still_counts_for_dependencies() -> None:
    """A step with a shape error keeps its name, so steps depending on it raise no false alarm."""
    manifest = config(step("build", image=None), step("push", dependsOn=["build"]))
    assert errors(manifest) == ["spec.steps[0].image: expected a string, got null"]
