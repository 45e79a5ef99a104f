"""Imports every built-in check module so each registers its type."""

from checks import http, mqtt_broadcast, net, pkcs11_token, signing  # noqa: F401
