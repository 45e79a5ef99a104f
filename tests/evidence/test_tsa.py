"""RFC 3161 timestamps from a real local TSA (`openssl ts -reply`); a TSA that is down."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from probe.cli import main
from probe.evidence.keys import PUB_FILE, load_vantage_key
from probe.evidence.pack import sign_head, write_pack
from probe.evidence.service import EvidenceService
from probe.evidence.tsa import TsaError, request_timestamp, verify_token
from probe.store import LedgerWorker, chain
from tests.conftest import free_port
from tests.evidence import builder
from tests.evidence.tsa_server import LocalTsa, make_ca


@pytest.fixture
async def tsa(tmp_path: Path) -> AsyncIterator[LocalTsa]:
    server = LocalTsa(tmp_path / "tsa")
    await server.start()
    yield server
    await server.stop()


async def test_a_token_verifies_against_the_tsa_ca_only(tsa: LocalTsa, tmp_path: Path) -> None:
    async with aiohttp.ClientSession() as session:
        token = await request_timestamp(session, tsa.url, b"head payload", 10)
    assert verify_token(token, b"head payload", tsa.ca.read_bytes())[1] is None
    assert "another message" in str(verify_token(token, b"other", tsa.ca.read_bytes())[1])
    other_ca, _, _ = make_ca(tmp_path / "other", "Another Root")
    assert "does not verify" in str(verify_token(token, b"head payload",
                                                 other_ca.read_bytes())[1])


async def test_a_tsa_that_is_down_is_retried_and_counted(tsa: LocalTsa, tmp_path: Path) -> None:
    state = tmp_path / "state"
    cfg, ledger = builder.build(state, hours=0.1)
    down = f"http://127.0.0.1:{free_port()}/"
    cfg = cfg.model_copy(update={"evidence": cfg.evidence.model_copy(
        update={"tsa_url": down, "packs": False})})
    worker = LedgerWorker(ledger)
    service = EvidenceService(cfg, worker, builder_clock())
    try:
        await service.start()  # signs the first head, the TSA is down
        assert service.heads_signed == 1
        assert service.timestamp_failures == 1
        assert ledger.read(chain.count_untimestamped) == 1
        families = {f.name: f for f in service.metric_families(cfg, ledger, 0)}
        assert families["sla_probe_evidence_timestamp_failures"].samples[0].value == 1
        service.config = cfg.model_copy(update={"evidence": cfg.evidence.model_copy(
            update={"tsa_url": tsa.url})})
        service._next_tsa = 0.0
        await service.tick()
        assert service.timestamps == 1
        assert ledger.read(chain.count_untimestamped) == 0
    finally:
        await service.close()
        worker.close()


class builder_clock:
    def wall(self) -> float:
        return builder.CLOSE

    def monotonic(self) -> float:
        return 0.0


async def test_a_pack_with_a_real_timestamp_verifies(tsa: LocalTsa, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / "state"
    cfg, ledger = builder.build(state, hours=0.5)
    key = load_vantage_key(cfg)
    assert sign_head(ledger, key, "paris", builder.CLOSE)
    ((head_id, payload, _),) = ledger.read(chain.untimestamped)
    async with aiohttp.ClientSession() as session:
        token = await request_timestamp(session, tsa.url, payload.encode(), 10)
    ledger.write(lambda c: chain.set_timestamp(c, head_id, token))
    write_pack(cfg, ledger, key, "acme", builder.MONTH, out=tmp_path / "pack",
               now=builder.CLOSE + 3600)
    ledger.close()
    pub = state / "evidence" / PUB_FILE
    assert main(["verify", str(tmp_path / "pack"), "--key", str(pub),
                 "--tsa-ca", str(tsa.ca)]) == 0
    assert "1 RFC 3161 timestamps (checked against --tsa-ca)" in capsys.readouterr().out
    other_ca, _, _ = make_ca(tmp_path / "other", "Another Root")
    assert main(["verify", str(tmp_path / "pack"), "--tsa-ca", str(other_ca)]) == 1
    assert "heads.jsonl row 1: timestamp token" in capsys.readouterr().err


async def test_a_refused_request_is_a_tsa_error(tmp_path: Path) -> None:
    async with aiohttp.ClientSession() as session:
        with pytest.raises(TsaError, match="unreachable"):
            await request_timestamp(session, f"http://127.0.0.1:{free_port()}/", b"x", 2)
