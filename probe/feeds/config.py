"""`vendor_feeds:` and `alertmanager:` in the config file.

Below `probe.config` (like `probe.quorum.config`): only models, no I/O. Each feed names the
contract whose maintenance rules judge what it announces, and maps the vendor's component
names (or ids) to that contract's services; the poller checks the mapping against the
vendor's own component list when it can (Statuspage `components.json`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from checks.transport.tls import TlsOptions
from probe.durations import Duration
from probe.fields import Name, StrictModel

Format = Literal["statuspage", "instatus", "betterstack", "ical", "rss"]


class VendorFeedConfig(StrictModel):
    """One vendor feed, polled every `interval` with `timeout` through the checks' client."""

    name: Name
    contract: str
    format: Format
    # statuspage: the page's base URL (the /api/v2/... paths are appended); every other
    # format: the URL of the document itself (summary.json, index.json, .ics, RSS/Atom).
    url: str = Field(pattern=r"^https?://")
    interval: Duration = Field(default=300.0, gt=0)
    timeout: Duration = Field(default=10.0, gt=0)
    # How far the vendor's created_at and our first sighting may disagree beyond one poll
    # interval before the notice is counted from our first sighting instead.
    tolerance: Duration = Field(default=120.0, ge=0)
    max_body: int = Field(default=5 << 20, ge=1024, le=256 << 20)
    # vendor component name or id -> our services; key "*": announcements naming no component
    components: dict[str, list[Name]] = Field(default_factory=dict)
    # iCalendar only: the property that names an event's components (CATEGORIES by default,
    # or an X- property such as X-COMPONENT), comma-separated values.
    ical_component_property: str = "CATEGORIES"
    headers: dict[str, str] = Field(default_factory=dict)
    tls: TlsOptions = Field(default_factory=TlsOptions)

    @field_validator("ical_component_property")
    @classmethod
    def _property(cls, value: str) -> str:
        upper = value.upper()
        if upper != "CATEGORIES" and not upper.startswith("X-"):
            raise ValueError("must be CATEGORIES or an X- property")
        return upper

    def services(self) -> list[str]:
        return sorted({s for targets in self.components.values() for s in targets})


class AlertmanagerConfig(StrictModel):
    """Silences for valid maintenance windows through Alertmanager's API v2."""

    url: str = Field(pattern=r"^https?://")
    timeout: Duration = Field(default=10.0, gt=0)
    created_by: str = "sla-probe"
    # Alert labels that name the contract and the service (deploy/prometheus rules).
    contract_label: str = "contract"
    service_label: str = "service"
    headers: dict[str, str] = Field(default_factory=dict)
    tls: TlsOptions = Field(default_factory=TlsOptions)
