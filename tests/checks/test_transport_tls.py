"""`checks.transport.tls`: the TLS options and contexts every TLS client here shares."""

from __future__ import annotations

import hashlib
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from checks.transport.tls import TlsOptions, build_ssl_context, certificate_evidence
from tests.checks.conftest import Pki


class TestTlsOptions:
    def test_client_certificate_without_key_is_refused(self, pki: Pki) -> None:
        with pytest.raises(ValueError, match="go together"):
            TlsOptions(cert_file=str(pki.client_cert))

    def test_unknown_option_is_refused(self) -> None:
        with pytest.raises(ValueError, match="Extra inputs"):
            TlsOptions.model_validate({"verify": True, "ciphers": "ALL"})


class TestBuildSslContext:
    def test_default_verifies_and_is_built_once(self) -> None:
        first = build_ssl_context(TlsOptions())
        assert first is build_ssl_context(TlsOptions())
        assert first.verify_mode == ssl.CERT_REQUIRED
        assert first.check_hostname

    def test_verify_false_turns_off_checks(self) -> None:
        context = build_ssl_context(TlsOptions(verify=False))
        assert context.verify_mode == ssl.CERT_NONE
        assert not context.check_hostname
        assert context is not build_ssl_context(TlsOptions())

    def test_own_ca_and_client_certificate_load(self, pki: Pki) -> None:
        options = TlsOptions(ca_file=str(pki.ca), cert_file=str(pki.client_cert),
                             key_file=str(pki.client_key))
        context = build_ssl_context(options)
        assert context is not build_ssl_context(TlsOptions())
        assert context.get_ca_certs()

    def test_unreadable_ca_file_is_a_value_error(self) -> None:
        with pytest.raises(ValueError, match="cannot load TLS files"):
            build_ssl_context(TlsOptions(ca_file="/nonexistent/ca.pem"))


class TestCertificateEvidence:
    def test_fingerprint_expiry_subject_and_issuer(self, pki: Pki) -> None:
        cert = x509.load_pem_x509_certificate(pki.server_cert.read_bytes())
        der = cert.public_bytes(serialization.Encoding.DER)
        evidence = certificate_evidence(der)
        assert evidence["tls_peer_sha256"] == hashlib.sha256(der).hexdigest()
        assert evidence["tls_not_after"] == str(int(pki.server_not_after.timestamp()))
        assert evidence["tls_subject"] == cert.subject.rfc4514_string()
        assert evidence["tls_issuer"] == cert.issuer.rfc4514_string()

    def test_unparsable_certificate_keeps_only_the_fingerprint(self) -> None:
        assert certificate_evidence(b"not a certificate") == {
            "tls_peer_sha256": hashlib.sha256(b"not a certificate").hexdigest()
        }
