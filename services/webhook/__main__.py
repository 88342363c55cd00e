"""`python -m services.webhook`"""

from __future__ import annotations

import asyncio

from adapters.runtime.lifecycle import run
from adapters.runtime.settings import from_env
from services.webhook.config import WebhookSettings
from services.webhook.service import serve


async def main(stop: asyncio.Event) -> None:
    await serve(from_env(WebhookSettings), stop)


if __name__ == "__main__":
    run("webhook", main)
