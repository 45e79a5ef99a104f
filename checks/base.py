"""What a check is: a config model, a factory, and `async def run(ctx) -> Result`.

A check performs one attempt and returns. It never sleeps, loops or retries on its own: the
scheduler owns the interval, the timeout, spreading and confirmation retries. A failure is
reported either as a `Result` with `ok=False` or by raising `CheckFailure`; any other
exception is translated by the scheduler into class `error`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

from pydantic import field_validator, model_validator
from pydantic_core.core_schema import ValidationInfo

from probe.durations import Duration
from probe.fields import Name, StrictModel
from probe.secrets import resolve_file_keys

if TYPE_CHECKING:
    import aiohttp

    from probe.clock import Clock

# The failure classes every check shares; a plugin may add its own lowercase names.
TIMEOUT = "timeout"
DNS = "dns"
CONNECT = "connect"
TLS = "tls"
HTTP_STATUS = "http_status"
ASSERTION = "assertion"
TOO_LARGE = "too_large"
SLOW = "slow"
PROTOCOL = "protocol"
BAD_SIGNATURE = "bad_signature"
NOT_DELIVERED = "not_delivered"
REJECTED = "rejected"
ERROR = "error"


class CheckFailure(Exception):  # noqa: N818 - reads as "raise CheckFailure(class, detail)"
    """An attempt failed in a classified way; `detail` must not contain secrets."""

    def __init__(
        self, failure_class: str, detail: str, evidence: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(f"{failure_class}: {detail}")
        self.failure_class = failure_class
        self.detail = detail
        self.evidence = dict(evidence or {})


@dataclasses.dataclass(frozen=True, slots=True)
class Result:
    """The outcome of one attempt, with evidence that can back a dispute."""

    ok: bool
    failure_class: str | None = None
    detail: str = ""
    latency: float | None = None
    evidence: Mapping[str, str] = dataclasses.field(default_factory=dict)

    @classmethod
    def success(
        cls, detail: str = "", latency: float | None = None, **evidence: str
    ) -> Result:
        return cls(True, None, detail, latency, evidence)

    @classmethod
    def failure(
        cls, failure_class: str, detail: str, latency: float | None = None, **evidence: str
    ) -> Result:
        return cls(False, failure_class, detail, latency, evidence)


@dataclasses.dataclass(frozen=True, slots=True)
class AttemptContext:
    """What one attempt may use; passed in so tests can substitute every part."""

    timeout: float
    clock: Clock
    started_mono: float
    evidence: dict[str, str] = dataclasses.field(default_factory=dict)
    """What the attempt has measured so far (phase timings, the peer certificate). A check
    fills it as it goes; when the scheduler's timeout ends the attempt, the `timeout`
    result keeps it, so a dispute can show how far the vendor got (connected, TLS done, no
    first byte) instead of an empty record."""

    def remaining(self) -> float:
        return max(0.0, self.timeout - (self.clock.monotonic() - self.started_mono))


DEFAULT_USER_AGENT = "sla-probe"


@dataclasses.dataclass(slots=True)
class Resources:
    """Long-lived dependencies a check factory may take: shared, owned by the daemon.

    `user_agent` identifies the prober to the vendor (`sla-probe/<version> (vantage <name>)`,
    set from the config by `build_jobs`), so a vendor can find the probes in its logs.
    """

    clock: Clock
    executor: Executor | None = None
    http_session: Callable[[], aiohttp.ClientSession] | None = None
    extras: dict[str, Any] = dataclasses.field(default_factory=dict)
    user_agent: str = DEFAULT_USER_AGENT


@runtime_checkable
class Check(Protocol):
    async def run(self, ctx: AttemptContext) -> Result: ...


@runtime_checkable
class ClosableCheck(Check, Protocol):
    async def aclose(self) -> None: ...


# Fields read from a `*_file` that are not secrets: an unreadable file is named as such.
PUBLIC_FILE_FIELDS = frozenset({"public_key"})


class CheckConfig(StrictModel):
    """Fields every check has. Plugins subclass it with `type: Literal[...]` and their own."""

    secret_fields: ClassVar[frozenset[str]] = frozenset()

    name: Name
    type: str
    interval: Duration = 10.0
    timeout: Duration = 2.0
    confirm_retry: bool = False
    description: str = ""

    @model_validator(mode="before")
    @classmethod
    def _file_keys(cls, data: Any) -> Any:
        return resolve_file_keys(data, set(cls.model_fields), PUBLIC_FILE_FIELDS)

    @field_validator("interval")
    @classmethod
    def _interval_positive(cls, value: float) -> float:
        if value < 0.01:
            raise ValueError("must be at least 10ms")
        return value

    @field_validator("timeout")
    @classmethod
    def _timeout_below_interval(cls, value: float, info: ValidationInfo) -> float:
        if value <= 0:
            raise ValueError("must be positive")
        interval = info.data.get("interval")
        if interval is not None and value >= interval:
            raise ValueError("must be shorter than interval")
        return value


CheckFactory = Callable[[Any, Resources], Check]


@dataclasses.dataclass(frozen=True, slots=True)
class CheckType:
    name: str
    config_model: type[CheckConfig]
    factory: CheckFactory
    missing_extra: str | None = None
