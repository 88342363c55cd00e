"""One module per `c8s` subcommand, each exposing `register(subparsers)` (see c8s.cli), and the
parser pieces they share: a subcommand with its help text and examples, and `-f FILE|DIR`."""

from __future__ import annotations

import argparse
from typing import TypeAlias

Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"

FILES_HELP = "a manifest file, '-' for stdin, or a directory searched recursively (repeatable)"


class HelpFormatter(argparse.HelpFormatter):
    """Wraps one-paragraph descriptions to the terminal; keeps multi-line text (the examples) as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text.strip():
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


def command(
    subparsers: Subparsers, name: str, summary: str, description: str, epilog: str
) -> argparse.ArgumentParser:
    """A subcommand's parser: `summary` in `c8s --help`, `description` and examples in its own."""
    return subparsers.add_parser(
        name,
        help=summary,
        description=description,
        epilog=epilog,
        formatter_class=HelpFormatter,
    )


def add_files_option(parser: argparse.ArgumentParser, help: str = FILES_HELP) -> None:
    """`-f/--filename FILE|DIR`, repeatable, into `args.paths`."""
    parser.add_argument(
        "-f", "--filename", dest="paths", action="append", required=True, metavar="FILE|DIR", help=help
    )
