"""EVM JSON-RPC over HTTP, and `evm_head`: the chain head is fresh.

`evm_head` answers "is the blockchain itself alive?" — the question behind a contract's
"blockchain-wide outage" exclusion — so it is typically a service's dependency check. It fails
`stale` when the latest block is older than `max_age`, or when the block number has not
advanced for `max_stall` (for chains whose block timestamps cannot be trusted).
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import ConfigDict, Field, model_validator

from checks import base
from checks.auth import AuthConfig
from checks.base import AttemptContext, CheckConfig, CheckFailure, Resources, Result
from checks.http import Exchange, HttpClient, TlsOptions, build_ssl_context
from checks.registry import register
from probe.durations import Duration, format_duration
from probe.secrets import Secret, redact

STALE = "stale"


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
            auth=config.auth,
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


class EvmHeadConfig(RpcConfig):
    type: Literal["evm_head"] = "evm_head"
    max_age: Duration | None = 120.0
    max_stall: Duration | None = None

    @model_validator(mode="after")
    def _some_limit(self) -> EvmHeadConfig:
        if self.max_age is None and self.max_stall is None:
            raise ValueError("give max_age and/or max_stall")
        return self


class EvmHeadCheck:
    def __init__(self, config: EvmHeadConfig, resources: Resources) -> None:
        self.config = config
        self._clock = resources.clock
        self.rpc = JsonRpc(config, resources)
        self._best: int | None = None
        self._best_seen_wall: float | None = None

    async def _latest(self) -> tuple[dict[str, Any], int, int]:
        block = await self.rpc.call("eth_getBlockByNumber", ["latest", False])
        if not isinstance(block, dict):
            raise CheckFailure(base.PROTOCOL, "eth_getBlockByNumber returned no block")
        number = hex_int(block.get("number"), "block number")
        return block, number, hex_int(block.get("timestamp"), "block timestamp")

    async def run(self, ctx: AttemptContext) -> Result:
        cfg = self.config
        start = self._clock.monotonic()
        try:
            block, number, timestamp = await self._latest()
        except CheckFailure as exc:
            evidence = {**(self.rpc.last.evidence if self.rpc.last else {}), **exc.evidence}
            return Result(False, exc.failure_class, redact(exc.detail), None, evidence)
        except RpcError as exc:
            return Result(False, base.PROTOCOL, str(exc), None, exc.evidence)
        latency = self._clock.monotonic() - start
        now = self._clock.wall()
        age = now - timestamp
        evidence = dict(self.rpc.last.evidence) if self.rpc.last else {}
        evidence.update(
            head_number=str(number), head_hash=str(block.get("hash", "")),
            head_timestamp=str(timestamp), head_age_seconds=f"{age:.3f}",
        )
        if self._best is None or number > self._best:
            self._best, self._best_seen_wall = number, now
        if cfg.max_age is not None and age > cfg.max_age:
            return Result(False, STALE, f"head #{number} is {format_duration(round(age))} old, "
                          f"limit {format_duration(cfg.max_age)}", latency, evidence)
        if cfg.max_stall is not None and self._best_seen_wall is not None:
            stalled = now - self._best_seen_wall
            if stalled > cfg.max_stall:
                return Result(False, STALE, f"head stuck at #{self._best} for "
                              f"{stalled:.1f}s, limit {format_duration(cfg.max_stall)}",
                              latency, evidence)
        return Result(True, None, f"head #{number}, {age:.1f}s old", latency, evidence)

    async def aclose(self) -> None:
        await self.rpc.aclose()


@register("evm_head", EvmHeadConfig)
def build_evm_head(config: EvmHeadConfig, resources: Resources) -> EvmHeadCheck:
    return EvmHeadCheck(config, resources)
