"""`c8s validate -f FILE|DIR`: check manifests offline, one line per error.

Output: `<file>: <Kind>/<name>: <field path>: <message>` per error on stdout, a summary line
(`3 files, 5 objects, 0 errors`) on stderr; exit 1 when there is any error, else 0. Files that
cannot be read or parsed are errors too, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from api.validation import validate_manifest
from c8s.commands import Subparsers, add_files_option, command
from c8s.manifests import ParseError, documents, error_lines, manifest_files


def register(subparsers: Subparsers) -> None:
    """Add the `validate` subcommand."""
    parser = command(
        subparsers,
        "validate",
        "check c8s manifests offline (no cluster needed)",
        "Check PipelineConfig, PipelineRun, RepositoryConnection and v1 Secret manifests "
        "against the c8s schema and rules: required and unknown fields, formats, step names, "
        "dependencies and cycles, timeouts, matrix, secrets. Prints one line per error and exits 1 "
        "if there is any. Multi-document YAML files are supported.",
        "example: c8s validate -f examples/",
    )
    add_files_option(
        parser,
        "a manifest file, '-' for stdin, or a directory searched recursively for *.yaml and "
        "*.yml (repeatable)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Validate every manifest the paths name; print errors and a summary; return the exit code."""
    out, err = out or sys.stdout, err or sys.stderr
    files = objects = errors = 0
    for name, text in _sources(args.paths, out):
        if text is None:
            errors += 1
            continue
        files += 1
        count, failed = _check_text(name, text, out)
        objects, errors = objects + count, errors + failed
    print(f"{_plural(files, 'file')}, {_plural(objects, 'object')}, {_plural(errors, 'error')}", file=err)
    return 1 if errors else 0


def _sources(paths: list[str], out: TextIO) -> list[tuple[str, str | None]]:
    """(name, text) of every file to check; text None for one that could not be read (reported)."""
    found: list[tuple[str, str | None]] = []
    for arg in paths:
        if arg == "-":
            found.append(("<stdin>", sys.stdin.read()))
            continue
        for path in manifest_files(Path(arg)):
            found.append((str(path), _read(path, out)))
    return found


def _read(path: Path, out: TextIO) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        print(f"{path}: no such file or directory", file=out)
    except (OSError, UnicodeDecodeError) as e:
        print(f"{path}: cannot read: {e}", file=out)
    return None


def _check_text(name: str, text: str, out: TextIO) -> tuple[int, int]:
    """Validate each document of one file; return (objects, errors)."""
    objects = errors = 0
    for number, document in enumerate(documents(text), start=1):
        if isinstance(document, ParseError):
            print(f"{name}: {document}", file=out)
            errors += 1
            continue
        objects += 1
        result = validate_manifest(document)
        for line in error_lines(name, number, result):
            print(line, file=out)
        errors += len(result.errors)
    return objects, errors


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"
