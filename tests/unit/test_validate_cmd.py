"""`c8s validate -f FILE|DIR` (c8s/commands/validate.py, c8s/manifests.py), run in-process.

Covers: the shipped examples validate (exit 0, summary on stderr); exact error lines
`<file>: <Kind>/<name>: <path>: <message>` and exit 1; unnamed documents labelled by position;
YAML syntax errors and duplicate keys reported with line and column after the documents before
them; recursion into directories for *.yaml and *.yml only; missing files; stdin; --help; and the
installed console script.
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from c8s.cli import main

ROOT = Path(__file__).resolve().parents[2]
GOOD_RUN = """\
apiVersion: c8s.dev/v1alpha1
kind: PipelineRun
metadata: {name: app-1}
spec: {pipelineConfigRef: app, commit: abc1234}
"""


def validate(capsys: pytest.CaptureFixture[str], *paths: str) -> tuple[int, list[str], str]:
    code = main(["validate", *(arg for path in paths for arg in ("-f", path))])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err.strip()


def test_examples_validate(capsys: pytest.CaptureFixture[str]) -> None:
    """Every shipped example is valid: no output, exit 0, a summary on stderr."""
    code, lines, summary = validate(capsys, str(ROOT / "examples"))
    assert (code, lines) == (0, [])
    assert summary == "5 files, 7 objects, 0 errors"


def test_error_lines_and_exit_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Each error is one line naming file, object and field; any error exits 1."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        GOOD_RUN
        + "---\n"
        + "apiVersion: c8s.dev/v1alpha1\nkind: PipelineRun\nmetadata: {name: app-2}\n"
        + "spec: {pipelineConfigRef: app, commit: XYZ, triggerdBy: me}\n"
    )
    code, lines, summary = validate(capsys, str(bad))
    assert code == 1
    assert lines == [
        f'{bad}: PipelineRun/app-2: spec.triggerdBy: unknown field "triggerdBy": did you mean "triggeredBy"?',
        f'{bad}: PipelineRun/app-2: spec.commit: invalid value "XYZ": expected 7 to 40 lower-case hex '
        "characters, e.g. abc123def456",
    ]
    assert summary == "1 file, 2 objects, 2 errors"


def test_unnamed_document_is_labelled_by_position(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A document without a name is labelled with its position in the file."""
    path = tmp_path / "x.yaml"
    path.write_text(GOOD_RUN + "---\nkind: Widget\n")
    _, lines, _ = validate(capsys, str(path))
    assert lines == [
        f'{path}: Widget/#2: kind: unknown kind "Widget"; c8s validates PipelineConfig, PipelineRun, '
        "RepositoryConnection, Secret"
    ]


def test_yaml_syntax_error_has_line_number(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Unparsable YAML is one error with its line and column, after the documents that parsed."""
    path = tmp_path / "broken.yaml"
    path.write_text(GOOD_RUN + "---\nkind: PipelineRun\nspec:\n  commit: [abc\n  branch: main\n")
    code, lines, summary = validate(capsys, str(path))
    assert code == 1
    assert lines == [
        f"{path}: line 9, column 9: invalid YAML: expected ',' or ']', but got ':' "
        "(while parsing a flow sequence)"
    ]
    assert summary == "1 file, 1 object, 1 error"


def test_bad_indentation_is_reported_not_raised(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A mapping value in the wrong place is a located error, never a traceback."""
    path = tmp_path / "indent.yaml"
    path.write_text("kind: PipelineRun\n  spec: x\n")
    code, lines, _ = validate(capsys, str(path))
    assert code == 1
    assert lines == [f"{path}: line 2, column 7: invalid YAML: mapping values are not allowed here"]


def test_duplicate_key_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A key written twice is reported where it repeats (PyYAML alone would keep the last)."""
    path = tmp_path / "dup.yaml"
    path.write_text("kind: PipelineRun\nkind: PipelineConfig\n")
    _, lines, _ = validate(capsys, str(path))
    assert lines == [
        f'{path}: line 2, column 1: invalid YAML: key "kind" is written twice in this mapping: remove one'
    ]


def test_directory_recursion(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A directory is searched recursively for *.yaml and *.yml; other files are ignored."""
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "run.yml").write_text(GOOD_RUN)
    (tmp_path / "run.yaml").write_text(GOOD_RUN)
    (tmp_path / "notes.txt").write_text("not: [yaml")
    code, lines, summary = validate(capsys, str(tmp_path))
    assert (code, lines, summary) == (0, [], "2 files, 2 objects, 0 errors")


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A path that does not exist is an error, not a traceback."""
    missing = tmp_path / "nope.yaml"
    code, lines, _ = validate(capsys, str(missing))
    assert (code, lines) == (1, [f"{missing}: no such file or directory"])


def test_stdin(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """'-' reads manifests from standard input."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(GOOD_RUN.replace("abc1234", "nothex")))
    code, lines, _ = validate(capsys, "-")
    assert code == 1
    assert lines == [
        '<stdin>: PipelineRun/app-1: spec.commit: invalid value "nothex": expected 7 to 40 lower-case hex '
        "characters, e.g. abc123def456"
    ]


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    """--help explains the subcommand and exits 0."""
    with pytest.raises(SystemExit) as exit_info:
        main(["validate", "--help"])
    assert exit_info.value.code == 0
    assert "-f FILE|DIR, --filename FILE|DIR" in capsys.readouterr().out


def test_console_script(tmp_path: Path) -> None:
    """The installed `c8s` script runs validate and returns its exit code."""
    path = tmp_path / "bad.yaml"
    path.write_text("kind: PipelineConfig\napiVersion: c8s.dev/v1alpha1\nmetadata: {name: x}\n")
    script = Path(sys.executable).with_name("c8s")
    result = subprocess.run(
        [str(script), "validate", "-f", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 1
    assert result.stdout == f"{path}: PipelineConfig/x: spec: required field is missing: add spec\n"
    assert result.stderr == "1 file, 1 object, 1 error\n"
