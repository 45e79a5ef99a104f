"""The five example contracts load, and maintenance/exclusion sections are cross-checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from probe.config import load_config
from probe.yamlsource import ConfigError
from tests.contracts.builders import config_with

EXAMPLES = Path(__file__).parents[2] / "config" / "contracts"

CONTRACT = """
- name: c
  objectives: [{service: api, target: 99.9}]
"""


class TestExampleContracts:
    @pytest.mark.parametrize(
        ("file", "contract", "zone", "targets"),
        [
            ("securosys", "securosys", "Europe/Zurich",
             {"securosys-hsmaas-signing": 99.9, "securosys-tsbaas-signing": 99.9}),
            ("dfns", "dfns", "America/New_York",
             {"dfns-api": 99.95, "dfns-signature": 99.9, "dfns-broadcast": 99.9,
              "dfns-cloud-service": 99.9}),
            ("securenvoy", "securenvoy", "Europe/London",
             {"securenvoy-admin-portal": 99.0, "securenvoy-auth-portal": 99.0}),
            ("senhasegura", "senhasegura", "America/Sao_Paulo", {}),
            ("thesmios", "thesmios", "Europe/London",
             {"thesmios-credential-signing": 99.9, "thesmios-verifier-api": 99.9}),
        ],
    )
    def test_loads_with_the_contract_terms(self, file: str, contract: str, zone: str,
                                           targets: dict[str, float]) -> None:
        config = load_config(EXAMPLES / f"{file}.yaml")
        [c] = config.contracts
        assert (c.name, c.timezone) == (contract, zone)
        assert {o.service: o.target for o in c.objectives} == targets

    def test_there_is_one_file_per_seed_contract(self) -> None:
        assert len(list(EXAMPLES.glob("*.yaml"))) == 5

    def test_securenvoy_measures_requests(self) -> None:
        [c] = load_config(EXAMPLES / "securenvoy.yaml").contracts
        assert {o.method for o in c.objectives} == {"requests"}


class TestCrossChecks:
    @pytest.mark.parametrize(
        ("extra", "message"),
        [
            ("""
maintenance:
  - {contract: nope, start: 2026-10-01T01:00:00Z, end: 2026-10-01T02:00:00Z, reference: m}
""", "<config>:13: maintenance[0].contract: unknown contract 'nope'"),
            ("""
maintenance:
  - contract: c
    services: [sign]
    start: 2026-10-01T01:00:00Z
    end: 2026-10-01T02:00:00Z
    reference: m
""", "<config>:14: maintenance[0].services[0]: 'sign' is not an objective of contract 'c'"),
            ("""
exclusions:
  - {contract: c, start: 2026-10-01T01:00:00Z, end: 2026-10-01T02:00:00Z, reason: x,
     reference: r}
  - {contract: c, start: 2026-10-02T01:00:00Z, end: 2026-10-02T02:00:00Z, reason: x,
     reference: r}
""", "<config>:16: exclusions[1].reference: duplicate reference 'r'"),
            ("""
exclusions:
  - {contract: c, start: 2026-10-01T03:00:00Z, end: 2026-10-01T02:00:00Z, reason: x,
     reference: r}
""", "<config>:13: exclusions[0]: end must be after start"),
            ("""
maintenance:
  - {contract: c, start: 2026-10-01T01:00:00, end: 2026-10-01T02:00:00Z, reference: m}
""", "<config>:13: maintenance[0].start: Input should have timezone info"),
        ],
    )
    def test_problems_name_file_line_and_field(self, extra: str, message: str) -> None:
        with pytest.raises(ConfigError) as caught:
            config_with(CONTRACT, extra)
        assert message in caught.value.problems

    def test_bad_maintenance_rule_is_refused_in_place(self) -> None:
        rules = "    allowed_hours: {start: '25:00', end: '06:00'}\n"
        contract = CONTRACT + "  maintenance_rules:\n" + rules
        with pytest.raises(ConfigError, match=r"contracts\[0\].maintenance_rules.allowed_hours"):
            config_with(contract)
