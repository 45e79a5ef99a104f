"""JSON-RPC 2.0 over HTTP to an EVM node, shared by `evm_head` and `evm_broadcast`.

It rides on the shared `HttpClient`, so a node's transport failures, body cap and evidence
are those of every other HTTP-based check.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from checks import base
from checks.auth import AuthConfig
from checks.base import CheckConfig, CheckFailure, Resources
from checks.transport.http import Exchange, HttpClient
from checks.transport.tls import TlsOptions, build_ssl_context
from probe.secrets import Secret, redact, resolve_secret_map


class RpcError(Exception):
    """The node answered with a JSON-RPC error object."""

    def __init__(self, code: int | None, message: str, evidence: dict[str, str]) -> None:
        super().__init__(f"JSON-RPC error {code}: {message}")
        self.code = code
        self.message = message
        self.evidence = evidence


class RpcConfig(CheckConfig):
    """Fields of every check that talks to an EVM node over JSON-RPC (HTTP)."""

    model_config = ConfigDict(hide_input_in_errors=True)  # errors never echo secrets

    rpc_url: str = Field(pattern=r"^https?://")
    headers: dict[str, str] = Field(default_factory=dict)
    secret_headers: dict[str, Secret] = Field(default_factory=dict)
    tls: TlsOptions = Field(default_factory=TlsOptions)
    auth: AuthConfig | None = None
    max_body: int = Field(default=1 << 20, ge=0)
    fresh_connection: bool = True
    http_client: Literal["lean", "aiohttp"] = "lean"

    @field_validator("secret_headers", mode="before")
    @classmethod
    def _secret_header_files(cls, value: Any) -> Any:
        """`X-Api-Key_file: PATH` sends header `X-Api-Key` with the file's content."""
        return resolve_secret_map(value)

    @model_validator(mode="after")
    def _tls_loads(self) -> RpcConfig:
        build_ssl_context(self.tls)
        return self


class JsonRpc:
    """A JSON-RPC 2.0 client on the check's `HttpClient` (same evidence and classes)."""

    def __init__(self, config: RpcConfig, resources: Resources) -> None:
        self.config = config
        self.http = HttpClient(
            clock=resources.clock,
            https=config.rpc_url.startswith("https"),
            tls=config.tls,
            fresh_connection=config.fresh_connection,
            http_client=config.http_client,
            auth=config.auth,
            user_agent=resources.user_agent,
        )
        self._id = 0
        self.last: Exchange | None = None

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", **self.config.headers}
        for key, value in self.config.secret_headers.items():
            headers[key] = value.get_secret_value()
        return headers

    async def call(self, method: str, params: list[Any]) -> Any:
        """The `result`; raises `CheckFailure` (transport, HTTP, shape) or `RpcError`."""
        self._id += 1
        self.last = None
        body = json.dumps(
            {"jsonrpc": "2.0", "id": self._id, "method": method, "params": params}
        ).encode()
        answer = await self.http.exchange(
            "POST", self.config.rpc_url, headers=self._headers(), body=body,
            max_body=self.config.max_body,
        )
        self.last = answer
        evidence = dict(answer.evidence)
        if answer.status != 200:
            raise CheckFailure(base.HTTP_STATUS, f"{method}: HTTP {answer.status}", evidence)
        try:
            document = json.loads(answer.body)
        except ValueError:
            raise CheckFailure(base.PROTOCOL, f"{method}: answer is not JSON", evidence) from None
        if not isinstance(document, dict):
            raise CheckFailure(base.PROTOCOL, f"{method}: answer is not an object", evidence)
        error = document.get("error")
        if error is not None:
            code = error.get("code") if isinstance(error, dict) else None
            message = str(error.get("message", error)) if isinstance(error, dict) else str(error)
            raise RpcError(code if isinstance(code, int) else None, redact(message), evidence)
        if "result" not in document:
            raise CheckFailure(base.PROTOCOL, f"{method}: answer has no result", evidence)
        return document["result"]

    async def aclose(self) -> None:
        await self.http.aclose()


def hex_int(value: Any, what: str) -> int:
    """An EVM quantity (`0x…`) as int; `protocol` failure when malformed."""
    if not isinstance(value, str) or not value.startswith("0x"):
        raise CheckFailure(base.PROTOCOL, f"{what} is not a hex quantity: {value!r:.40}")
    try:
        return int(value, 16)
    except ValueError:
        raise CheckFailure(base.PROTOCOL, f"{what} is not a hex quantity: {value!r:.40}") from None
