"""Imports every built-in check module so each registers its type."""

from checks import http, net, signing  # noqa: F401
