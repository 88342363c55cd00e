"""Projector configuration (environment `C8S_*`, checked at start-up)."""

from __future__ import annotations

from adapters.settings import CommonSettings


class ProjectorSettings(CommonSettings, frozen=True, kw_only=True):
    pass
