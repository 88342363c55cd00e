"""Reading manifest files: which files a path names, the YAML documents in each, and the valid
objects they hold (`load`, shared by `c8s apply` and the demo) with `c8s validate`'s error lines.

Parsing never raises: a syntax error becomes a `ParseError` with its line and column, after the
documents that parsed before it. Duplicate mapping keys are errors (as in kubectl), where plain
PyYAML would silently keep the last value.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import msgspec
import yaml

from api.pipelineconfig import PipelineConfig
from api.pipelinerun import PipelineRun
from api.repositoryconnection import RepositoryConnection
from api.secret import Secret
from api.validation import Validated, validate_manifest
from ports.resources import Resource

SUFFIXES = (".yaml", ".yml")


class ParseError(msgspec.Struct, frozen=True, kw_only=True):
    """A document that is not valid YAML; line and column count from 1."""

    line: int | None
    column: int | None
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}, column {self.column}: " if self.line is not None else ""
        return f"{where}invalid YAML: {self.message}"


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects a mapping key written twice."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[object, object]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, str | int | float | bool) and key in seen:
                message = f'key "{key}" is written twice in this mapping: remove one'
                raise yaml.constructor.ConstructorError(None, None, message, key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def manifest_files(path: Path) -> list[Path]:
    """The file itself, or every *.yaml / *.yml below a directory, sorted."""
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.suffix in SUFFIXES and p.is_file())
    return [path]


def documents(text: str) -> Iterator[object | ParseError]:
    """Each non-empty YAML document of `text`; a syntax error ends the stream as a ParseError."""
    try:
        for document in yaml.load_all(text, Loader=_StrictLoader):
            if document is not None:
                yield document
    except yaml.YAMLError as e:
        yield _parse_error(e)


def _parse_error(e: yaml.YAMLError) -> ParseError:
    mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
    problem = getattr(e, "problem", None) or str(e)
    context = getattr(e, "context", None)
    message = f"{problem} ({context})" if context else str(problem)
    if mark is None:
        return ParseError(line=None, column=None, message=message)
    return ParseError(line=mark.line + 1, column=mark.column + 1, message=message)


#: Write order: what others refer to comes first.
ORDER: dict[type[Resource], int] = {Secret: 0, PipelineConfig: 1, RepositoryConnection: 2, PipelineRun: 3}


def load(paths: list[str], namespace: str | None) -> tuple[list[Resource], list[str]]:
    """Every valid object of the files, in write order, and the error lines of the rest."""
    objs: list[Resource] = []
    errors: list[str] = []
    for name, text in _sources(paths, errors):
        for number, document in enumerate(documents(text), start=1):
            if isinstance(document, ParseError):
                errors.append(f"{name}: {document}")
                continue
            obj, problems = _validated(name, number, _in_namespace(document, namespace))
            objs += [obj] if obj is not None else []
            errors += problems
    return sorted(objs, key=lambda o: ORDER[type(o)]), errors


def _sources(paths: list[str], errors: list[str]) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for arg in paths:
        if arg == "-":
            found.append(("<stdin>", sys.stdin.read()))
            continue
        for path in manifest_files(Path(arg)):
            try:
                found.append((str(path), path.read_text(encoding="utf-8")))
            except FileNotFoundError:
                errors.append(f"{path}: no such file or directory")
            except (OSError, UnicodeDecodeError) as e:
                errors.append(f"{path}: cannot read: {e}")
    return found


def _in_namespace(document: object, namespace: str | None) -> object:
    """The document with `-n`'s namespace filled in where it names none (validation reports a clash)."""
    if namespace is None or not isinstance(document, dict):
        return document
    metadata = document.get("metadata")
    if isinstance(metadata, dict) and "namespace" not in metadata:
        return {**document, "metadata": {**metadata, "namespace": namespace}}
    return document


def _validated(name: str, number: int, document: object) -> tuple[Resource | None, list[str]]:
    result = validate_manifest(document)
    return result.obj, error_lines(name, number, result)


def error_lines(name: str, number: int, result: Validated) -> list[str]:
    """`<file>: <Kind>/<name>: <field path>: <message>` for each error of the `number`th document."""
    label = f"{result.kind}/{result.name if result.name != '?' else f'#{number}'}"
    return [f"{name}: {label}: {error}" for error in result.errors]
