"""The one YAML file: loaded, validated completely, refused with file, line and field."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, ValidationError, field_validator

from checks.base import CheckConfig
from checks.registry import MissingExtraError, UnknownCheckTypeError, validate_config
from probe.contracts.maintenance import Assessment, MaintenanceEntry, assess
from probe.contracts.model import ContractConfig, DeclaredExclusion
from probe.durations import Duration
from probe.evidence.config import EvidenceConfig
from probe.fields import NAME_PATTERN, Name, StrictModel
from probe.model import CONTROL_SERVICE
from probe.quorum.config import QuorumConfig
from probe.yamlsource import ConfigError, Loc, SourceMap, load_yaml, parse_yaml


class ProbeSection(StrictModel):
    vantage: str = Field(default="local", pattern=NAME_PATTERN)
    state_dir: Path = Path("./state")
    listen: str = "127.0.0.1:9464"
    max_concurrency: int = Field(default=256, ge=1, le=100_000)
    spread: bool = True
    jitter: float = Field(default=0.1, ge=0, le=0.5)
    grace: Duration = 1.0
    shutdown_grace: Duration = 10.0
    attempt_retention: Duration = 35 * 86400.0
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    web_config_file: Path | None = None

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
            c.name: assess([m for m in self.maintenance if m.contract == c.name],
                           c.maintenance_rules, c.zone, c.window_seconds)
            for c in self.contracts
        }

    def max_timeout(self) -> float:
        """The longest an attempt (with its confirmation retry) may take."""
        checks = [c for s in self.services for c in (*s.checks, *s.dependencies)]
        checks += self.controls
        return max((c.timeout * (2 if c.confirm_retry else 1) for c in checks), default=0.0)


def _message(error: Any) -> str:
    msg = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix) :]
    return msg


def _problems(exc: ValidationError, source: SourceMap, prefix: Loc = ()) -> list[str]:
    return [source.problem((*prefix, *e["loc"]), _message(e)) for e in exc.errors()]


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


def _validate_checks(data: dict[str, Any], source: SourceMap) -> list[str]:
    """Validate each check with its plugin's model, in place; return the problems."""
    problems: list[str] = []
    for loc, raw in _check_lists(data):
        if "type" not in raw:
            problems.append(source.problem((*loc, "type"), "field required"))
            continue
        try:
            checked = validate_config(raw)
        except (UnknownCheckTypeError, MissingExtraError) as exc:
            problems.append(source.problem((*loc, "type"), str(exc)))
            continue
        except ValidationError as exc:
            problems.extend(_problems(exc, source, loc))
            continue
        _replace(data, loc, checked)
    return problems


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
            if objective.service not in seen:
                problems.append(source.problem(loc, f"unknown service {objective.service!r}"))
            if objective.service in covered:
                problems.append(source.problem(loc, f"{objective.service!r} listed twice"))
            covered.add(objective.service)
    problems += _check_windows(config, source)
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


def config_from_data(data: Any, source: SourceMap) -> Config:
    if not isinstance(data, dict):
        raise ConfigError([source.problem((), "must be a mapping with probe, services, ...")])
    problems = _validate_checks(data, source)
    if problems:
        raise ConfigError(problems)
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_problems(exc, source)) from None
    problems = _cross_check(config, source)
    if problems:
        raise ConfigError(problems)
    return config


def load_config(path: Path | str) -> Config:
    """Load and validate `path`; `ConfigError` lists every problem with file and line."""
    data, source = load_yaml(Path(path))
    return config_from_data(data, source)


def parse_config(text: str, name: str = "<config>") -> Config:
    data, source = parse_yaml(text, name)
    return config_from_data(data, source)


if TYPE_CHECKING:
    from probe.contracts.source import ContractTerms

    # mypy proves that a config serves what the pure contract core reads.
    _terms: ContractTerms = Config.model_construct(services=[])
