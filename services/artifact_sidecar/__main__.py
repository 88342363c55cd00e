"""`python -m services.artifact_sidecar` (in the step's pod; see steps.job_manifest)."""

from __future__ import annotations

import asyncio

from adapters.runtime.settings import from_env
from services.artifact_sidecar.config import SidecarSettings
from services.artifact_sidecar.uploading import main

if __name__ == "__main__":
    raise SystemExit(asyncio.run(main(from_env(SidecarSettings))))
