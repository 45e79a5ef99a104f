"""`evm_head` and `evm_broadcast` against a real anvil node on loopback."""

from __future__ import annotations

import asyncio
import json
import math
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from pydantic import ValidationError

from checks.base import Resources
from checks.evm import EvmHeadCheck, EvmHeadConfig
from checks.registry import validate_config
from tests.checks.conftest import MakeCtx, StartServer
from tests.realtools import free_port, require_tool

eth_account = pytest.importorskip("eth_account")

from checks.evm_broadcast import EvmBroadcastCheck, EvmBroadcastConfig  # noqa: E402

# anvil's first well-known development account (mnemonic "test test ... junk"): public
# knowledge, funded only on local development chains.
DEV_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"  # gitleaks:allow
DEV_ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
CHAIN_ID = 31337


def rpc(url: str, method: str, params: list[Any]) -> Any:
    """A blocking JSON-RPC call, for fixtures and assertions."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:
        document = json.loads(response.read())
    if "error" in document:
        raise RuntimeError(document["error"])
    return document["result"]


StartAnvil = Callable[..., str]


@pytest.fixture
def anvil(tmp_path: Path) -> Iterator[StartAnvil]:
    """Start anvil nodes on 127.0.0.1 free ports; returns the RPC URL; stops them after."""
    binary = require_tool("anvil")
    processes: list[subprocess.Popen[bytes]] = []

    def start(*args: str) -> str:
        port = free_port()
        with (tmp_path / f"anvil-{port}.log").open("wb") as log:
            process = subprocess.Popen(
                [binary, "--host", "127.0.0.1", "--port", str(port), "--silent", *args],
                stdout=log, stderr=subprocess.STDOUT,
            )
        processes.append(process)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 15
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"anvil exited with {process.returncode}")
            try:
                rpc(url, "eth_chainId", [])
                return url
            except (OSError, urllib.error.URLError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    yield start
    for process in processes:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def _broadcast(url: str, **changes: Any) -> EvmBroadcastConfig:
    return EvmBroadcastConfig.model_validate(
        {"name": "tx", "type": "evm_broadcast", "rpc_url": url, "private_key": DEV_KEY,
         "chain_id": CHAIN_ID, "interval": "30s", "timeout": "5s", **changes}
    )


async def _run(check: Any, make_ctx: MakeCtx, timeout: float = 5.0) -> Any:
    return await asyncio.wait_for(check.run(make_ctx(timeout)), timeout + 2)


@pytest.mark.real
class TestEvmBroadcastWithAnvil:
    @pytest.mark.parametrize("tx_type", ["eip1559", "legacy"])
    async def test_self_transfer_is_accepted(
        self, tx_type: str, anvil: StartAnvil, resources: Resources, make_ctx: MakeCtx
    ) -> None:
        url = anvil("--no-mining")
        check = EvmBroadcastCheck(_broadcast(url, tx_type=tx_type), resources)
        try:
            result = await _run(check, make_ctx)
        finally:
            await check.aclose()
        assert result.ok, result.detail
        tx = rpc(url, "eth_getTransactionByHash", [result.evidence["tx_hash"]])
        assert tx["from"].lower() == DEV_ADDRESS.lower()
        assert tx["to"].lower() == DEV_ADDRESS.lower()
        assert int(tx["value"], 16) == 0
        assert result.evidence["nonce"] == "0"
        assert len(result.evidence["body_sha256"]) == 64
        assert DEV_KEY[2:] not in json.dumps(dict(result.evidence))

    async def test_waits_for_the_receipt(
        self, anvil: StartAnvil, resources: Resources, make_ctx: MakeCtx
    ) -> None:
        url = anvil()  # automine: mined on arrival
        check = EvmBroadcastCheck(_broadcast(url, wait_receipt=True), resources)
        try:
            result = await _run(check, make_ctx)
        finally:
            await check.aclose()
        assert result.ok, result.detail
        assert result.evidence["block_number"] == "1"

    async def test_unmined_transaction_is_not_delivered_before_timeout(
        self, anvil: StartAnvil, resources: Resources, make_ctx: MakeCtx
    ) -> None:
        url = anvil("--no-mining")
        check = EvmBroadcastCheck(
            _broadcast(url, wait_receipt=True, timeout="1500ms", receipt_poll="100ms"),
            resources,
        )
        started = time.monotonic()
        try:
            result = await _run(check, make_ctx, timeout=1.5)
        finally:
            await check.aclose()
        assert result.failure_class == "not_delivered", result.detail
        assert time.monotonic() - started < 1.5

    async def test_busy_account_gets_consecutive_nonces(
        self, anvil: StartAnvil, resources: Resources, make_ctx: MakeCtx
    ) -> None:
        url = anvil("--no-mining")  # earlier attempts' transactions stay pending
        check = EvmBroadcastCheck(_broadcast(url), resources)
        try:
            results = [await _run(check, make_ctx) for _ in range(3)]
        finally:
            await check.aclose()
        assert all(r.ok for r in results), [r.detail for r in results]
        assert [r.evidence["nonce"] for r in results] == ["0", "1", "2"]

    async def test_unfunded_account_is_rejected(
        self, anvil: StartAnvil, resources: Resources, make_ctx: MakeCtx
    ) -> None:
        url = anvil()
        key = eth_account.Account.create().key.to_0x_hex()
        check = EvmBroadcastCheck(_broadcast(url, private_key=key), resources)
        try:
            result = await _run(check, make_ctx)
        finally:
            await check.aclose()
        assert result.failure_class == "rejected", result.detail
        assert key[2:] not in result.detail

    async def test_wrong_chain_is_protocol(
        self, anvil: StartAnvil, resources: Resources, make_ctx: MakeCtx
    ) -> None:
        url = anvil()
        check = EvmBroadcastCheck(_broadcast(url, chain_id=1), resources)
        try:
            result = await _run(check, make_ctx)
        finally:
            await check.aclose()
        assert result.failure_class == "protocol"
        assert "31337" in result.detail

    async def test_fee_above_cap_is_not_sent(
        self, anvil: StartAnvil, resources: Resources, make_ctx: MakeCtx
    ) -> None:
        url = anvil("--no-mining")
        check = EvmBroadcastCheck(_broadcast(url, max_fee_gwei=0.000001), resources)
        try:
            result = await _run(check, make_ctx)
        finally:
            await check.aclose()
        assert result.failure_class == "fee_cap"
        assert rpc(url, "eth_getTransactionCount", [DEV_ADDRESS, "pending"]) == "0x0"

    async def test_dead_node_is_connect(self, resources: Resources, make_ctx: MakeCtx) -> None:
        check = EvmBroadcastCheck(_broadcast(f"http://127.0.0.1:{free_port()}"), resources)
        try:
            result = await _run(check, make_ctx)
        finally:
            await check.aclose()
        assert result.failure_class == "connect"


Rewrite = Callable[[dict[str, Any]], Awaitable[Any]]


async def _proxy(start_server: StartServer, upstream: str, rewrite: Rewrite) -> str:
    """A JSON-RPC proxy to `upstream`; `rewrite` may answer a request itself (not None)."""
    async def handle(request: web.Request) -> web.Response:
        document = await request.json()
        own = await rewrite(document)
        if own is not None:
            return web.json_response({"jsonrpc": "2.0", "id": document["id"], "result": own})
        async with aiohttp.ClientSession() as session, session.post(
            upstream, json=document
        ) as response:
            return web.json_response(await response.json())

    return f"{await start_server({'/': handle})}/"


@pytest.mark.real
class TestEvmBroadcastNonceConflicts:
    async def test_stale_nonce_is_refetched_after_nonce_too_low(
        self, anvil: StartAnvil, start_server: StartServer, resources: Resources,
        make_ctx: MakeCtx,
    ) -> None:
        url = anvil()
        for _ in range(3):  # the account has sent three transactions
            signed = eth_account.Account.sign_transaction(
                {"to": DEV_ADDRESS, "value": 0, "gas": 21000, "gasPrice": 10**10,
                 "nonce": int(rpc(url, "eth_getTransactionCount", [DEV_ADDRESS, "pending"]),
                              16),
                 "chainId": CHAIN_ID},
                DEV_KEY,
            )
            rpc(url, "eth_sendRawTransaction", [signed.raw_transaction.to_0x_hex()])
        # mined, not just pooled: a pooled nonce 0 answers "underpriced", not "nonce too low"
        deadline = time.monotonic() + 10
        while int(rpc(url, "eth_getTransactionCount", [DEV_ADDRESS, "latest"]), 16) < 3:
            assert time.monotonic() < deadline, "anvil did not mine the three transactions"
            await asyncio.sleep(0.05)
        stale = {"left": 1}

        async def lagging(document: dict[str, Any]) -> Any:
            if document["method"] == "eth_getTransactionCount" and stale["left"]:
                stale["left"] -= 1
                return "0x0"  # a lagging node behind a load balancer
            return None

        proxy = await _proxy(start_server, url, lagging)
        check = EvmBroadcastCheck(_broadcast(proxy), resources)
        try:
            result = await _run(check, make_ctx)
        finally:
            await check.aclose()
        assert result.ok, result.detail
        assert result.evidence["nonce"] == "3"
        assert "nonce" in result.evidence["nonce_conflict"].lower()

    async def test_occupied_nonce_moves_past_replacement_underpriced(
        self, anvil: StartAnvil, start_server: StartServer, resources: Resources,
        make_ctx: MakeCtx,
    ) -> None:
        url = anvil("--no-mining")
        # Another sender of the same account holds nonce 0 in the pool at a high price.
        signed = eth_account.Account.sign_transaction(
            {"to": DEV_ADDRESS, "value": 0, "gas": 21000, "maxFeePerGas": 10**12,
             "maxPriorityFeePerGas": 10**11, "nonce": 0, "chainId": CHAIN_ID, "type": 2},
            DEV_KEY,
        )
        rpc(url, "eth_sendRawTransaction", [signed.raw_transaction.to_0x_hex()])
        stale = {"left": 1}

        async def unaware(document: dict[str, Any]) -> Any:
            if document["method"] == "eth_getTransactionCount" and stale["left"]:
                stale["left"] -= 1
                return "0x0"  # a node that has not seen the pending transaction yet
            return None

        proxy = await _proxy(start_server, url, unaware)
        check = EvmBroadcastCheck(_broadcast(proxy), resources)
        try:
            result = await _run(check, make_ctx)
        finally:
            await check.aclose()
        assert result.ok, result.detail
        assert result.evidence["nonce"] == "1"
        assert "underpriced" in result.evidence["nonce_conflict"].lower()

    async def test_repeated_identical_transaction_counts_as_accepted(
        self, anvil: StartAnvil, start_server: StartServer, resources: Resources,
        make_ctx: MakeCtx,
    ) -> None:
        url = anvil("--no-mining")

        async def latest_only(document: dict[str, Any]) -> Any:
            if document["method"] == "eth_getTransactionCount":
                return "0x0"  # this node never counts pending transactions
            return None

        proxy = await _proxy(start_server, url, latest_only)
        check = EvmBroadcastCheck(_broadcast(proxy, tx_type="legacy"), resources)
        try:
            first = await _run(check, make_ctx)
            second = await _run(check, make_ctx)
        finally:
            await check.aclose()
        assert first.ok, first.detail
        assert second.ok, second.detail
        assert second.evidence["tx_hash"] == first.evidence["tx_hash"]
        assert second.evidence["send_note"] == "already known"

    async def test_stuck_transaction_on_the_same_nonce_is_replaced_with_higher_fee(
        self, anvil: StartAnvil, start_server: StartServer, resources: Resources,
        make_ctx: MakeCtx,
    ) -> None:
        url = anvil("--no-mining")
        check_fee = math.ceil(int(rpc(url, "eth_gasPrice", []), 16) * 1.25)
        stuck_fee = math.ceil(check_fee * 1.05)  # a bit above what the check will offer
        stuck = eth_account.Account.sign_transaction(
            {"to": DEV_ADDRESS, "value": 0, "gas": 21000, "gasPrice": stuck_fee, "nonce": 0,
             "chainId": CHAIN_ID},
            DEV_KEY,
        )
        rpc(url, "eth_sendRawTransaction", [stuck.raw_transaction.to_0x_hex()])

        async def latest_only(document: dict[str, Any]) -> Any:
            if document["method"] == "eth_getTransactionCount":
                return "0x0"  # this node never counts pending transactions
            return None

        proxy = await _proxy(start_server, url, latest_only)
        check = EvmBroadcastCheck(_broadcast(proxy, tx_type="legacy"), resources)
        try:
            result = await _run(check, make_ctx)
        finally:
            await check.aclose()
        assert result.ok, result.detail
        assert "underpriced" in result.evidence["nonce_conflict"].lower()
        assert result.evidence["nonce"] == "0"
        assert int(result.evidence["fee_wei"]) > stuck_fee
        assert rpc(url, "eth_getTransactionByHash", [result.evidence["tx_hash"]]) is not None
        assert rpc(url, "eth_getTransactionByHash", [stuck.hash.to_0x_hex()]) is None


@pytest.mark.real
class TestEvmHeadWithAnvil:
    async def test_fresh_head_is_ok(
        self, anvil: StartAnvil, resources: Resources, make_ctx: MakeCtx
    ) -> None:
        url = anvil()
        check = EvmHeadCheck(EvmHeadConfig(name="h", rpc_url=url, max_age=60), resources)
        try:
            result = await _run(check, make_ctx)
        finally:
            await check.aclose()
        assert result.ok, result.detail
        assert result.evidence["head_number"] == "0"
        assert float(result.evidence["head_age_seconds"]) < 60

    async def test_old_head_is_stale(
        self, anvil: StartAnvil, resources: Resources, make_ctx: MakeCtx
    ) -> None:
        url = anvil("--timestamp", str(int(time.time()) - 3600))
        check = EvmHeadCheck(EvmHeadConfig(name="h", rpc_url=url, max_age=60), resources)
        try:
            result = await _run(check, make_ctx)
        finally:
            await check.aclose()
        assert result.failure_class == "stale"
        assert float(result.evidence["head_age_seconds"]) > 3500

    async def test_head_that_stops_advancing_is_stale(
        self, anvil: StartAnvil, resources: Resources, make_ctx: MakeCtx
    ) -> None:
        url = anvil()
        check = EvmHeadCheck(
            EvmHeadConfig(name="h", rpc_url=url, max_age=None, max_stall=0.3), resources
        )
        try:
            first = await _run(check, make_ctx)
            await asyncio.sleep(0.4)
            stuck = await _run(check, make_ctx)
            rpc(url, "evm_mine", [])
            moved = await _run(check, make_ctx)
        finally:
            await check.aclose()
        assert first.ok
        assert stuck.failure_class == "stale"
        assert "stuck at #0" in stuck.detail
        assert moved.ok
        assert moved.evidence["head_number"] == "1"


class TestEvmHeadAgainstBrokenNodes:
    @pytest.mark.parametrize(
        ("status", "body", "failure_class"),
        [
            (502, b"bad gateway", "http_status"),
            (200, b"not json", "protocol"),
            (200, b'{"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"down"}}',
             "protocol"),
            (200, b'{"jsonrpc":"2.0","id":1,"result":null}', "protocol"),
            (200, b'{"jsonrpc":"2.0","id":1,"result":{"number":"12","timestamp":"0x1"}}',
             "protocol"),
        ],
    )
    async def test_bad_answers_are_classified(
        self, status: int, body: bytes, failure_class: str, start_server: StartServer,
        resources: Resources, make_ctx: MakeCtx,
    ) -> None:
        async def handler(_request: web.Request) -> web.Response:
            return web.Response(status=status, body=body, content_type="application/json")

        url = await start_server({"/": handler})
        check = EvmHeadCheck(EvmHeadConfig(name="h", rpc_url=f"{url}/"), resources)
        try:
            result = await _run(check, make_ctx)
        finally:
            await check.aclose()
        assert result.failure_class == failure_class, result.detail
        assert "body_sha256" in result.evidence


class TestEvmConfigs:
    def test_dev_key_is_the_funded_dev_account(self) -> None:
        assert eth_account.Account.from_key(DEV_KEY).address == DEV_ADDRESS

    def test_types_are_registered(self) -> None:
        head = validate_config({"name": "h", "type": "evm_head", "rpc_url": "http://n"})
        assert isinstance(head, EvmHeadConfig)
        tx = validate_config({"name": "t", "type": "evm_broadcast", "rpc_url": "http://n",
                              "private_key": DEV_KEY})
        assert isinstance(tx, EvmBroadcastConfig)
        assert DEV_KEY not in repr(tx)

    def test_head_needs_a_limit(self) -> None:
        with pytest.raises(ValidationError, match="max_age and/or max_stall"):
            EvmHeadConfig(name="h", rpc_url="http://n", max_age=None)

    def test_bad_private_key_is_refused_without_echoing_it(self) -> None:
        with pytest.raises(ValidationError, match="not a 32-byte hex") as info:
            EvmBroadcastConfig(name="t", rpc_url="http://n",
                               private_key="0xnot-a-key-material")  # type: ignore[arg-type]
        assert "not-a-key-material" not in str(info.value)

    def test_private_key_from_file(self, tmp_path: Path) -> None:
        path = tmp_path / "key"
        path.write_text(DEV_KEY + "\n")
        config = EvmBroadcastConfig.model_validate(
            {"name": "t", "rpc_url": "http://n", "private_key_file": str(path)}
        )
        assert config.private_key.get_secret_value() == DEV_KEY
