"""The one YAML file: loaded, validated completely, refused with file, line and field."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, PrivateAttr, ValidationError, field_validator, model_validator

from checks.base import CheckConfig
from checks.registry import MissingExtraError, UnknownCheckTypeError, lookup, validate_config
from probe.contracts.maintenance import Assessment, MaintenanceEntry, assess
from probe.contracts.model import ContractConfig, DeclaredExclusion
from probe.durations import STRICT_DURATIONS, Duration, format_duration
from probe.evidence.config import EvidenceConfig
from probe.feeds.config import AlertmanagerConfig, VendorFeedConfig
from probe.fields import NAME_PATTERN, Name, StrictModel, did_you_mean, known_keys
from probe.model import CONTROL_SERVICE
from probe.quorum.config import QuorumConfig
from probe.secrets import config_path, paths_relative_to
from probe.yamlsource import ConfigError, Loc, SourceMap, format_loc, load_yaml, parse_yaml


class Shard(StrictModel):
    """This process's part of the contracts: those whose stable hash modulo `count` is
    `index` (probe/shard.py). `{index: 0, count: 1}`, the default, is every contract.
    Also written `"i/N"`, as `sla-probe run --shard i/N` takes it."""

    index: int = Field(default=0, ge=0)
    count: int = Field(default=1, ge=1, le=4096)

    @model_validator(mode="before")
    @classmethod
    def _slash(cls, value: Any) -> Any:
        if isinstance(value, str):
            return parse_shard(value)
        return value

    @model_validator(mode="after")
    def _in_range(self) -> Shard:
        if self.index >= self.count:
            raise ValueError(f"index {self.index} must be below count {self.count}")
        return self


def parse_shard(text: str) -> dict[str, int]:
    """`"i/N"` as `{index: i, count: N}`; a ValueError that says the form otherwise."""
    index, sep, count = text.strip().partition("/")
    if not sep or not index.strip().isdigit() or not count.strip().isdigit():
        raise ValueError(f"shard must be INDEX/COUNT, e.g. 0/3, not {text!r}")
    return {"index": int(index), "count": int(count)}


class ProbeSection(StrictModel):
    vantage: str = Field(default="local", pattern=NAME_PATTERN)
    state_dir: Path = Field(default=Path("state"), validate_default=True)
    listen: str = "127.0.0.1:9464"
    max_concurrency: int = Field(default=256, ge=1, le=100_000)
    spread: bool = True
    jitter: float = Field(default=0.1, ge=0, le=0.5)
    grace: Duration = 1.0
    shutdown_grace: Duration = 10.0
    attempt_retention: Duration = 35 * 86400.0
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    web_config_file: Path | None = None
    shard: Shard = Field(default_factory=Shard)
    # Checks in N worker processes (probe/workers/); 1 runs them in this process, `auto`
    # one worker per CPU this process may use.
    workers: Literal["auto"] | int = Field(default=1)

    @field_validator("workers")
    @classmethod
    def _workers(cls, value: str | int) -> str | int:
        if isinstance(value, int) and not 1 <= value <= 256:
            raise ValueError("must be auto or a number from 1 to 256")
        return value

    @field_validator("state_dir", "web_config_file")
    @classmethod
    def _anchored(cls, value: Path | None) -> Path | None:
        return None if value is None else config_path(value)

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError("must be HOST:PORT, e.g. 127.0.0.1:9464")
        return value

    @property
    def host(self) -> str:
        return self.listen.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])


class ServiceConfig(StrictModel):
    name: Name
    description: str = ""
    checks: list[CheckConfig] = Field(min_length=1)
    dependencies: list[CheckConfig] = Field(default_factory=list)


class Config(StrictModel):
    probe: ProbeSection = Field(default_factory=ProbeSection)
    services: list[ServiceConfig] = Field(min_length=1)
    controls: list[CheckConfig] = Field(default_factory=list)
    contracts: list[ContractConfig] = Field(default_factory=list)
    maintenance: list[MaintenanceEntry] = Field(default_factory=list)
    exclusions: list[DeclaredExclusion] = Field(default_factory=list)
    quorum: QuorumConfig | None = None
    evidence: EvidenceConfig = Field(default_factory=EvidenceConfig)
    vendor_feeds: list[VendorFeedConfig] = Field(default_factory=list)
    alertmanager: AlertmanagerConfig | None = None
    # Maintenance imported from vendor feeds (probe.feeds.plan), judged with `maintenance`.
    _imported: tuple[MaintenanceEntry, ...] = PrivateAttr(default=())

    def with_imported(self, entries: Sequence[MaintenanceEntry]) -> Config:
        """This config with `entries` (imported from vendor feeds) in its maintenance plan,
        replacing any imported before; the file's own `maintenance:` is unchanged."""
        copy = self.model_copy()
        copy.__dict__.pop("maintenance_plan", None)  # model_copy keeps the cached plan
        copy._imported = tuple(entries)
        return copy

    @property
    def imported_maintenance(self) -> tuple[MaintenanceEntry, ...]:
        return self._imported

    def contract(self, name: str) -> ContractConfig:
        for contract in self.contracts:
            if contract.name == name:
                return contract
        raise KeyError(name)

    def service(self, name: str) -> ServiceConfig:
        for service in self.services:
            if service.name == name:
                return service
        raise KeyError(name)

    @cached_property
    def maintenance_plan(self) -> dict[str, list[Assessment]]:
        """Per contract, its maintenance entries judged against its rules (once per load)."""
        return {
            c.name: assess([m for m in (*self.maintenance, *self._imported)
                            if m.contract == c.name],
                           c.maintenance_rules, c.zone, c.window_seconds)
            for c in self.contracts
        }

    def max_timeout(self) -> float:
        """The longest an attempt (with its confirmation retry) may take."""
        return self._max_timeout

    @cached_property
    def _max_timeout(self) -> float:
        # Once per load: the decider asks at every window, and a walk over ten thousand
        # checks there made per-window work grow with the checks instead of the attempts.
        checks = [c for s in self.services for c in (*s.checks, *s.dependencies)]
        checks += self.controls
        return max((c.timeout * (2 if c.confirm_retry else 1) for c in checks), default=0.0)


# Config files spell durations with a unit (`interval: 2000` is refused, see durations.py).
CONTEXT = {STRICT_DURATIONS: True}


def _message(error: Any, model: type[StrictModel] | type[CheckConfig] | None = None) -> str:
    msg = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix) :]
    loc = tuple(error["loc"])
    if error["type"] == "extra_forbidden" and model is not None and loc:
        known = known_keys(model, loc[:-1])
        return f"unknown key `{loc[-1]}`{did_you_mean(str(loc[-1]), known)}"
    if error["type"] == "string_type":
        return ("must be text: quote it (a bare 01234567 is read as a number and loses "
                "its leading zero)")
    return msg


def _problems(exc: ValidationError, source: SourceMap, prefix: Loc = (),
              model: type[StrictModel] | type[CheckConfig] | None = Config) -> list[str]:
    return [source.problem((*prefix, *e["loc"]), _message(e, model)) for e in exc.errors()]


def _check_lists(data: dict[str, Any]) -> list[tuple[Loc, dict[str, Any]]]:
    out: list[tuple[Loc, dict[str, Any]]] = []
    for i, service in enumerate(data.get("services") or []):
        if isinstance(service, dict):
            for key in ("checks", "dependencies"):
                for j, check in enumerate(service.get(key) or []):
                    if isinstance(check, dict):
                        out.append((("services", i, key, j), check))
    for j, check in enumerate(data.get("controls") or []):
        if isinstance(check, dict):
            out.append((("controls", j), check))
    return out


def _validate_checks(data: dict[str, Any], source: SourceMap,
                     context: dict[str, Any] | None) -> list[str]:
    """Validate each check with its plugin's model, in place; return the problems."""
    problems: list[str] = []
    for loc, raw in _check_lists(data):
        if "type" not in raw:
            problems.append(source.problem((*loc, "type"), "field required"))
            continue
        try:
            checked = validate_config(raw, context)
        except (UnknownCheckTypeError, MissingExtraError) as exc:
            problems.append(source.problem((*loc, "type"), str(exc)))
            continue
        except ValidationError as exc:
            problems.extend(_problems(exc, source, loc, _check_model(raw)))
            continue
        _replace(data, loc, checked)
    return problems


def _check_model(raw: dict[str, Any]) -> type[CheckConfig] | None:
    try:
        return lookup(str(raw.get("type"))).config_model
    except (UnknownCheckTypeError, MissingExtraError):
        return None


def _replace(data: Any, loc: Loc, value: Any) -> None:
    target = data
    for part in loc[:-1]:
        target = target[part]
    target[loc[-1]] = value


def _cross_check(config: Config, source: SourceMap) -> list[str]:
    problems: list[str] = []
    seen: set[str] = set()
    for i, service in enumerate(config.services):
        if service.name in seen or service.name == CONTROL_SERVICE:
            problems.append(
                source.problem(("services", i, "name"), f"duplicate service {service.name!r}")
            )
        seen.add(service.name)
        names: set[str] = set()
        for key in ("checks", "dependencies"):
            for j, check in enumerate(getattr(service, key)):
                if check.name in names:
                    problems.append(
                        source.problem(
                            ("services", i, key, j, "name"),
                            f"duplicate check name {check.name!r} in service {service.name!r}",
                        )
                    )
                names.add(check.name)
    control_names: set[str] = set()
    for j, check in enumerate(config.controls):
        if check.name in control_names:
            problems.append(
                source.problem(("controls", j, "name"), f"duplicate control {check.name!r}")
            )
        control_names.add(check.name)
    contract_names: set[str] = set()
    for i, contract in enumerate(config.contracts):
        if contract.name in contract_names:
            problems.append(
                source.problem(("contracts", i, "name"), f"duplicate contract {contract.name!r}")
            )
        contract_names.add(contract.name)
        if contract.support is not None:
            problems.extend(
                source.problem(
                    ("contracts", i, "support", "severity_rules"),
                    f"unknown service {name!r}",
                )
                for name in contract.support.unknown_services(sorted(seen))
            )
        covered: set[str] = set()
        for j, objective in enumerate(contract.objectives):
            loc: Loc = ("contracts", i, "objectives", j, "service")
            if objective.of and objective.service in seen:
                problems.append(source.problem(
                    loc, f"{objective.service!r} is a service; name the whole differently"))
            for k, part in enumerate(objective.of):
                if part not in seen:
                    problems.append(source.problem(
                        ("contracts", i, "objectives", j, "of", k),
                        f"unknown service {part!r}"))
            if not objective.of and objective.service not in seen:
                problems.append(source.problem(loc, f"unknown service {objective.service!r}"))
            if objective.service in covered:
                problems.append(source.problem(loc, f"{objective.service!r} listed twice"))
            covered.add(objective.service)
        for j, name in enumerate(contract.watch):
            if name not in seen:
                problems.append(source.problem(("contracts", i, "watch", j),
                                               f"unknown service {name!r}"))
    problems += _check_windows(config, source)
    problems += _check_feeds(config, source)
    problems += _intervals_within_windows(config, source)
    if config.quorum is not None:
        problems += [source.problem(("quorum", *loc), message)
                     for loc, message in config.quorum.problems(config.probe.vantage)]
    return problems


def _check_windows(config: Config, source: SourceMap) -> list[str]:
    """Maintenance entries and declared exclusions must name a contract and its services."""
    problems: list[str] = []
    known = {c.name: set(c.services()) for c in config.contracts}
    for key in ("maintenance", "exclusions"):
        refs: set[tuple[str, str]] = set()
        for i, item in enumerate(getattr(config, key)):
            if item.contract not in known:
                problems.append(source.problem((key, i, "contract"),
                                               f"unknown contract {item.contract!r}"))
                continue
            for j, service in enumerate(item.services):
                if service not in known[item.contract]:
                    problems.append(source.problem(
                        (key, i, "services", j),
                        f"{service!r} is not an objective of contract {item.contract!r}"))
            if (item.contract, item.reference) in refs:
                problems.append(source.problem((key, i, "reference"),
                                               f"duplicate reference {item.reference!r}"))
            refs.add((item.contract, item.reference))
    return problems


def _check_feeds(config: Config, source: SourceMap) -> list[str]:
    """Each vendor feed names a contract, maps to its services, and has its own name."""
    problems: list[str] = []
    known = {c.name: set(c.services()) for c in config.contracts}
    names: set[str] = set()
    for i, feed in enumerate(config.vendor_feeds):
        if feed.name in names:
            problems.append(source.problem(("vendor_feeds", i, "name"),
                                           f"duplicate feed {feed.name!r}"))
        names.add(feed.name)
        if feed.contract not in known:
            problems.append(source.problem(("vendor_feeds", i, "contract"),
                                           f"unknown contract {feed.contract!r}"))
            continue
        for component, services in feed.components.items():
            problems.extend(
                source.problem(("vendor_feeds", i, "components", component),
                               f"{s!r} is not an objective of contract {feed.contract!r}")
                for s in services if s not in known[feed.contract])
    return problems


def _intervals_within_windows(config: Config, source: SourceMap) -> list[str]:
    """A check probing less often than once per window leaves most windows `no_data`."""
    problems: list[str] = []
    for i, contract in enumerate(config.contracts):
        window_loc: Loc = ("contracts", i, "window")
        covered = set(contract.services())
        checks: list[tuple[Loc, CheckConfig]] = [
            (("services", s, key, j), check)
            for s, service in enumerate(config.services) if service.name in covered
            for key in ("checks", "dependencies")
            for j, check in enumerate(getattr(service, key))
        ]
        checks += [(("controls", j), check) for j, check in enumerate(config.controls)]
        for loc, check in checks:
            if check.interval > contract.window:
                where = f"{format_loc(window_loc)} (line {source.line_of(window_loc)})"
                problems.append(source.problem((*loc, "interval"), (
                    f"interval {format_duration(check.interval)} is longer than the "
                    f"{format_duration(contract.window)} window of contract "
                    f"{contract.name!r}, {where}: most windows would have no attempt")))
    return problems


def config_from_data(data: Any, source: SourceMap, *, from_file: bool = False) -> Config:
    """Validate a mapping; `from_file`: it was written by hand (durations need a unit)."""
    if not isinstance(data, dict):
        raise ConfigError([source.problem((), "must be a mapping with probe, services, ...")])
    context = CONTEXT if from_file else None
    problems = _validate_checks(data, source, context)
    if problems:
        raise ConfigError(problems)
    try:
        config = Config.model_validate(data, context=context)
    except ValidationError as exc:
        raise ConfigError(_problems(exc, source)) from None
    problems = _cross_check(config, source)
    if problems:
        raise ConfigError(problems)
    return config


def load_config(path: Path | str) -> Config:
    """Load and validate `path`; `ConfigError` lists every problem with file and line."""
    path = Path(path)
    data, source = load_yaml(path)
    with paths_relative_to(path.parent):
        return config_from_data(data, source, from_file=True)


def location_of(path: Path, loc: Loc) -> str:
    """`file:line` of a key in a config file (its nearest written parent when defaulted)."""
    try:
        _data, source = load_yaml(path)
    except ConfigError:
        return str(path)
    return f"{path}:{source.line_of(loc) or 1}"


def parse_config(text: str, name: str = "<config>") -> Config:
    data, source = parse_yaml(text, name)
    return config_from_data(data, source, from_file=True)


if TYPE_CHECKING:
    from probe.contracts.source import ContractTerms

    # mypy proves that a config serves what the pure contract core reads.
    _terms: ContractTerms = Config.model_construct(services=[])
