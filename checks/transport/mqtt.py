"""MQTT broker options shared by the `mqtt_broadcast` check and the quorum link.

Both connect to a broker with the same `host`/`port`/`tls`/`username`/`password` options;
one set of rules here keeps them from drifting apart.
"""

from __future__ import annotations

from checks.transport.tls import TlsOptions, build_ssl_context


def validate_broker(username: str | None, password: object, tls: TlsOptions | None) -> None:
    """Broker options every MQTT client here shares (the check and the quorum link)."""
    if password is not None and username is None:
        raise ValueError("password needs username")
    if tls is not None:
        if tls.server_name is not None:
            raise ValueError("tls.server_name is not supported for MQTT (SNI is the host)")
        build_ssl_context(tls)


def broker_port(port: int | None, tls: TlsOptions | None) -> int:
    """The given port, else MQTT's default: 8883 with TLS, 1883 without."""
    if port is not None:
        return port
    return 8883 if tls is not None else 1883
