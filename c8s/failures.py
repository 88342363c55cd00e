"""Errors as a CLI user sees them: one line on stderr and a non-zero exit, never a traceback.

`run_async` is how every networked subcommand runs its coroutine: it turns the project's error
classes (resource store, bus, object store) and Ctrl-C into that line and an exit code.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from typing import Any

from ports.bus_errors import BusError
from ports.objects import ObjectNotFound, ObjectStoreUnavailable
from ports.resources import NotFound, StoreError

#: Exit code of a command interrupted by Ctrl-C (128 + SIGINT), as a shell reports it.
INTERRUPTED = 130


class CliError(Exception):
    """A failure the user can act on; its message is the whole line printed."""


def not_found(resource: str, name: str, namespace: str) -> CliError:
    """kubectl's wording: `pipelinerun "x" not found in namespace "y"`."""
    return CliError(f'{resource} "{name}" not found in namespace "{namespace}"')


def run_async(command: Coroutine[Any, Any, int]) -> int:
    """Run a subcommand's coroutine; print any expected failure as one line; return the exit code."""
    try:
        return asyncio.run(command)
    except KeyboardInterrupt:
        return INTERRUPTED
    except CliError as e:
        return fail(str(e))
    except NotFound as e:
        return fail(f"not found: {e}")
    except (StoreError, BusError) as e:
        return fail(f"the c8s server failed: {e}")
    except (ObjectNotFound, ObjectStoreUnavailable) as e:
        return fail(f"object storage: {e}")


def fail(message: str) -> int:
    print(f"c8s: error: {message}", file=sys.stderr)
    return 1
