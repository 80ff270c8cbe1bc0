"""A small, realistic sample inventory, for the demo and the tests.

``make_sample_inventory`` writes EV certificates with their keys into a folder:
some due (one expired, one inside the floor, one inside the fraction of the
default policy), some not, RSA 2048 and EC P-256 keys, several names per
certificate, chain files in two layouts, a sidecar, and exactly one broken file.
Names come from the documentation domains only (RFC 2606).

Certificates are issued by a ``Signer``: by default a throwaway local CA (a
root and an intermediate made for the occasion); the demo passes one that has
the CertCentral sandbox issue them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal, Protocol

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# CA/Browser Forum EV guidelines, section 9.3.4: the EV policy identifier.
EV_POLICY_OID = x509.ObjectIdentifier("2.23.140.1.1")

SampleKey = Literal["rsa-2048", "ec-p256"]
ExpectedRule = Literal["expired", "floor", "fraction"]
_Key = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


class Signer(Protocol):
    """Issues a certificate for a CSR; returns the leaf then its chain, in PEM."""

    def __call__(
        self,
        csr_pem: bytes,
        common_name: str,
        dns_names: list[str],
        not_before: datetime,
        not_after: datetime,
    ) -> bytes: ...


@dataclass(frozen=True)
class SampleCertificate:
    """One certificate of the sample, and what the default policy says of it."""

    name: str
    common_name: str
    dns_names: tuple[str, ...]
    key: SampleKey
    lifetime_days: int
    days_left: int
    # The rule that makes it due under the default policy, None when not due.
    expected_rule: ExpectedRule | None

    @property
    def due(self) -> bool:
        return self.expected_rule is not None


@dataclass(frozen=True)
class SampleInventory:
    """What ``make_sample_inventory`` wrote, for checks."""

    folder: Path
    certificates: tuple[SampleCertificate, ...]
    chain_files: tuple[Path, ...]
    broken_files: tuple[Path, ...]

    @property
    def due_names(self) -> list[str]:
        return sorted(c.name for c in self.certificates if c.due)

    @property
    def not_due_names(self) -> list[str]:
        return sorted(c.name for c in self.certificates if not c.due)


# Under the default policy (a third of the lifetime, 30-day floor).
SAMPLE_CERTIFICATES = (
    SampleCertificate(
        "shop/www.example.com",
        "www.example.com",
        ("www.example.com", "example.com", "shop.example.com"),
        "rsa-2048",
        lifetime_days=398,
        days_left=-3,
        expected_rule="expired",
    ),
    SampleCertificate(
        "api.example.org",
        "api.example.org",
        ("api.example.org", "api-eu.example.org"),
        "ec-p256",
        lifetime_days=47,
        days_left=20,
        expected_rule="floor",
    ),
    SampleCertificate(
        "billing/pay.example.net",
        "pay.example.net",
        ("pay.example.net",),
        "rsa-2048",
        lifetime_days=398,
        days_left=100,
        expected_rule="fraction",
    ),
    # On a three-year Multi-year Plan at the demo's sandbox: renewed by a free
    # reissue on the same order.
    SampleCertificate(
        "plan.example.com",
        "plan.example.com",
        ("plan.example.com",),
        "ec-p256",
        lifetime_days=199,
        days_left=40,
        expected_rule="fraction",
    ),
    # Ordered for an organization whose EV validation is still under way: its
    # renewal waits as pending until DigiCert (the sandbox) validates it.
    SampleCertificate(
        "neworg.example.net",
        "neworg.example.net",
        ("neworg.example.net", "www.neworg.example.net"),
        "ec-p256",
        lifetime_days=398,
        days_left=60,
        expected_rule="fraction",
    ),
    SampleCertificate(
        "www.example.org",
        "www.example.org",
        ("www.example.org", "example.org"),
        "ec-p256",
        lifetime_days=199,
        days_left=150,
        expected_rule=None,
    ),
    SampleCertificate(
        "shop/static.example.com",
        "static.example.com",
        ("static.example.com", "cdn.example.com", "img.example.com"),
        "ec-p256",
        lifetime_days=398,
        days_left=300,
        expected_rule=None,
    ),
    SampleCertificate(
        "mail.example.net",
        "mail.example.net",
        ("mail.example.net", "smtp.example.net", "imap.example.net"),
        "rsa-2048",
        lifetime_days=90,
        days_left=45,
        expected_rule=None,
    ),
)

# The one broken file: a certificate cut off halfway, as a failed copy leaves it.
BROKEN_NAME = "legacy/old.example.com"

_SIDECARS = {
    "shop/www.example.com": '[labels]\nteam = "shop"\n',
    "shop/static.example.com": (
        '[labels]\nteam = "shop"\n\n[policy]\nfloor_days = 45\n\n'
        '[order]\ncomments = "static assets, renew with www"\n'
    ),
}


def make_sample_inventory(
    folder: Path, now: datetime, *, signer: Signer | None = None
) -> SampleInventory:
    """Write the sample inventory into ``folder`` (created if missing)."""
    now = now.replace(microsecond=0)
    signer = signer if signer is not None else LocalCA(now)
    folder.mkdir(parents=True, exist_ok=True)

    chain_files = []
    for sample in SAMPLE_CERTIFICATES:
        key = _new_key(sample.key)
        not_after = now + timedelta(days=sample.days_left)
        not_before = not_after - timedelta(days=sample.lifetime_days)
        issued = signer(
            _csr(key, sample.common_name, sample.dns_names),
            sample.common_name,
            list(sample.dns_names),
            not_before,
            not_after,
        )
        chain_files += _write_certificate(folder, sample.name, key, issued)

    broken = _write_broken(folder, signer, now)
    return SampleInventory(
        folder=folder,
        certificates=SAMPLE_CERTIFICATES,
        chain_files=tuple(chain_files),
        broken_files=(broken,),
    )


def _write_certificate(
    folder: Path, name: str, key: _Key, issued_pem: bytes
) -> list[Path]:
    """Write one certificate in one of three layouts; returns chain files."""
    leaf, *chain = _split_pem(issued_pem)
    base = folder / name
    base.parent.mkdir(parents=True, exist_ok=True)
    _write(base.with_name(f"{base.name}.key"), _key_pem(key), 0o600)
    sidecar = _SIDECARS.get(name)
    if sidecar is not None:
        _write(base.with_name(f"{base.name}.certrenew.toml"), sidecar.encode(), 0o644)

    if name == "billing/pay.example.net":
        # Leaf alone in NAME.pem, its chain in NAME.chain.pem (Apache habit).
        _write(base.with_name(f"{base.name}.pem"), leaf, 0o644)
        chain_file = base.with_name(f"{base.name}.chain.pem")
        _write(chain_file, b"".join(chain), 0o644)
        return [chain_file]

    # Leaf and chain together in NAME.crt (nginx habit).
    _write(base.with_name(f"{base.name}.crt"), leaf + b"".join(chain), 0o644)
    if name == "shop/www.example.com":
        # A folder-wide chain.pem beside it, as certbot-style layouts have.
        chain_file = base.parent / "chain.pem"
        _write(chain_file, b"".join(chain), 0o644)
        return [chain_file]
    return []


def _write_broken(folder: Path, signer: Signer, now: datetime) -> Path:
    key = _new_key("ec-p256")
    common_name = BROKEN_NAME.rsplit("/", 1)[-1]
    issued = signer(
        _csr(key, common_name, (common_name,)),
        common_name,
        [common_name],
        now - timedelta(days=200),
        now + timedelta(days=198),
    )
    leaf = _split_pem(issued)[0]
    base = folder / BROKEN_NAME
    base.parent.mkdir(parents=True, exist_ok=True)
    _write(base.with_name(f"{base.name}.key"), _key_pem(key), 0o600)
    broken = base.with_name(f"{base.name}.crt")
    _write(broken, leaf[: len(leaf) // 2], 0o644)
    return broken


class LocalCA:
    """A throwaway root and intermediate that issue EV-looking certificates."""

    def __init__(self, now: datetime) -> None:
        self.now = now.replace(microsecond=0)
        self._root_key = ec.generate_private_key(ec.SECP256R1())
        self._root = self._authority(
            "certrenew Sample Root CA", self._root_key, None, path_length=1
        )
        self._intermediate_key = ec.generate_private_key(ec.SECP256R1())
        self._intermediate = self._authority(
            "certrenew Sample EV Intermediate CA",
            self._intermediate_key,
            self._root,
            path_length=0,
        )

    @property
    def root_pem(self) -> bytes:
        return self._root.public_bytes(serialization.Encoding.PEM)

    @property
    def intermediate_pem(self) -> bytes:
        return self._intermediate.public_bytes(serialization.Encoding.PEM)

    def __call__(
        self,
        csr_pem: bytes,
        common_name: str,
        dns_names: list[str],
        not_before: datetime,
        not_after: datetime,
    ) -> bytes:
        csr = x509.load_pem_x509_csr(csr_pem)
        leaf = (
            x509.CertificateBuilder()
            .subject_name(_ev_subject(common_name))
            .issuer_name(self._intermediate.subject)
            .public_key(csr.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
            .add_extension(
                x509.SubjectAlternativeName([x509.DNSName(n) for n in dns_names]),
                critical=False,
            )
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                critical=False,
            )
            .add_extension(
                x509.CertificatePolicies([x509.PolicyInformation(EV_POLICY_OID, None)]),
                critical=False,
            )
            .sign(self._intermediate_key, hashes.SHA256())
        )
        return leaf.public_bytes(serialization.Encoding.PEM) + self.intermediate_pem

    def _authority(
        self,
        common_name: str,
        key: ec.EllipticCurvePrivateKey,
        issuer: x509.Certificate | None,
        *,
        path_length: int,
    ) -> x509.Certificate:
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "certrenew samples"),
                x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            ]
        )
        signing_key = key if issuer is None else self._root_key
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject if issuer is None else issuer.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(self.now - timedelta(days=3650))
            .not_valid_after(self.now + timedelta(days=3650))
            .add_extension(
                x509.BasicConstraints(ca=True, path_length=path_length), True
            )
            .sign(signing_key, hashes.SHA256())
        )


def _new_key(kind: SampleKey) -> _Key:
    if kind == "rsa-2048":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: _Key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _csr(key: _Key, common_name: str, dns_names: Sequence[str]) -> bytes:
    request = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in dns_names]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    return request.public_bytes(serialization.Encoding.PEM)


def _ev_subject(common_name: str) -> x509.Name:
    # The subject fields an EV certificate carries (EV guidelines, 9.2).
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "Utah"),
            x509.NameAttribute(NameOID.LOCALITY_NAME, "Lehi"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Example Corp"),
            x509.NameAttribute(NameOID.BUSINESS_CATEGORY, "Private Organization"),
            x509.NameAttribute(NameOID.JURISDICTION_COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, "5299537-0142"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _split_pem(bundle: bytes) -> list[bytes]:
    """The certificates of a PEM bundle, each as its own PEM text."""
    bundle = bundle.replace(b"\r\n", b"\n")
    end = b"-----END CERTIFICATE-----\n"
    parts = [part.strip() for part in bundle.split(b"-----END CERTIFICATE-----")]
    return [part + b"\n" + end for part in parts if part]


def _write(path: Path, data: bytes, mode: int) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(descriptor, "wb") as stream:
        os.fchmod(stream.fileno(), mode)
        stream.write(data)
