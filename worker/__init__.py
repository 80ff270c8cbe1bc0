"""The worker: Dramatiq actors that talk to CertCentral and install what it issues."""
