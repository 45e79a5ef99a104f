"""The listener's TLS: exporter-toolkit's `tls_server_config` as a Python `ssl.SSLContext`.

Apart from the loader (`probe.web.config`) because this is where the two TLS stacks meet:
Go's names (cipher suites by IANA name, curves by Go constant, client auth policies) are
translated here to what OpenSSL, through Python's `ssl`, can do, and every place where it
cannot do the same thing is a `TLSSetupError` naming the key, never a silent difference.

What Python's `ssl` cannot do, and so what is refused:
- ask for a client certificate without verifying it (`RequireAnyClientCert`);
- set more than one curve (`SSLContext.set_ecdh_curve` takes one; a list needs `set_groups`,
  which newer Pythons have and which is used when present);
- choose TLS 1.3 cipher suites (neither can Go: they are accepted and have no effect there
  either).
"""

from __future__ import annotations

import contextlib
import os
import ssl
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

TLS_VERSIONS: dict[str, ssl.TLSVersion] = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}

# Go's tls.CipherSuites() (the suites exporter-toolkit accepts), by IANA name, with the
# OpenSSL name of each; None for the TLS 1.3 suites, which neither Go nor Python's ssl
# lets a server choose (they are always on when TLS 1.3 is).
CIPHER_SUITES: dict[str, str | None] = {
    "TLS_RSA_WITH_AES_128_CBC_SHA": "AES128-SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA": "AES256-SHA",
    "TLS_RSA_WITH_AES_128_GCM_SHA256": "AES128-GCM-SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384": "AES256-GCM-SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA": "ECDHE-ECDSA-AES128-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA": "ECDHE-ECDSA-AES256-SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": "ECDHE-RSA-AES128-SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA": "ECDHE-RSA-AES256-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": "ECDHE-ECDSA-AES128-GCM-SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": "ECDHE-ECDSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": "ECDHE-RSA-AES128-GCM-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": "ECDHE-RSA-AES256-GCM-SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-ECDSA-CHACHA20-POLY1305",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-RSA-CHACHA20-POLY1305",
    "TLS_AES_128_GCM_SHA256": None,
    "TLS_AES_256_GCM_SHA384": None,
    "TLS_CHACHA20_POLY1305_SHA256": None,
}

# exporter-toolkit's curve names and the OpenSSL group each one is.
CURVES: dict[str, str] = {
    "CurveP256": "prime256v1",
    "CurveP384": "secp384r1",
    "CurveP521": "secp521r1",
    "X25519": "X25519",
}

VERIFYING = ("VerifyClientCertIfGiven", "RequireAndVerifyClientCert")


class TLSSetupError(ValueError):
    """A TLS setting that cannot be put into effect; `key` is its `tls_server_config` key."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key
        self.message = message


def server_context(
    *,
    cert: Path | str,
    key: Path | str,
    client_auth_type: str,
    client_ca: Path | str | None,
    min_version: str,
    max_version: str,
    cipher_suites: Sequence[str],
    prefer_server_cipher_suites: bool,
    curve_preferences: Sequence[str],
) -> ssl.SSLContext:
    """A server context. `cert`, `key` and `client_ca` are a Path (a file) or a str (the PEM
    text itself); `client_ca` None means the system roots, when the auth type verifies."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with warnings.catch_warnings():
        # TLS10/TLS11 are the operator's explicit choice; Python's DeprecationWarning about
        # them would only be noise in the daemon's log
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = TLS_VERSIONS[min_version or "TLS12"]
        if max_version:
            context.maximum_version = TLS_VERSIONS[max_version]
    _load_keypair(context, cert, key)
    if client_auth_type in VERIFYING:
        _load_client_cas(context, client_ca)
        context.verify_mode = (ssl.CERT_REQUIRED if client_auth_type == "RequireAndVerifyClientCert"
                               else ssl.CERT_OPTIONAL)
    else:
        context.verify_mode = ssl.CERT_NONE
    if cipher_suites:
        _set_ciphers(context, cipher_suites, max_version)
    if prefer_server_cipher_suites:
        context.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    else:
        context.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE
    if curve_preferences:
        _set_curves(context, curve_preferences)
    return context


def _load_keypair(context: ssl.SSLContext, cert: Path | str, key: Path | str) -> None:
    with _as_file(cert) as cert_path, _as_file(key) as key_path:
        try:
            context.load_cert_chain(cert_path, key_path)
        except (OSError, ssl.SSLError) as exc:
            which = "cert_file" if isinstance(cert, Path) else "cert"
            raise TLSSetupError(which, f"cannot load the certificate ({_describe(cert)}) and "
                                       f"key ({_describe(key)}): {_reason(exc)}") from None


def _load_client_cas(context: ssl.SSLContext, client_ca: Path | str | None) -> None:
    if client_ca is None:
        # exporter-toolkit (Go) verifies against the system roots when no CA is given
        context.load_default_certs(ssl.Purpose.CLIENT_AUTH)
        return
    try:
        if isinstance(client_ca, Path):
            context.load_verify_locations(cafile=client_ca)
        else:
            context.load_verify_locations(cadata=client_ca)
    except (OSError, ssl.SSLError, ValueError) as exc:
        which = "client_ca_file" if isinstance(client_ca, Path) else "client_ca"
        raise TLSSetupError(which, f"cannot load the client CA ({_describe(client_ca)}): "
                                   f"{_reason(exc)}") from None


def _set_ciphers(context: ssl.SSLContext, names: Sequence[str], max_version: str) -> None:
    openssl = [n for n in (CIPHER_SUITES[name] for name in names) if n is not None]
    if not openssl:
        # as in Go: TLS 1.2 and below have no suite left, so only TLS 1.3 can be negotiated
        if max_version and TLS_VERSIONS[max_version] < ssl.TLSVersion.TLSv1_3:
            raise TLSSetupError("cipher_suites", "lists only TLS 1.3 suites, which cannot be "
                                                 f"negotiated with max_version {max_version}")
        context.minimum_version = ssl.TLSVersion.TLSv1_3
        return
    try:
        context.set_ciphers(":".join(openssl))
    except ssl.SSLError:
        raise TLSSetupError("cipher_suites", "none of these suites is available in this "
                                             f"OpenSSL ({ssl.OPENSSL_VERSION})") from None
    offered = {c["name"] for c in context.get_ciphers()}
    missing = [name for name in names
               if CIPHER_SUITES[name] is not None and CIPHER_SUITES[name] not in offered]
    if missing:
        raise TLSSetupError("cipher_suites", f"not available in this OpenSSL "
                                             f"({ssl.OPENSSL_VERSION}): {', '.join(missing)}")


def _set_curves(context: ssl.SSLContext, names: Sequence[str]) -> None:
    groups = [CURVES[name] for name in names]
    set_groups = getattr(context, "set_groups", None)  # Python 3.15+
    try:
        if set_groups is not None:
            set_groups(":".join(groups))
        elif len(groups) == 1:
            context.set_ecdh_curve(groups[0])
        else:
            raise TLSSetupError(
                "curve_preferences",
                "Python's ssl can set only one curve (set_ecdh_curve): list one curve, or "
                "leave curve_preferences out for OpenSSL's default list",
            )
    except (ValueError, ssl.SSLError) as exc:
        if isinstance(exc, TLSSetupError):
            raise
        raise TLSSetupError("curve_preferences",
                            f"OpenSSL cannot set {', '.join(names)}: {exc}") from None


@contextlib.contextmanager
def _as_file(value: Path | str) -> Iterator[Path]:
    """A file for `load_cert_chain`, which reads only files: the path itself, or the inline
    PEM text in an anonymous memory file (a private temporary file where there is none),
    gone when the context has loaded it."""
    if isinstance(value, Path):
        yield value
        return
    data = value.encode()
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("sla-probe-pem", os.MFD_CLOEXEC)
        try:
            os.write(fd, data)
            yield Path(f"/proc/self/fd/{fd}")
        finally:
            os.close(fd)
        return
    fd, name = tempfile.mkstemp(prefix="sla-probe-", suffix=".pem")  # mode 0600
    try:
        os.write(fd, data)
        os.close(fd)
        yield Path(name)
    finally:
        os.unlink(name)


def _describe(value: Path | str) -> str:
    return str(value) if isinstance(value, Path) else "inline PEM"


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError):
        return exc.reason or str(exc)
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return str(exc)
