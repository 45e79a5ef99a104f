"""Secrets never leave in another form or to another origin (issue 13, items 2 and 12).

Real servers on loopback: a target that echoes the secret percent-encoded, JSON-escaped or
base64-encoded, and a redirect from one origin (port) to another.
"""

from __future__ import annotations

import base64
import json
import urllib.parse
from typing import Any

from aiohttp import web

from checks.base import Resources
from checks.http import HttpCheck, HttpConfig
from probe import __version__
from probe.config import parse_config
from probe.jobs import build_jobs
from probe.secrets import REDACTED, SecretRegistry
from tests.checks.conftest import MakeCtx, StartServer

SECRET = "k3y/with+odd chars=\"é\""


def encodings(value: str) -> list[str]:
    raw = value.encode()
    return [
        urllib.parse.quote(value, safe=""),
        urllib.parse.quote_plus(value),
        json.dumps(value)[1:-1],
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
    ]


def test_every_encoded_form_of_a_secret_is_redacted() -> None:
    registry = SecretRegistry()
    registry.add(SECRET)
    for form in [SECRET, *encodings(SECRET)]:
        text = f"before {form} after"
        assert registry.redact(text) == f"before {REDACTED} after", form


def check(url: str, resources: Resources, **extra: Any) -> HttpCheck:
    return HttpCheck(HttpConfig.model_validate(
        {"name": "h", "type": "http", "url": url,
         "secret_headers": {"X-Api-Key": SECRET}, **extra}), resources)


async def test_an_echo_in_an_error_body_never_reaches_the_detail(
    start_server: StartServer, resources: Resources, make_ctx: MakeCtx
) -> None:
    async def echo(request: web.Request) -> web.Response:
        key = request.headers["X-Api-Key"]
        return web.json_response({"error": "bad key " + " ".join(encodings(key))})

    base = await start_server({"/x": echo})
    probe = check(f"{base}/x", resources,
                  expect={"json": [{"path": "$.error", "equals": "fine"}]})
    try:
        result = await probe.run(make_ctx())
    finally:
        await probe.aclose()
    assert not result.ok
    text = result.detail + json.dumps(dict(result.evidence))
    for form in encodings(SECRET):
        assert form not in text


async def test_a_cross_origin_redirect_drops_secret_headers_and_is_recorded(
    start_server: StartServer, resources: Resources, make_ctx: MakeCtx
) -> None:
    received: dict[str, dict[str, str]] = {}

    async def land(request: web.Request) -> web.Response:
        received[request.path] = dict(request.headers)
        return web.Response(text="ok")

    other = await start_server({"/land": land})
    target = f"{other}/land?k={urllib.parse.quote(SECRET, safe='')}"

    async def away(_request: web.Request) -> web.Response:
        raise web.HTTPFound(target)

    async def here(_request: web.Request) -> web.Response:
        raise web.HTTPFound("/home")

    base = await start_server({"/away": away, "/here": here, "/home": land})
    for path in ("/away", "/here"):
        probe = check(f"{base}{path}", resources, follow_redirects=True)
        try:
            result = await probe.run(make_ctx())
        finally:
            await probe.aclose()
        assert result.ok, result.detail
        hops = result.evidence["redirects"]
        assert urllib.parse.quote(SECRET, safe="") not in hops
        if path == "/away":
            assert "X-Api-Key" not in received["/land"]
            assert hops.startswith(f"302 {other}/land?k=")
            assert hops.endswith("(secret headers dropped)")
        else:
            assert received["/home"]["X-Api-Key"] == SECRET
            assert hops == f"302 {base}/home"


async def test_probes_say_who_they_are_unless_the_check_says_otherwise(
    start_server: StartServer, make_ctx: MakeCtx, resources: Resources
) -> None:
    agents: list[str] = []

    async def seen(request: web.Request) -> web.Response:
        agents.append(request.headers.get("User-Agent", ""))
        return web.Response(text="ok")

    base = await start_server({"/x": seen})
    config = parse_config(
        "probe: {vantage: zurich-1}\n"
        "services:\n  - name: api\n    checks:\n"
        f'      - {{name: a, type: http, url: "{base}/x"}}\n'
        f'      - {{name: b, type: http, url: "{base}/x", headers: {{User-Agent: mine/1}}}}\n')
    jobs = build_jobs(config, resources)
    try:
        for job in jobs:
            assert (await job.check.run(make_ctx())).ok
    finally:
        for job in jobs:
            await job.check.aclose()  # type: ignore[attr-defined]
    assert agents == [f"sla-probe/{__version__} (vantage zurich-1)", "mine/1"]


def test_the_token_of_a_bearer_header_is_redacted_alone() -> None:
    """`Authorization: Bearer TOKEN` is one registered secret; an echo of TOKEN alone (or
    encoded) must be redacted too."""
    from probe.secrets import REGISTRY, encoded_forms, redact  # noqa: PLC0415

    REGISTRY.add("Bearer tok-3f9a7c1e55d0")
    for form in encoded_forms("tok-3f9a7c1e55d0"):
        assert "tok-3f9a7c1e55d0" not in redact(f"echo: {form}")
        assert form not in redact(f"echo: {form}")
