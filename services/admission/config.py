"""Admission webhook configuration (environment `C8S_*`, checked at start-up)."""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta

from adapters.runtime.settings import CommonSettings


class AdmissionSettings(CommonSettings, frozen=True, kw_only=True):
    #: The apiserver calls in over TLS, from outside the pod: listen on every interface.
    listen_host: str = "0.0.0.0"
    listen_port: Annotated[int, Meta(ge=1, le=65535)] = 8443
    #: The serving certificate and key (PEM), e.g. a mounted kubernetes.io/tls Secret.
    tls_cert_file: str = "/etc/c8s/admission-tls/tls.crt"
    tls_key_file: str = "/etc/c8s/admission-tls/tls.key"
    #: The apiserver waits at most the webhook's timeoutSeconds (10 s in deploy/): answer before.
    review_deadline_seconds: Annotated[float, Meta(gt=0, lt=30)] = 8.0
