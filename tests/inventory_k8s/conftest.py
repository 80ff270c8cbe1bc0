"""A small CA, real EC keys and certificates, and the stand-in API server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from kubernetes import client as k8s

from certrenew.config import KubernetesSourceSettings, Settings
from certrenew.inventory.kubernetes import KubernetesSource
from tests.support.kubernetes_api import (
    KubernetesApiServer,
    running_kubernetes_api,
)

NOW = datetime(2026, 6, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Issued:
    certificate: x509.Certificate
    chain_pem: bytes
    key_pem: bytes


class SmallCA:
    """A root and an intermediate; leaves come back leaf first, then the chain."""

    def __init__(self) -> None:
        self.root_key = ec.generate_private_key(ec.SECP256R1())
        root_name = _name("certrenew test root")
        # Self-signed: the root's own name and key sign it.
        self.root = _certificate(
            root_name, self.root_key.public_key(), (root_name, self.root_key), ca=True
        )
        self.intermediate_key = ec.generate_private_key(ec.SECP256R1())
        self.intermediate = _certificate(
            _name("certrenew test intermediate"),
            self.intermediate_key.public_key(),
            (self.root.subject, self.root_key),
            ca=True,
        )

    def issue(self, common_name: str, *, days: int = 90) -> Issued:
        key = ec.generate_private_key(ec.SECP256R1())
        leaf = _certificate(
            _name(common_name),
            key.public_key(),
            (self.intermediate.subject, self.intermediate_key),
            ca=False,
            days=days,
        )
        chain = b"".join(
            cert.public_bytes(serialization.Encoding.PEM)
            for cert in (leaf, self.intermediate)
        )
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return Issued(leaf, chain, key_pem)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(
    subject: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey],
    *,
    ca: bool,
    days: int = 3650,
) -> x509.Certificate:
    """A certificate for ``subject`` signed by the issuer's name and key."""
    common_name = str(subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer[0])
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        names = [x509.DNSName(common_name), x509.DNSName(f"www.{common_name}")]
        builder = builder.add_extension(
            x509.SubjectAlternativeName(names), critical=False
        )
    return builder.sign(issuer[1], hashes.SHA256())


@pytest.fixture(scope="session")
def ca() -> SmallCA:
    return SmallCA()


@pytest.fixture
def api() -> Iterator[KubernetesApiServer]:
    with running_kubernetes_api() as server:
        yield server


@pytest.fixture
def api_client(api: KubernetesApiServer) -> Iterator[k8s.ApiClient]:
    configuration = k8s.Configuration(host=api.url)
    configuration.api_key = {"authorization": api.token}
    configuration.api_key_prefix = {"authorization": "Bearer"}
    client = k8s.ApiClient(configuration)
    yield client
    client.close()  # type: ignore[no-untyped-call]  # the client leaves close untyped


SourceFactory = Callable[..., KubernetesSource]


@pytest.fixture
def make_source(api_client: k8s.ApiClient) -> SourceFactory:
    """A source on the stand-in; keyword arguments change its settings."""

    def make(
        namespaces: tuple[str, ...] = ("web",),
        *,
        settings: Settings | None = None,
        page_size: int = 250,
        **source_settings: object,
    ) -> KubernetesSource:
        source = KubernetesSourceSettings.model_validate(
            {"kind": "kubernetes", "namespaces": list(namespaces), **source_settings}
        )
        return KubernetesSource(
            source,
            settings or Settings(),
            api_client=api_client,
            page_size=page_size,
        )

    return make
