"""Shards: split the contracts of one config over several `sla-probe run` processes.

Why contracts, not checks: a contract's windows, month figures, credits and incidents are
computed from one ledger. Cutting by check would spread one contract's accounting over
several ledgers that nobody sums correctly; cutting by contract keeps every contract whole
in exactly one shard, and the sums over shards (Prometheus `sum by (contract)`) are exact.

The hash is Prometheus's `hashmod`: the last 8 bytes of the MD5 of the name, big-endian,
modulo the shard count. It is stable across processes, Python versions and machines, so
every replica of a StatefulSet agrees on the split without talking to the others.

What a shard keeps:
- the contracts whose hash falls in it, and the maintenance, exclusions and vendor feeds
  that name them;
- every service those contracts measure (an objective's service, the components of an
  overall objective, the watch list). A service shared by contracts in two shards is
  probed by both: its attempts are cheap, split accounting is not;
- a service no contract names, when its own name hashes into the shard (it is probed
  exactly once across the shards);
- every control: a control answers "can this process reach the internet?" for the
  windows it decides, so each shard needs its own (a shard without them would call its
  vantage's own outages the vendor's).
"""

from __future__ import annotations

import hashlib

from probe.config import Config, Shard


def shard_of(name: str, count: int) -> int:
    """The shard of `name` among `count` (Prometheus hashmod: MD5, low 8 bytes, mod)."""
    digest = hashlib.md5(name.encode(), usedforsecurity=False).digest()
    return int.from_bytes(digest[8:], "big") % count


def shard_config(config: Config, shard: Shard | None = None) -> Config:
    """`config` reduced to the part of shard `shard` (by default `config.probe.shard`).

    The whole config is validated before it is cut, so a reference that crosses shards
    (a maintenance entry of a contract elsewhere) is dropped, never refused.
    """
    shard = shard or config.probe.shard
    if shard.count == 1:
        return config if shard == config.probe.shard else _with_shard(config, shard, {})

    def mine(name: str) -> bool:
        return shard_of(name, shard.count) == shard.index

    contracts = [c for c in config.contracts if mine(c.name)]
    kept = {c.name for c in contracts}
    referenced = {s for c in config.contracts for s in c.services()}
    needed = {s for c in contracts for s in c.services()}
    services = [s for s in config.services
                if s.name in needed or (s.name not in referenced and mine(s.name))]
    return _with_shard(config, shard, {
        "contracts": contracts,
        "services": services,
        "maintenance": [m for m in config.maintenance if m.contract in kept],
        "exclusions": [e for e in config.exclusions if e.contract in kept],
        "vendor_feeds": [f for f in config.vendor_feeds if f.contract in kept],
    })


def _with_shard(config: Config, shard: Shard, update: dict[str, object]) -> Config:
    probe = config.probe.model_copy(update={"shard": shard})
    copy = config.model_copy(update={**update, "probe": probe})
    for cached in ("maintenance_plan", "_max_timeout"):  # model_copy keeps cached values
        copy.__dict__.pop(cached, None)
    return copy


def describe(config: Config) -> dict[str, object]:
    """What this shard runs, for the start-up log line."""
    shard = config.probe.shard
    return {"shard": f"{shard.index}/{shard.count}", "contracts": len(config.contracts),
            "services": len(config.services), "controls": len(config.controls)}
