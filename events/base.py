"""The root of the catalog.

Every event is a frozen, kw_only msgspec Struct tagged with a dotted name (`run.requested`) in the
`type` field. Schemas only grow: a new field always has a default, and decoders ignore fields they
do not know, so old consumers keep working when producers are upgraded first.
"""

from __future__ import annotations

from datetime import datetime

from msgspec import Struct


class Event(Struct, frozen=True, kw_only=True, tag_field="type", rename="camel"):
    """Base of all events. `at` is when the fact happened, by the producer's clock: folds take time
    from here, never from their own clock."""

    at: datetime

    @property
    def type(self) -> str:
        tag = self.__struct_config__.tag
        assert isinstance(tag, str)
        return tag
