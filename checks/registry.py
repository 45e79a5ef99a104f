"""The registry of check types, keyed by the config's `type`.

The built-in types are an explicit table, `BUILTINS` (type → module, and the pip extra whose
packages the module needs). A module is imported the first time one of its types is looked
up, and it exposes its types as `CHECK_TYPES`; it never imports this registry, so there is no
import cycle and a config that uses only `http` never loads aiomqtt or python-pkcs11.

A built-in whose extra is not installed (its import fails on a third-party package) is still
known, and a config that names it is refused with the extra to install. A third-party check
adds itself with `register(...)`; a registered type takes precedence over a built-in of the
same name.

Building a check validates its config against the type's model and fails fast.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from checks.base import Check, CheckConfig, CheckFactory, CheckType, Resources

C = TypeVar("C", bound=CheckConfig)


@dataclasses.dataclass(frozen=True, slots=True)
class Builtin:
    """Where a built-in check type lives, and the extra (if any) its module needs."""

    module: str
    extra: str | None = None


BUILTINS: Mapping[str, Builtin] = {
    "http": Builtin("checks.http"),
    "signing": Builtin("checks.signing"),
    "tcp": Builtin("checks.net"),
    "tls": Builtin("checks.net"),
    "dns": Builtin("checks.net"),
    "evm_head": Builtin("checks.evm"),
    "evm_broadcast": Builtin("checks.evm_broadcast", extra="evm"),
    "mqtt_broadcast": Builtin("checks.mqtt_broadcast", extra="mqtt"),
    "pkcs11": Builtin("checks.pkcs11_token", extra="pkcs11"),
}

# Types registered by third parties, and built-ins once resolved.
_TYPES: dict[str, CheckType] = {}


class UnknownCheckTypeError(ValueError):
    pass


class MissingExtraError(ValueError):
    pass


def register(name: str, config_model: type[C]) -> Callable[[CheckFactory], CheckFactory]:
    """Decorator for a factory `(config, resources) -> Check`."""

    def deco(factory: CheckFactory) -> CheckFactory:
        _TYPES[name] = CheckType(name, config_model, factory)
        return factory

    return deco


def register_unavailable(name: str, extra: str, config_model: type[CheckConfig]) -> None:
    """A type whose dependencies are missing: configs naming it fail with the extra's name."""
    _TYPES.setdefault(name, _unavailable(name, extra, config_model))


def _unavailable(name: str, extra: str, config_model: type[CheckConfig]) -> CheckType:
    def factory(_cfg: Any, _res: Resources) -> Check:
        raise MissingExtraError(_missing_message(name, extra))

    return CheckType(name, config_model, factory, missing_extra=extra)


def _missing_message(name: str, extra: str) -> str:
    return f"check type {name!r} needs the optional dependencies: pip install 'sla-probe[{extra}]'"


def known_types() -> list[str]:
    return sorted(set(_TYPES) | set(BUILTINS))


def lookup(name: str) -> CheckType:
    kind = _TYPES.get(name)
    if kind is None:
        if name not in BUILTINS:
            raise UnknownCheckTypeError(
                f"unknown check type {name!r} (known: {', '.join(known_types())})"
            )
        kind = _resolve(name, BUILTINS[name])
    if kind.missing_extra is not None:
        raise MissingExtraError(_missing_message(name, kind.missing_extra))
    return kind


def _resolve(name: str, builtin: Builtin) -> CheckType:
    """Import the built-in's module and take its type (or an unavailable one) into `_TYPES`."""
    try:
        module = importlib.import_module(builtin.module)
    except ImportError as exc:
        missing = exc.name or ""
        ours = missing.split(".")[0] in {"checks", "probe"}
        if builtin.extra is None or ours:
            raise
        kind = _unavailable(name, builtin.extra, CheckConfig)
    else:
        by_name: dict[str, CheckType] = {t.name: t for t in module.CHECK_TYPES}
        if name not in by_name:
            raise RuntimeError(f"{builtin.module} does not define check type {name!r}")
        kind = by_name[name]
    return _TYPES.setdefault(name, kind)


def validate_config(raw: dict[str, Any], context: dict[str, Any] | None = None) -> CheckConfig:
    """Validate a raw mapping with its type's model (pydantic errors propagate)."""
    kind = lookup(str(raw.get("type")))
    return kind.config_model.model_validate(raw, context=context)


def build(config: CheckConfig, resources: Resources) -> Check:
    return lookup(config.type).factory(config, resources)
