"""Check plugins (modules listed by type in `registry.BUILTINS`) and their plumbing, `transport`."""

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
