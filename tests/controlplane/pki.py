"""Certificates and keys for a throw-away control plane, all from one CA made per plane.

Writes PEM files into one directory: the CA, serving certs for the apiserver and the loopback
components (controller manager, node agent's kubelet endpoint), client certs for the admin, the
controller manager, the apiserver's kubelet client and its front proxy (aggregation layer), and
the service-account signing key pair.
Keys are EC P-256 (fast to generate); nothing here is meant to outlive the plane.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

LOOPBACK = ipaddress.ip_address("127.0.0.1")
SERVICE_IP = ipaddress.ip_address("10.0.0.1")  # first address of --service-cluster-ip-range
APISERVER_NAMES = (
    "localhost",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
)


@dataclass(frozen=True)
class Pair:
    cert: Path
    key: Path


@dataclass(frozen=True)
class Pki:
    ca: Pair
    apiserver: Pair  # serving: 127.0.0.1, 10.0.0.1, kubernetes.default.svc..., apiserver_ips
    loopback: Pair  # serving on 127.0.0.1 for the controller manager and the node agent
    admin: Pair  # client: CN=admin, O=system:masters
    controller_manager: Pair  # client: CN=system:kube-controller-manager
    kubelet_client: Pair  # client the apiserver presents to the node agent
    front_proxy_client: Pair  # client the apiserver's aggregator presents to extension apiservers
    sa_key: Path  # service-account signing key (private)
    sa_pub: Path


def generate(directory: Path, apiserver_ips: tuple[str, ...] = ()) -> Pki:
    """Create every key and certificate in ``directory`` and return their paths; ``apiserver_ips``
    are more addresses the apiserver's certificate is valid for (tests/cluster's node IP)."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "c8s-test-ca")])
    ca_cert = _sign(_builder(ca_name, ca_name, ca_key).add_extension(
        x509.BasicConstraints(ca=True, path_length=None), critical=True
    ).add_extension(_ca_usage(), critical=True), ca_key)
    ca = _write(directory, "ca", ca_cert, ca_key)

    def leaf(stem: str, cn: str, org: str | None, *, server: bool, sans: list[x509.GeneralName]) -> Pair:
        return _leaf(directory, ca_name, ca_key, stem, cn, org, server=server, sans=sans)

    loopback_sans: list[x509.GeneralName] = [x509.IPAddress(LOOPBACK), x509.DNSName("localhost")]
    ips = (LOOPBACK, SERVICE_IP, *map(ipaddress.ip_address, apiserver_ips))
    apiserver_sans: list[x509.GeneralName] = [x509.IPAddress(ip) for ip in ips]
    apiserver_sans += [x509.DNSName(n) for n in APISERVER_NAMES]
    sa_key, sa_pub = _write_sa_keys(directory)
    return Pki(
        ca=ca,
        apiserver=leaf("apiserver", "kube-apiserver", None, server=True, sans=apiserver_sans),
        loopback=leaf("loopback", "127.0.0.1", None, server=True, sans=loopback_sans),
        admin=leaf("admin", "admin", "system:masters", server=False, sans=[]),
        controller_manager=leaf(
            "controller-manager", "system:kube-controller-manager", None, server=False, sans=[]
        ),
        kubelet_client=leaf(
            "apiserver-kubelet-client", "kube-apiserver-kubelet-client", "system:masters",
            server=False, sans=[],
        ),
        front_proxy_client=leaf("front-proxy-client", "front-proxy-client", None, server=False, sans=[]),
        sa_key=sa_key,
        sa_pub=sa_pub,
    )


def issue(
    pki: Pki, stem: str, cn: str, org: str | None, *, server: bool, sans: list[x509.GeneralName]
) -> Pair:
    """One more leaf certificate from ``pki``'s CA, written beside the others (tests/cluster's nodes)."""
    ca_key = serialization.load_pem_private_key(pki.ca.key.read_bytes(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    ca_name = x509.load_pem_x509_certificate(pki.ca.cert.read_bytes()).subject
    return _leaf(pki.ca.cert.parent, ca_name, ca_key, stem, cn, org, server=server, sans=sans)


def _leaf(
    directory: Path, ca_name: x509.Name, ca_key: ec.EllipticCurvePrivateKey, stem: str, cn: str,
    org: str | None, *, server: bool, sans: list[x509.GeneralName],
) -> Pair:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if org:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    key = ec.generate_private_key(ec.SECP256R1())
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = _builder(x509.Name(attrs), ca_name, key).add_extension(
        x509.ExtendedKeyUsage([usage]), critical=False
    ).add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return _write(directory, stem, _sign(builder, ca_key), key)


def _builder(
    subject: x509.Name, issuer: x509.Name, key: ec.EllipticCurvePrivateKey
) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=7))
    )


def _ca_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
        encipher_only=False, decipher_only=False,
    )


def _sign(builder: x509.CertificateBuilder, key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    return builder.sign(key, hashes.SHA256())


def _write(directory: Path, stem: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> Pair:
    pair = Pair(cert=directory / f"{stem}.crt", key=directory / f"{stem}.key")
    pair.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pair.key.write_bytes(_private_pem(key))
    pair.key.chmod(0o600)
    return pair


def _write_sa_keys(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    private, public = directory / "sa.key", directory / "sa.pub"
    private.write_bytes(_private_pem(key))
    private.chmod(0o600)
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public


def _private_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
