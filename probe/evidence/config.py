"""The `evidence:` section: signed chain heads, their RFC 3161 timestamps, monthly packs."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from probe.durations import Duration
from probe.fields import StrictModel
from probe.secrets import config_path


class EvidenceConfig(StrictModel):
    """Where the key is, how often the chain head is signed, which TSA stamps it.

    Without `key_file` the quorum's `signing_key` serves when a quorum is configured, and
    otherwise a key is created on first start as `state_dir/evidence/vantage.key`
    (docs/evidence.md, "The vantage key").
    """

    key_file: Path | None = None
    head_every: Duration = Field(default=86400.0, ge=60, le=86400)
    tsa_url: str | None = None
    tsa_timeout: Duration = Field(default=10.0, gt=0, le=120)
    tsa_retry: Duration = Field(default=300.0, ge=1, le=86400)
    packs: bool = True
    pack_dir: Path | None = None

    @field_validator("key_file", "pack_dir")
    @classmethod
    def _anchored(cls, value: Path | None) -> Path | None:
        """Relative to the config file's directory, like every path in the config."""
        return None if value is None else config_path(value)

    @field_validator("tsa_url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is None:
            return value
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL")
        if parts.username or parts.password:
            raise ValueError("must not carry credentials")
        return value
