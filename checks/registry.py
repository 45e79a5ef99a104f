"""The registry of check types, keyed by the config's `type`.

Building a check validates its config against the plugin's model and fails fast. A plugin
whose optional dependencies are not installed registers as unavailable, so a config that
needs it is refused with the name of the extra to install.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from checks.base import Check, CheckConfig, CheckFactory, CheckType, Resources

_TYPES: dict[str, CheckType] = {}

C = TypeVar("C", bound=CheckConfig)


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

    def factory(_cfg: Any, _res: Resources) -> Check:
        raise MissingExtraError(
            f"check type {name!r} needs the optional dependencies: "
            f"pip install 'sla-probe[{extra}]'"
        )

    _TYPES.setdefault(name, CheckType(name, config_model, factory, missing_extra=extra))


def known_types() -> list[str]:
    _load_builtins()
    return sorted(_TYPES)


def lookup(name: str) -> CheckType:
    _load_builtins()
    try:
        kind = _TYPES[name]
    except KeyError:
        raise UnknownCheckTypeError(
            f"unknown check type {name!r} (known: {', '.join(sorted(_TYPES))})"
        ) from None
    if kind.missing_extra is not None:
        raise MissingExtraError(
            f"check type {name!r} needs the optional dependencies: "
            f"pip install 'sla-probe[{kind.missing_extra}]'"
        )
    return kind


def validate_config(raw: dict[str, Any]) -> CheckConfig:
    """Validate a raw mapping with its type's model (pydantic errors propagate)."""
    kind = lookup(str(raw.get("type")))
    return kind.config_model.model_validate(raw)


def build(config: CheckConfig, resources: Resources) -> Check:
    return lookup(config.type).factory(config, resources)


_loaded = False


def _load_builtins() -> None:
    global _loaded  # noqa: PLW0603 - one-time import of the built-in plugins
    if _loaded:
        return
    _loaded = True
    import checks.builtin  # noqa: F401, PLC0415 - registers the built-in types
