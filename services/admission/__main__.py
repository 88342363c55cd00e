"""`python -m services.admission` (Kubernetes mode: it reads Secrets, PipelineConfigs, ResourceQuotas)."""

from __future__ import annotations

import asyncio

import structlog

from adapters import wiring
from adapters.runtime.lifecycle import run
from adapters.runtime.settings import ConfigError, from_env
from services.admission.config import AdmissionSettings
from services.admission.deciding import Admission
from services.admission.lookups import Lookups
from services.admission.service import listening, make_app, tls_context


async def main(stop: asyncio.Event) -> None:
    settings = from_env(AdmissionSettings)
    try:
        tls = tls_context(settings.tls_cert_file, settings.tls_key_file)
    except OSError as e:
        where = "C8S_TLS_CERT_FILE/C8S_TLS_KEY_FILE"
        raise ConfigError(f"{where}: cannot load the serving certificate: {e}") from e
    store, quotas = await wiring.open_cluster(settings)
    try:
        app = make_app(Admission(Lookups(store, quotas)), settings.review_deadline_seconds)
        async with listening(app, settings.listen_host, settings.listen_port, tls) as port:
            structlog.get_logger("c8s.admission").info("admission.listening", port=port)
            await stop.wait()
    finally:
        await store.close()


if __name__ == "__main__":
    run("admission", main)
