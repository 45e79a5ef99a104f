"""`checks.transport.mqtt`: broker rules shared by the `mqtt_broadcast` check and the quorum."""

from __future__ import annotations

import pytest

from checks.transport.mqtt import broker_port, validate_broker
from checks.transport.tls import TlsOptions


class TestBrokerPort:
    @pytest.mark.parametrize(
        ("port", "tls", "expected"),
        [(None, None, 1883), (None, TlsOptions(), 8883), (1884, TlsOptions(), 1884)],
    )
    def test_default_follows_tls(self, port: int | None, tls: TlsOptions | None,
                                 expected: int) -> None:
        assert broker_port(port, tls) == expected


class TestValidateBroker:
    def test_password_needs_username(self) -> None:
        with pytest.raises(ValueError, match="password needs username"):
            validate_broker(None, "secret", None)

    def test_sni_override_is_refused(self) -> None:
        with pytest.raises(ValueError, match="server_name is not supported"):
            validate_broker("u", "p", TlsOptions(server_name="other"))

    def test_unreadable_tls_files_are_refused(self) -> None:
        with pytest.raises(ValueError, match="cannot load TLS files"):
            validate_broker(None, None, TlsOptions(ca_file="/nonexistent/ca.pem"))

    def test_plain_and_tls_brokers_pass(self) -> None:
        validate_broker(None, None, None)
        validate_broker("u", "p", TlsOptions())
