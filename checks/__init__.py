"""Check plugins: one module per check type, registered by `type`."""

from checks.base import (
    AttemptContext,
    Check,
    CheckConfig,
    CheckFailure,
    Resources,
    Result,
)
from checks.registry import build, known_types, lookup, register, validate_config

__all__ = [
    "AttemptContext",
    "Check",
    "CheckConfig",
    "CheckFailure",
    "Resources",
    "Result",
    "build",
    "known_types",
    "lookup",
    "register",
    "validate_config",
]
