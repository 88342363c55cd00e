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
    store = wiring.token_uploads(settings.upload_url, settings.upload_token, settings.object_store)
    await serve(store, settings, stop)


if __name__ == "__main__":
    run("artifact-sidecar", main, health=False)
