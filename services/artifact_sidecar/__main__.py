"""`python -m services.artifact_sidecar`: settings from the environment -> wiring -> serve."""

from __future__ import annotations

import asyncio

from adapters import wiring
from adapters.runtime.lifecycle import run
from adapters.runtime.settings import from_env
from services.artifact_sidecar.config import SidecarSettings
from services.artifact_sidecar.uploading import serve


async def main(stop: asyncio.Event) -> None:
    settings = from_env(SidecarSettings)
    await serve(wiring.objects_at(settings.object_store), settings, stop)


if __name__ == "__main__":
    run("artifact-sidecar", main, health=False)
