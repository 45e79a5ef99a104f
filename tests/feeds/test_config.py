"""`vendor_feeds:` validated against the contracts; imported maintenance joins the plan."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from probe.contracts.maintenance import MaintenanceEntry
from probe.yamlsource import ConfigError
from tests.contracts.builders import config_with
from tests.feeds.test_poller import CONTRACT


def feeds(**feed: object) -> str:
    base = {"name": "v", "contract": "c", "format": "rss", "url": "https://x.invalid/feed"}
    return "vendor_feeds:\n  - " + json.dumps(base | feed) + "\n"


def test_unknown_contract_and_service_are_refused() -> None:
    with pytest.raises(ConfigError, match="unknown contract 'nope'"):
        config_with(CONTRACT, feeds(contract="nope"))
    with pytest.raises(ConfigError, match="'ghost' is not an objective"):
        config_with(CONTRACT, feeds(components={"X": ["ghost"]}))
    with pytest.raises(ConfigError, match="CATEGORIES or an X- property"):
        config_with(CONTRACT, feeds(ical_component_property="SUMMARY"))


def test_with_imported_replaces_and_leaves_the_original_alone() -> None:
    config = config_with(CONTRACT, feeds())
    assert config.maintenance_plan["c"] == []
    entry = MaintenanceEntry(contract="c", services=["api"],
                             start=datetime(2026, 3, 4, 1, tzinfo=UTC),
                             end=datetime(2026, 3, 4, 2, tzinfo=UTC),
                             announced_at=datetime(2026, 3, 2, tzinfo=UTC), reference="v.x")
    merged = config.with_imported([entry])
    assert [a.entry for a in merged.maintenance_plan["c"]] == [entry]
    assert config.maintenance_plan["c"] == []
    assert merged.with_imported([entry]).maintenance_plan["c"][0].entry == entry
    assert merged.with_imported([]).maintenance_plan["c"] == []
