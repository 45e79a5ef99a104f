"""`http`: one HTTP request, judged by status, body assertions and latency.

The request itself goes through the shared `checks.transport.http.HttpClient`; this module
only says what the answer must look like.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import Field, field_validator

from checks import base
from checks.base import AttemptContext, CheckFailure, CheckType, Resources, Result
from checks.jsonpath import MISSING, compile_path, lookup
from checks.transport.http import HttpClient, RequestConfig, encode_json, with_content_type
from probe.durations import Duration
from probe.fields import StrictModel
from probe.secrets import redact


class JsonAssertion(StrictModel):
    """`path` must exist; optionally equal a value, be one of values, or match a regex."""

    path: str
    equals: Any = None
    one_of: list[Any] | None = None
    matches: str | None = None

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        compile_path(value)
        return value

    @field_validator("matches")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            re.compile(value)
        return value


class Expect(StrictModel):
    status: list[int] = Field(default_factory=lambda: [200])
    json_: list[JsonAssertion] = Field(default_factory=list, alias="json")
    regex: str | None = None
    not_regex: str | None = None
    max_latency: Duration | None = None

    @field_validator("regex", "not_regex")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            re.compile(value)
        return value

    @field_validator("status")
    @classmethod
    def _codes(cls, value: list[int]) -> list[int]:
        if not value or any(not 100 <= v <= 599 for v in value):
            raise ValueError("must list HTTP status codes between 100 and 599")
        return value


class HttpConfig(RequestConfig):
    type: Literal["http"] = "http"
    expect: Expect = Field(default_factory=Expect)
    follow_redirects: bool = False


def judge_body(expect: Expect, body: bytes) -> None:
    """Raise `assertion` when the body fails an expectation."""
    text: str | None = None
    if expect.regex is not None or expect.not_regex is not None:
        text = body.decode("utf-8", errors="replace")
        if expect.regex is not None and re.search(expect.regex, text) is None:
            raise CheckFailure(base.ASSERTION, f"body does not match /{expect.regex}/")
        if expect.not_regex is not None and re.search(expect.not_regex, text) is not None:
            raise CheckFailure(base.ASSERTION, f"body matches /{expect.not_regex}/")
    if not expect.json_:
        return
    try:
        document = json.loads(body)
    except ValueError:
        raise CheckFailure(base.ASSERTION, "body is not valid JSON") from None
    for assertion in expect.json_:
        value = lookup(document, compile_path(assertion.path))
        if value is MISSING:
            raise CheckFailure(base.ASSERTION, f"{assertion.path} is missing")
        if assertion.equals is not None and value != assertion.equals:
            raise CheckFailure(
                base.ASSERTION, f"{assertion.path} is {value!r}, expected {assertion.equals!r}"
            )
        if assertion.one_of is not None and value not in assertion.one_of:
            raise CheckFailure(base.ASSERTION, f"{assertion.path} is {value!r}, not one of")
        if assertion.matches is not None and re.search(assertion.matches, str(value)) is None:
            raise CheckFailure(
                base.ASSERTION, f"{assertion.path} does not match /{assertion.matches}/"
            )


class HttpCheck:
    """Sends the configured request; a fresh connection per attempt unless told otherwise."""

    def __init__(self, config: HttpConfig, resources: Resources) -> None:
        self.config = config
        self._clock = resources.clock
        self._client = HttpClient(
            clock=resources.clock,
            https=config.url.startswith("https"),
            tls=config.tls,
            fresh_connection=config.fresh_connection,
            http_client=config.http_client,
            auth=config.auth,
            user_agent=resources.user_agent,
        )

    def request_headers(self) -> dict[str, str]:
        headers = dict(self.config.headers)
        for key, value in self.config.secret_headers.items():
            headers[key] = value.get_secret_value()
        return headers

    async def run(self, ctx: AttemptContext) -> Result:
        cfg = self.config
        headers = self.request_headers()
        body: bytes | None = None
        if cfg.body is not None:
            body = cfg.body.encode()
        elif cfg.json_body is not None:
            body = encode_json(cfg.json_body)
            headers = with_content_type(headers, "application/json")
        try:
            answer = await self._client.exchange(
                cfg.method,
                cfg.url,
                headers=headers,
                body=body,
                max_body=cfg.max_body,
                follow_redirects=cfg.follow_redirects,
                secret_names=cfg.secret_headers.keys(),
                progress=ctx.evidence,
            )
        except CheckFailure as exc:
            if exc.failure_class == base.TOO_LARGE:
                raise
            return Result(False, exc.failure_class, exc.detail, None, exc.evidence)
        latency, evidence = answer.latency, answer.evidence
        if answer.status not in cfg.expect.status:
            return Result(False, base.HTTP_STATUS, f"HTTP {answer.status}", latency, evidence)
        try:
            judge_body(cfg.expect, answer.body)
        except CheckFailure as exc:
            return Result(False, exc.failure_class, redact(exc.detail), latency, evidence)
        if cfg.expect.max_latency is not None and latency > cfg.expect.max_latency:
            return Result(
                False, base.SLOW, f"answered in {latency:.3f}s, limit "
                f"{cfg.expect.max_latency:g}s", latency, evidence,
            )
        return Result(True, None, f"HTTP {answer.status}", latency, evidence)

    async def aclose(self) -> None:
        await self._client.aclose()


def build_http(config: HttpConfig, resources: Resources) -> HttpCheck:
    return HttpCheck(config, resources)


CHECK_TYPES = (CheckType("http", HttpConfig, build_http),)
