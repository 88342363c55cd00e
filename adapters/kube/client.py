"""Settings of the Kubernetes adapters and the ApiClient they share.

The client comes from a kubeconfig file (an explicit path, else $KUBECONFIG or ~/.kube/config) or,
inside a pod with no kubeconfig, from the in-cluster service-account configuration. Settings are a
frozen Struct checked when built; defaults fit production, tests shorten the timeouts.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

from kubernetes_asyncio import client, config
from kubernetes_asyncio.config.config_exception import ConfigException
from msgspec import Meta, Struct

from ports.resources import StoreUnavailable

Seconds = Annotated[float, Meta(gt=0)]


class KubeSettings(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    #: Path of a kubeconfig file; "" means $KUBECONFIG, ~/.kube/config, then in-cluster.
    kubeconfig: str = ""
    #: Client-side limit of one request (connect + response).
    request_timeout: Seconds = 10.0
    #: A watch asks the apiserver to end it after this long (then it is resumed from its position).
    watch_seconds: Annotated[int, Meta(gt=0)] = 290
    #: Pause between attempts while the apiserver cannot be reached (watches only).
    retry_wait: Seconds = 1.0
    #: How long the status writer gathers writes for one object before sending one PATCH
    #: (0: only writes that arrive while a PATCH for the object is in flight are coalesced).
    status_linger: Annotated[float, Meta(ge=0)] = 0.0


async def api_client(settings: KubeSettings) -> Any:
    """A kubernetes_asyncio ApiClient for the configured cluster (close it with `await api.close()`)."""
    path = settings.kubeconfig or os.environ.get("KUBECONFIG", "") or _default_kubeconfig()
    try:
        if path:
            return await config.new_client_from_config(config_file=path)
        configuration = client.Configuration()
        config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        return client.ApiClient(configuration)
    except (ConfigException, OSError) as e:
        raise StoreUnavailable(f"no Kubernetes configuration ({path or 'in-cluster'}): {e}") from e


def _default_kubeconfig() -> str:
    """~/.kube/config when it exists; "" sends the caller to the in-cluster configuration."""
    default = Path.home() / ".kube" / "config"
    return str(default) if default.is_file() else ""
