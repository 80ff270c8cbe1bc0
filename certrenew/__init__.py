"""certrenew: unattended renewal of DigiCert CertCentral TLS certificates."""

__version__ = "0.1.0"
