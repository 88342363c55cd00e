"""Projector configuration (environment `C8S_*`, checked at start-up)."""

from __future__ import annotations

from adapters.runtime.settings import CommonSettings


class ProjectorSettings(CommonSettings, frozen=True, kw_only=True):
    pass
