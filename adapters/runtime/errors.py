"""Translating a library's exceptions into the project's own, in one shape for every adapter.

`translator(ours, theirs, translate)` makes the `translated(what)` context manager an adapter
wraps its library calls in: the project's own errors (`ours`) pass through untouched, the
library's (`theirs`) are re-raised as `translate(e, what)` from the original, anything else
propagates (a bug, to crash on). So nothing past an adapter sees a library type.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

Translate = Callable[[BaseException, str], Exception]


def translator(
    ours: type[Exception], theirs: tuple[type[BaseException], ...], translate: Translate
) -> Callable[[str], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def translated(what: str) -> AsyncIterator[None]:
        try:
            yield
        except ours:
            raise
        except theirs as e:
            raise translate(e, what) from e

    return translated
