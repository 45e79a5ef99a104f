"""Plumbing the check plugins share: TLS contexts, the HTTP client, JSON-RPC, MQTT brokers.

It lives apart from the plugins so that no plugin imports another and the quorum link can
use the same TLS and broker rules without depending on a check type. Nothing here imports a
plugin or the registry; import the submodule you need (`checks.transport.tls`, …) so that a
TLS-only user does not load aiohttp.
"""
