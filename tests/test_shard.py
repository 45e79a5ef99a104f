"""Shards: every contract in exactly one shard, with the services it needs, controls in all."""

from __future__ import annotations

import argparse
import hashlib
import json
import textwrap
from pathlib import Path

import pytest

from checks.base import Resources
from probe.cli import main
from probe.cli.run import _sharded
from probe.clock import SystemClock
from probe.config import Config, Shard, parse_config
from probe.jobs import build_jobs, close_jobs
from probe.model import CONTROL_SERVICE
from probe.shard import shard_config, shard_of
from probe.store import Ledger

CONFIG = textwrap.dedent("""\
    probe: {vantage: t}
    services:
      - name: api
        checks: [{name: h, type: http, url: "http://127.0.0.1:1/"}]
      - name: db
        checks: [{name: h, type: http, url: "http://127.0.0.1:1/"}]
      - name: queue
        checks: [{name: h, type: http, url: "http://127.0.0.1:1/"}]
      - name: orphan
        checks: [{name: h, type: http, url: "http://127.0.0.1:1/"}]
    controls:
      - {name: reach, type: http, url: "http://127.0.0.1:1/"}
    contracts:
      - {name: alpha, objectives: [{service: api, target: 99}]}
      - {name: bravo, objectives: [{service: api, target: 99}, {service: db, target: 99}]}
      - {name: charlie, objectives: [{service: queue, target: 99}]}
      - {name: delta, objectives: [{service: queue, target: 99}], watch: [db]}
      - {name: foxtrot, objectives: [{service: whole, of: [api, db], target: 99}]}
    maintenance:
      - {contract: alpha, reference: m1, start: "2026-01-01T00:00:00Z", end: "2026-01-01T01:00:00Z",
         announced_at: "2025-12-01T00:00:00Z"}
      - {contract: charlie, reference: m2, start: "2026-01-01T00:00:00Z",
         end: "2026-01-01T01:00:00Z", announced_at: "2025-12-01T00:00:00Z"}
    """)


@pytest.fixture
def config() -> Config:
    return parse_config(CONFIG)


class TestHash:
    def test_is_prometheus_hashmod(self) -> None:
        # hashmod: binary.BigEndian.Uint64(md5(value)[8:]) % modulus
        digest = hashlib.md5(b"alpha").digest()
        assert shard_of("alpha", 7) == int.from_bytes(digest[8:], "big") % 7

    def test_is_stable(self) -> None:
        # Fixed values: a change of hash would move every contract to another ledger.
        assert [shard_of(n, 3) for n in ("alpha", "bravo", "charlie", "delta")] == [1, 2, 0, 0]


class TestShardSpec:
    def test_default_is_everything(self, config: Config) -> None:
        assert config.probe.shard == Shard(index=0, count=1)
        assert shard_config(config) is config

    @pytest.mark.parametrize("text", ["1/3", " 1/3 "])
    def test_slash_form(self, text: str) -> None:
        assert Shard.model_validate(text) == Shard(index=1, count=3)

    @pytest.mark.parametrize("text", ["3/3", "1", "a/3", "1/0", "-1/3"])
    def test_bad_forms_are_refused(self, text: str) -> None:
        with pytest.raises(ValueError, match=r"shard|index|count|greater"):
            Shard.model_validate(text)

    def test_in_the_file(self) -> None:
        config = parse_config(CONFIG.replace("probe: {vantage: t}",
                                             'probe: {vantage: t, shard: "2/3"}'))
        assert config.probe.shard == Shard(index=2, count=3)
        assert [c.name for c in shard_config(config).contracts] == ["bravo"]

    def test_bad_shard_in_the_file_names_the_line(self) -> None:
        with pytest.raises(Exception, match=r"<config>:1:.*below count"):
            parse_config(CONFIG.replace("probe: {vantage: t}",
                                        "probe: {vantage: t, shard: {index: 3, count: 3}}"))


class TestSplit:
    def test_every_contract_in_exactly_one_shard(self, config: Config) -> None:
        parts = [shard_config(config, Shard(index=i, count=3)) for i in range(3)]
        names = [c.name for part in parts for c in part.contracts]
        assert sorted(names) == sorted(c.name for c in config.contracts)
        assert all(part.contracts for part in parts)  # the fixture spreads over all three

    def test_a_shard_keeps_the_services_its_contracts_measure(self, config: Config) -> None:
        for i in range(3):
            part = shard_config(config, Shard(index=i, count=3))
            have = {s.name for s in part.services}
            for contract in part.contracts:
                assert set(contract.services()) <= have

    def test_unnamed_service_probed_in_exactly_one_shard(self, config: Config) -> None:
        holders = [i for i in range(3) if "orphan" in
                   {s.name for s in shard_config(config, Shard(index=i, count=3)).services}]
        assert holders == [shard_of("orphan", 3)]

    def test_controls_run_in_every_shard(self, config: Config) -> None:
        for i in range(3):
            part = shard_config(config, Shard(index=i, count=3))
            assert [c.name for c in part.controls] == ["reach"]
            assert part.probe.shard == Shard(index=i, count=3)

    def test_maintenance_follows_its_contract(self, config: Config) -> None:
        part = shard_config(config, Shard(index=shard_of("alpha", 3), count=3))
        assert [m.reference for m in part.maintenance] == ["m1"]
        assert set(part.maintenance_plan) == {c.name for c in part.contracts}

    async def test_jobs_of_a_shard_build(self, config: Config) -> None:
        part = shard_config(config, Shard(index=0, count=3))  # charlie, delta
        jobs = build_jobs(part, Resources(clock=SystemClock()))
        try:
            assert {j.service for j in jobs} == {"db", "queue", CONTROL_SERVICE}
        finally:
            await close_jobs(jobs)


class TestCommandLine:
    def test_flag_wins_over_the_file(self, config: Config) -> None:
        part = _sharded(config, "1/3")
        assert part.probe.shard == Shard(index=1, count=3)
        assert {c.name for c in part.contracts} == {"alpha", "foxtrot"}

    def test_no_flag_uses_the_file(self, config: Config) -> None:
        assert _sharded(config, None) is config

    def test_bad_flag_exits_with_the_form(self, config: Config) -> None:
        with pytest.raises(SystemExit, match="INDEX/COUNT"):
            _sharded(config, "x")

    def test_parser_has_the_flag(self) -> None:
        from probe.cli.run import add_arguments  # noqa: PLC0415

        parser = argparse.ArgumentParser()
        add_arguments(parser)
        assert parser.parse_args(["-c", "x", "--shard", "0/2"]).shard == "0/2"


def test_report_in_a_sharded_pod_lists_only_its_own_contracts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The ledger of shard i/N holds only its contracts; `report` (like `evidence` and
    `claim`) reads the config cut to the same shard, so no other shard's contract shows up
    as a month of `no_data`."""
    base = tmp_path
    path = base / "config.yaml"
    shard = Shard(index=0, count=3)
    path.write_text(CONFIG.replace("probe: {vantage: t}",
                                   "probe: {vantage: t, shard: {index: 0, count: 3}}"))
    Ledger(base / "state").close()
    assert main(["report", "-c", str(path), "--month", "2026-01", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    names = {c["contract"] for c in doc["contracts"]}
    assert names == {c for c in ("alpha", "bravo", "charlie", "delta", "foxtrot")
                     if shard_of(c, 3) == shard.index}
