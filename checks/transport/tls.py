"""TLS client options and the SSL contexts built from them.

Every client that speaks TLS (the `http`, `tls`, EVM and MQTT checks, and the quorum link)
reads the same `tls:` options and gets its context here, so verification defaults, mTLS and
the error for an unreadable file are the same everywhere.
"""

from __future__ import annotations

import functools
import hashlib
import ssl

from cryptography import x509
from pydantic import field_validator, model_validator

from probe.fields import StrictModel
from probe.secrets import config_path


class TlsOptions(StrictModel):
    verify: bool = True
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    server_name: str | None = None

    @field_validator("ca_file", "cert_file", "key_file")
    @classmethod
    def _anchored(cls, value: str | None) -> str | None:
        return None if value is None else str(config_path(value))

    @model_validator(mode="after")
    def _pair(self) -> TlsOptions:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together (client certificate, mTLS)")
        return self


def build_ssl_context(options: TlsOptions) -> ssl.SSLContext:
    """A client TLS context: verification on by default, optional CA and client certificate.

    Without CA or client-certificate files the context is the same for every check, and
    loading the system's CA bundle takes about 15 ms: it is built once per `verify` value
    (10,000 checks would otherwise spend minutes of startup and of every reload here).
    """
    if options.ca_file is None and options.cert_file is None:
        return _system_context(options.verify)
    return _context(options)


@functools.lru_cache(maxsize=2)
def _system_context(verify: bool) -> ssl.SSLContext:
    return _context(TlsOptions(verify=verify))


def _context(options: TlsOptions) -> ssl.SSLContext:
    try:
        context = ssl.create_default_context(cafile=options.ca_file)
        if options.cert_file is not None:
            context.load_cert_chain(options.cert_file, options.key_file)
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(f"cannot load TLS files: {exc}") from None
    if not options.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def certificate_evidence(der: bytes) -> dict[str, str]:
    """Fingerprint, expiry (epoch seconds), subject and issuer of a DER certificate.

    A vendor presents the same certificate attempt after attempt: parsing it once per
    distinct certificate (a small cache keyed by its bytes) instead of once per attempt
    saves an X.509 parse per https attempt and changes nothing in the result."""
    return dict(_certificate_evidence(der))


@functools.lru_cache(maxsize=256)
def _certificate_evidence(der: bytes) -> tuple[tuple[str, str], ...]:
    evidence = {"tls_peer_sha256": hashlib.sha256(der).hexdigest()}
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        return tuple(evidence.items())
    evidence["tls_not_after"] = str(int(cert.not_valid_after_utc.timestamp()))
    evidence["tls_subject"] = cert.subject.rfc4514_string()
    evidence["tls_issuer"] = cert.issuer.rfc4514_string()
    return tuple(evidence.items())
