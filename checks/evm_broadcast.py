"""`evm_broadcast`: a signed transaction is accepted by the node (and optionally mined).

Each attempt signs a zero-value transfer from the probe's account to itself and sends it with
`eth_sendRawTransaction`. A node that refuses it fails `rejected`; with `wait_receipt`, a
transaction not mined shortly before the timeout fails `not_delivered`.

Nonce management keeps a busy account from producing false downtime. The nonce is the node's
pending transaction count, fetched every attempt. If the node answers "nonce too low" or
"replacement transaction underpriced" (another transaction — usually an earlier attempt's —
already holds that nonce), the check fetches the pending count again and sends once more:
with the new nonce if it moved, otherwise (same nonce) with a gas price raised enough to
replace the stuck transaction. "already known" means the node already holds this exact
transaction, which is acceptance.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import eth_account
from pydantic import Field, model_validator

from checks import base
from checks.base import AttemptContext, CheckFailure, CheckType, Resources, Result
from checks.transport.jsonrpc import JsonRpc, RpcConfig, RpcError, hex_int
from probe.durations import Duration
from probe.secrets import Secret, redact

_NONCE_TOO_LOW = ("nonce too low", "nonce is too low", "old nonce")
_UNDERPRICED = ("replacement transaction underpriced", "replacement fee too low",
                "underpriced")
_ALREADY_KNOWN = ("already known", "known transaction", "already imported",
                  "already in the mempool")
REPLACEMENT_BUMP = 1.5  # nodes want at least +10 % (geth) / +12.5 %; replace decisively


def _matches(message: str, needles: tuple[str, ...]) -> bool:
    lowered = message.lower()
    return any(needle in lowered for needle in needles)


class EvmBroadcastConfig(RpcConfig):
    type: Literal["evm_broadcast"] = "evm_broadcast"
    private_key: Secret
    chain_id: int | None = Field(default=None, ge=1)
    tx_type: Literal["legacy", "eip1559"] = "eip1559"
    gas_limit: int = Field(default=21000, ge=21000)
    gas_price_multiplier: float = Field(default=1.25, ge=1.0, le=10.0)
    max_fee_gwei: float | None = Field(default=None, gt=0)
    wait_receipt: bool = False
    receipt_poll: Duration = 0.25
    margin: Duration | None = None

    @model_validator(mode="after")
    def _key_loads(self) -> EvmBroadcastConfig:
        try:
            eth_account.Account.from_key(self.private_key.get_secret_value().strip())
        except (ValueError, TypeError):
            raise ValueError("private_key is not a 32-byte hex secp256k1 key") from None
        return self


class EvmBroadcastCheck:
    def __init__(self, config: EvmBroadcastConfig, resources: Resources) -> None:
        self.config = config
        self._clock = resources.clock
        self.rpc = JsonRpc(config, resources)
        self._account = eth_account.Account.from_key(config.private_key.get_secret_value().strip())
        self.address: str = self._account.address
        self._chain_id: int | None = None
        self._prices: dict[int, int] = {}  # the highest gas price we sent per nonce

    async def _chain(self) -> int:
        if self._chain_id is None:
            chain = hex_int(await self.rpc.call("eth_chainId", []), "chain id")
            if self.config.chain_id is not None and chain != self.config.chain_id:
                raise CheckFailure(
                    base.PROTOCOL, f"node serves chain {chain}, expected {self.config.chain_id}"
                )
            self._chain_id = chain
        return self._chain_id

    async def _pending_nonce(self) -> int:
        count = await self.rpc.call("eth_getTransactionCount", [self.address, "pending"])
        return hex_int(count, "transaction count")

    async def _fees(self) -> dict[str, int]:
        cfg = self.config
        if cfg.tx_type == "legacy":
            price = hex_int(await self.rpc.call("eth_gasPrice", []), "gas price")
            fees = {"gasPrice": math.ceil(price * cfg.gas_price_multiplier)}
        else:
            block = await self.rpc.call("eth_getBlockByNumber", ["latest", False])
            if not isinstance(block, dict) or "baseFeePerGas" not in block:
                raise CheckFailure(base.PROTOCOL, "latest block has no baseFeePerGas "
                                   "(use tx_type: legacy on this chain)")
            base_fee = hex_int(block["baseFeePerGas"], "base fee")
            try:
                tip = hex_int(await self.rpc.call("eth_maxPriorityFeePerGas", []), "tip")
            except RpcError:
                tip = 10**9  # nodes without the method: 1 gwei
            tip = math.ceil(tip * cfg.gas_price_multiplier)
            fees = {"maxFeePerGas": 2 * base_fee + tip, "maxPriorityFeePerGas": tip}
        if cfg.max_fee_gwei is not None:
            cap = int(cfg.max_fee_gwei * 10**9)
            top = fees.get("gasPrice", fees.get("maxFeePerGas", 0))
            if top > cap:
                raise CheckFailure("fee_cap", f"fee {top / 1e9:.3f} gwei is above max_fee_gwei "
                                   f"{cfg.max_fee_gwei:g}: not sent")
        return fees

    def _sign(self, nonce: int, fees: dict[str, int], chain: int) -> tuple[str, str]:
        tx: dict[str, Any] = {
            "to": self.address, "value": 0, "gas": self.config.gas_limit, "nonce": nonce,
            "chainId": chain, "data": b"", **fees,
        }
        if self.config.tx_type == "eip1559":
            tx["type"] = 2
        signed = self._account.sign_transaction(tx)
        return signed.raw_transaction.to_0x_hex(), signed.hash.to_0x_hex()

    @staticmethod
    def _bumped(fees: dict[str, int], previous: int | None) -> dict[str, int]:
        out = {}
        for key, value in fees.items():
            floor = math.ceil((previous or value) * REPLACEMENT_BUMP)
            out[key] = max(math.ceil(value * REPLACEMENT_BUMP), floor)
        return out

    async def _send(self, evidence: dict[str, str]) -> str:
        """Send once, or twice after a nonce conflict; returns the transaction hash."""
        chain = await self._chain()
        nonce = await self._pending_nonce()
        fees = await self._fees()
        for round_ in range(2):
            raw, tx_hash = self._sign(nonce, fees, chain)
            evidence.update(nonce=str(nonce), tx_hash=tx_hash,
                            fee_wei=str(max(fees.values())))
            top = max(fees.values())
            self._prices[nonce] = max(self._prices.get(nonce, 0), top)
            try:
                answer = await self.rpc.call("eth_sendRawTransaction", [raw])
            except RpcError as exc:
                if _matches(exc.message, _ALREADY_KNOWN):
                    evidence["send_note"] = "already known"
                    return tx_hash
                conflict = _matches(exc.message, _NONCE_TOO_LOW + _UNDERPRICED)
                if round_ == 0 and conflict:
                    evidence["nonce_conflict"] = exc.message[:200]
                    fresh = await self._pending_nonce()
                    if fresh > nonce:
                        nonce = fresh
                    elif _matches(exc.message, _UNDERPRICED):
                        fees = self._bumped(fees, self._prices.get(nonce))
                    else:
                        nonce += 1
                    continue
                evidence.update(exc.evidence)
                raise CheckFailure(base.REJECTED, f"transaction rejected: {exc.message}",
                                   evidence) from None
            if isinstance(answer, str) and answer.lower() != tx_hash.lower():
                evidence["node_tx_hash"] = answer
            return tx_hash
        raise CheckFailure(base.REJECTED, "nonce conflict persisted after refetching", evidence)

    async def _receipt(self, tx_hash: str, deadline: float) -> dict[str, Any] | None:
        while True:
            receipt = await self.rpc.call("eth_getTransactionReceipt", [tx_hash])
            if isinstance(receipt, dict) and receipt.get("blockNumber"):
                return receipt
            pause = min(self.config.receipt_poll, deadline - self._clock.monotonic())
            if pause <= 0:
                return None
            await self._clock.sleep(pause)

    async def run(self, ctx: AttemptContext) -> Result:
        cfg = self.config
        margin = cfg.margin if cfg.margin is not None else min(0.5, 0.1 * ctx.timeout)
        deadline = self._clock.monotonic() + max(0.0, ctx.remaining() - margin)
        evidence: dict[str, str] = {"from": self.address}
        start = self._clock.monotonic()
        try:
            tx_hash = await self._send(evidence)
            if self.rpc.last is not None:
                evidence.update(self.rpc.last.evidence)
            sent = self._clock.monotonic() - start
            evidence["send_seconds"] = f"{sent:.6f}"
            if not cfg.wait_receipt:
                return Result(True, None, f"accepted {tx_hash}", sent, evidence)
            receipt = await self._receipt(tx_hash, deadline)
        except CheckFailure as exc:
            merged = {**evidence, **exc.evidence}
            return Result(False, exc.failure_class, redact(exc.detail), None, merged)
        except RpcError as exc:
            merged = {**evidence, **exc.evidence}
            return Result(False, base.PROTOCOL, str(exc), None, merged)
        latency = self._clock.monotonic() - start
        if receipt is None:
            return Result(False, base.NOT_DELIVERED, f"{tx_hash} not mined in time", None,
                          evidence)
        evidence["block_number"] = str(int(str(receipt["blockNumber"]), 16))
        if str(receipt.get("status", "0x1")) == "0x0":
            return Result(False, base.REJECTED, f"{tx_hash} reverted", latency, evidence)
        return Result(True, None, f"mined {tx_hash} in block {evidence['block_number']}",
                      latency, evidence)

    async def aclose(self) -> None:
        await self.rpc.aclose()


def build_evm_broadcast(config: EvmBroadcastConfig, resources: Resources) -> EvmBroadcastCheck:
    return EvmBroadcastCheck(config, resources)


CHECK_TYPES = (CheckType("evm_broadcast", EvmBroadcastConfig, build_evm_broadcast),)
