"""A simulator of the CertCentral Services API endpoints certrenew uses."""
