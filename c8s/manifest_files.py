"""Reading manifest files: which files a path names, and the YAML documents in each.

Parsing never raises: a syntax error becomes a `ParseError` with its line and column, after the
documents that parsed before it. Duplicate mapping keys are errors (as in kubectl), where plain
PyYAML would silently keep the last value.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import msgspec
import yaml

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
