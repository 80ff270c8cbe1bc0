"""The sandbox's certificate authority: a root, one or two intermediates.

Made fresh at start, or loaded from files, or restored from a state file. The
last intermediate signs every leaf. PEM text leaves the sandbox with ``\\r\\n``
line ends, as DigiCert's does (API.md, Quirks).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from sandbox.errors import SandboxConfigError

CA_VALIDITY = timedelta(days=3650)
# Seeded orders carry back-dated certificates; the CA must be older than them.
CA_BACKDATE = timedelta(days=5 * 365)
SIGNATURE_HASHES: dict[str, hashes.SHA256 | hashes.SHA384 | hashes.SHA512] = {
    "sha256": hashes.SHA256(),
    "sha384": hashes.SHA384(),
    "sha512": hashes.SHA512(),
}

IssuerKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def thumbprint(certificate: x509.Certificate) -> str:
    """SHA-1 of the DER encoding, 40 uppercase hex digits (API.md, Thumbprints)."""
    der = certificate.public_bytes(serialization.Encoding.DER)
    return hashlib.sha1(der, usedforsecurity=False).hexdigest().upper()


def serial_text(certificate: x509.Certificate) -> str:
    return f"{certificate.serial_number:032X}"


def pem_text(certificate: x509.Certificate) -> str:
    """PEM with the ``\\r\\n`` line ends real CertCentral answers carry."""
    pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
    return pem.replace("\n", "\r\n")


def common_name_of(certificate: x509.Certificate) -> str:
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else ""


@dataclass(frozen=True)
class LeafRequest:
    """What goes into a leaf: the CSR's key, the ordered names and validity."""

    public_key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey
    common_name: str
    dns_names: tuple[str, ...]
    organization_name: str
    valid_from: datetime
    valid_till: datetime
    signature_hash: str = "sha256"


class CertificateAuthority:
    """A chain of CA certificates, root first, and the issuing key."""

    def __init__(self, chain: list[x509.Certificate], issuer_key: IssuerKey) -> None:
        if len(chain) < 2:
            raise SandboxConfigError(
                f"sandbox CA: the chain needs a root and at least one "
                f"intermediate, {len(chain)} certificate(s) given"
            )
        self.chain = chain
        self.issuer_key = issuer_key

    @property
    def root(self) -> x509.Certificate:
        return self.chain[0]

    @property
    def intermediates(self) -> list[x509.Certificate]:
        """Issuing intermediate first, as they follow the leaf in `pem_all`."""
        return list(reversed(self.chain[1:]))

    @classmethod
    def generate(
        cls, now: datetime, *, two_intermediates: bool
    ) -> CertificateAuthority:
        root_key = ec.generate_private_key(ec.SECP256R1())
        root = _ca_certificate("certrenew Sandbox Root CA", root_key, None, now, 2)
        chain, signer_key = [root], root_key
        count = 2 if two_intermediates else 1
        for number in range(1, count + 1):
            key = ec.generate_private_key(ec.SECP256R1())
            name = f"certrenew Sandbox Intermediate CA {number}"
            issuer = (chain[-1], signer_key)
            chain.append(_ca_certificate(name, key, issuer, now, count - number))
            signer_key = key
        return cls(chain, signer_key)

    @classmethod
    def load(cls, cert_files: tuple[Path, ...], key_file: Path) -> CertificateAuthority:
        """Certificates root first (one or more per file), the issuing CA's key."""
        chain: list[x509.Certificate] = []
        for path in cert_files:
            chain.extend(x509.load_pem_x509_certificates(path.read_bytes()))
        key = serialization.load_pem_private_key(key_file.read_bytes(), None)
        if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
            raise SandboxConfigError(
                f"sandbox CA key {key_file}: must be an EC or RSA private key"
            )
        return cls(chain, key)

    def to_json(self) -> dict[str, object]:
        key_pem = self.issuer_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return {
            "chain": [pem_text(cert) for cert in self.chain],
            "issuer_key": key_pem.decode(),
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> CertificateAuthority:
        chain_pems = data["chain"]
        key_pem = data["issuer_key"]
        if not isinstance(chain_pems, list) or not isinstance(key_pem, str):
            raise SandboxConfigError("sandbox state: the CA entry is malformed")
        chain = [x509.load_pem_x509_certificate(pem.encode()) for pem in chain_pems]
        key = serialization.load_pem_private_key(key_pem.encode(), None)
        if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
            raise SandboxConfigError("sandbox state: the CA key is not EC or RSA")
        return cls(chain, key)

    def sign(self, request: LeafRequest) -> x509.Certificate:
        issuer = self.chain[-1]
        names = dict.fromkeys((request.common_name, *request.dns_names))
        key_usage = _leaf_key_usage(isinstance(request.public_key, rsa.RSAPublicKey))
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, request.common_name),
                x509.NameAttribute(
                    NameOID.ORGANIZATION_NAME, request.organization_name
                ),
            ]
        )
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer.subject)
            .public_key(request.public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(request.valid_from)
            .not_valid_after(request.valid_till)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
            .add_extension(key_usage, critical=True)
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False
            )
            .add_extension(
                x509.SubjectAlternativeName([x509.DNSName(name) for name in names]),
                critical=False,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(request.public_key), False
            )
            .add_extension(_authority_key_id(issuer), critical=False)
        )
        algorithm = SIGNATURE_HASHES.get(request.signature_hash, hashes.SHA256())
        return builder.sign(self.issuer_key, algorithm)

    def p7b(self, leaf: x509.Certificate) -> bytes:
        chain = [leaf, *self.intermediates, self.root]
        return pkcs7.serialize_certificates(chain, serialization.Encoding.DER)


def _leaf_key_usage(rsa_key: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=rsa_key,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def _authority_key_id(issuer: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski.value)


def _ca_certificate(
    common_name: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Certificate, IssuerKey] | None,
    now: datetime,
    path_length: int,
) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    issuer_name = issuer[0].subject if issuer else subject
    signer_key = issuer[1] if issuer else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CA_BACKDATE)
        .not_valid_after(now + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False
        )
    )
    if issuer:
        builder = builder.add_extension(_authority_key_id(issuer[0]), critical=False)
    return builder.sign(signer_key, hashes.SHA256())
