"""`evm_head`: the chain head is fresh.

`evm_head` answers "is the blockchain itself alive?" — the question behind a contract's
"blockchain-wide outage" exclusion — so it is typically a service's dependency check. It fails
`stale` when the latest block is older than `max_age`, or when the block number has not
advanced for `max_stall` (for chains whose block timestamps cannot be trusted).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import model_validator

from checks import base
from checks.base import AttemptContext, CheckFailure, CheckType, Resources, Result
from checks.transport.jsonrpc import JsonRpc, RpcConfig, RpcError, hex_int
from probe.durations import Duration, format_duration
from probe.secrets import redact

STALE = "stale"


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


def build_evm_head(config: EvmHeadConfig, resources: Resources) -> EvmHeadCheck:
    return EvmHeadCheck(config, resources)


CHECK_TYPES = (CheckType("evm_head", EvmHeadConfig, build_evm_head),)
