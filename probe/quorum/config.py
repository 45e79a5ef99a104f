"""The `quorum:` section: broker, this vantage's signing key, the peers' public keys, the rule."""

from __future__ import annotations

import importlib.util
import ssl
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    model_validator,
)

from checks.transport.mqtt import broker_port, validate_broker
from checks.transport.tls import TlsOptions, build_ssl_context
from probe.durations import Duration
from probe.fields import NAME_PATTERN, StrictModel
from probe.quorum.codec import (
    KeyFormatError,
    PeerKey,
    load_private_key,
    load_public_key,
    public_raw,
    raw_public,
)
from probe.secrets import Secret, resolve_file_keys


class _Strict(StrictModel):
    """Quorum sections carry keys: pydantic errors never echo their input."""

    model_config = ConfigDict(hide_input_in_errors=True)


class BrokerConfig(_Strict):
    """Where the MQTT broker is: `url: mqtts://host:8883` or `host`/`port`/`tls`."""

    url: str | None = None
    host: str = Field(default="127.0.0.1", pattern=r"^[A-Za-z0-9_.:\[\]-]+$")
    port: int | None = Field(default=None, ge=1, le=65535)
    tls: TlsOptions | None = None
    username: str | None = None
    password: Secret | None = None
    client_id: str | None = Field(default=None, pattern=NAME_PATTERN, max_length=64)
    keepalive: int = Field(default=30, ge=5, le=3600)
    timeout: Duration = 10.0
    reconnect_min: Duration = 0.5
    reconnect_max: Duration = 30.0

    @model_validator(mode="before")
    @classmethod
    def _from_url(cls, data: Any) -> Any:
        data = resolve_file_keys(data, set(cls.model_fields))
        if not isinstance(data, dict) or data.get("url") is None:
            return data
        parts = urlsplit(str(data["url"]))
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ValueError("url must be mqtt://HOST[:PORT] or mqtts://HOST[:PORT]")
        if parts.username or parts.password:
            raise ValueError("put credentials in username and password(_file), not the url")
        out = dict(data)
        if "host" in out or "port" in out:
            raise ValueError("give either url or host/port, not both")
        out["host"] = parts.hostname
        if parts.port is not None:
            out["port"] = parts.port
        if parts.scheme == "mqtts" and out.get("tls") is None:
            out["tls"] = {}
        return out

    @model_validator(mode="after")
    def _coherent(self) -> BrokerConfig:
        validate_broker(self.username, self.password, self.tls)
        if self.reconnect_max < self.reconnect_min or self.reconnect_min <= 0:
            raise ValueError("need 0 < reconnect_min <= reconnect_max")
        return self

    @property
    def broker_port(self) -> int:
        return broker_port(self.port, self.tls)

    def ssl_context(self) -> ssl.SSLContext | None:
        return None if self.tls is None else build_ssl_context(self.tls)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.broker_port}"


def _public_key(text: str) -> str:
    try:
        load_public_key(text)
    except KeyFormatError as exc:
        raise ValueError(str(exc)) from None
    return text


def _private_key(value: SecretStr) -> SecretStr:
    try:
        load_private_key(value.get_secret_value())
    except KeyFormatError as exc:
        raise ValueError(str(exc)) from None
    return value


PeerName = Annotated[str, StringConstraints(pattern=NAME_PATTERN, max_length=64)]
PublicKey = Annotated[str, AfterValidator(_public_key)]
SigningKey = Annotated[Secret, AfterValidator(_private_key)]


class PeerKeyConfig(_Strict):
    """One of a peer's keys during a rotation: valid for windows in [`from`, `until`)."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True,
                              populate_by_name=True)

    key: PublicKey
    valid_from: AwareDatetime | None = Field(default=None, alias="from")
    until: AwareDatetime | None = None

    @model_validator(mode="after")
    def _ordered(self) -> PeerKeyConfig:
        if self.valid_from is not None and self.until is not None \
                and self.until <= self.valid_from:
            raise ValueError("until must be after from")
        return self

    def peer_key(self) -> PeerKey:
        return PeerKey(load_public_key(self.key), _ts(self.valid_from), _ts(self.until))


def _ts(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def _one_key_or_list(value: Any) -> Any:
    """`peer: KEY` is `peer: [{key: KEY}]`; a bad KEY is reported at `peers.peer` itself."""
    if isinstance(value, str):
        return [{"key": _public_key(value)}]
    return value


PeerKeys = Annotated[list[PeerKeyConfig], BeforeValidator(_one_key_or_list),
                     Field(min_length=1, max_length=8)]


class QuorumConfig(_Strict):
    """How this daemon takes part in the quorum.

    Every daemon publishes its own signed verdicts (its vote). `role` says who decides:
    `peer` (the default: every daemon decides the quorum itself), `vantage` (publishes only,
    does not subscribe), `aggregator` (publishes and decides: the one decider when the others
    are `vantage`). `peers` maps every other vantage to its Ed25519 public key (PEM or base64
    of the raw 32 bytes); `signing_key` (or `signing_key_file`) is this vantage's private key.
    """

    broker: BrokerConfig = Field(default_factory=BrokerConfig)
    role: Literal["peer", "vantage", "aggregator"] = "peer"
    signing_key: SigningKey | None = None
    peers: dict[PeerName, PeerKeys] = Field(default_factory=dict)
    rule: Literal["any", "majority", "all", "k_of_n"] = "majority"
    k: int | None = Field(default=None, ge=1)
    # A vantage with no vote (or `no_data`) for a window counts as absent, not as a
    # participant that saw no outage, when at least `min_votes` vantages reported on it.
    min_votes: int | None = Field(default=None, ge=1)
    grace: Duration = 30.0
    outbox_retention: Duration = 2 * 86400.0
    resync_max: Duration = 86400.0

    @model_validator(mode="before")
    @classmethod
    def _file_keys(cls, data: Any) -> Any:
        return resolve_file_keys(data, set(cls.model_fields))

    @model_validator(mode="after")
    def _coherent(self) -> QuorumConfig:
        if self.signing_key is None:
            raise ValueError("give signing_key or signing_key_file (an Ed25519 private key, "
                             "e.g. from `openssl genpkey -algorithm ed25519`)")
        if self.rule == "k_of_n" and self.k is None:
            raise ValueError("rule k_of_n needs k")
        if self.rule != "k_of_n" and self.k is not None:
            raise ValueError("k is only used with rule k_of_n")
        return self

    @property
    def decides(self) -> bool:
        return self.role in ("peer", "aggregator")

    def voters(self, vantage: str) -> tuple[str, ...]:
        """Every vantage whose verdict is expected for each window, sorted."""
        return tuple(sorted({*self.peers, vantage}))

    def peer_keys(self) -> dict[str, tuple[PeerKey, ...]]:
        """Each peer's keys with their validity (one key without bounds if given as text)."""
        return {name: tuple(k.peer_key() for k in value) for name, value in self.peers.items()}

    def _key_locations(self) -> list[tuple[str, tuple[str | int, ...], bytes]]:
        """(peer, location under `quorum`, raw public key) for every configured key."""
        out: list[tuple[str, tuple[str | int, ...], bytes]] = []
        for name, value in self.peers.items():
            plain = len(value) == 1 and value[0].valid_from is None and value[0].until is None
            out += [(name, ("peers", name) if plain else ("peers", name, i, "key"),
                     raw_public(load_public_key(k.key))) for i, k in enumerate(value)]
        return out

    def _shared_keys(self, vantage: str, own: bytes) -> list[tuple[tuple[str | int, ...], str]]:
        """A key listed for two vantages would let one speak for the other: refuse it."""
        out: list[tuple[tuple[str | int, ...], str]] = []
        first: dict[bytes, str] = {}
        for name, loc, raw in self._key_locations():
            if name == vantage:
                continue
            if raw == own:
                out.append((loc, f"peer {name!r} has this vantage's own public key "
                                 "(signing_key); each vantage needs its own key pair"))
            elif first.setdefault(raw, name) != name:
                out.append((loc, f"peer {name!r} has the same public key as peer "
                                 f"{first[raw]!r}; each vantage needs its own key pair"))
        return out

    def problems(self, vantage: str) -> list[tuple[tuple[str | int, ...], str]]:
        """Checks that need the vantage name: (location under `quorum`, message)."""
        out: list[tuple[tuple[str | int, ...], str]] = []
        if self.signing_key is not None:
            own = public_raw(load_private_key(self.signing_key.get_secret_value()))
            mine = [raw for name, _, raw in self._key_locations() if name == vantage]
            if mine and own not in mine:
                out.append((("peers", vantage),
                            "is this vantage, but the key does not match signing_key"))
            out += self._shared_keys(vantage, own)
        if importlib.util.find_spec("aiomqtt") is None:
            out.append(((), "needs the mqtt extra: pip install 'sla-probe[mqtt]'"))
        n = len(self.voters(vantage))
        if self.k is not None and self.k > n:
            out.append((("k",), f"k={self.k} but only {n} vantages vote"))
        if self.min_votes is not None and self.min_votes > n:
            out.append((("min_votes",), f"min_votes={self.min_votes} but only {n} vantages vote"))
        return out
