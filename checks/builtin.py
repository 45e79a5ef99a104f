"""Imports every built-in check module so each registers its type.

Modules with optional dependencies (`pkcs11_token`, `mqtt_broadcast`, `evm_broadcast`)
register as unavailable when their extra is not installed.
"""

from checks import (  # noqa: F401
    evm,
    evm_broadcast,
    http,
    mqtt_broadcast,
    net,
    pkcs11_token,
    signing,
)
