"""Down rules: when a window of attempts counts as down."""

from __future__ import annotations

import dataclasses
import re
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, PlainSerializer

_RATIO = re.compile(r"^ratio\s*(>=|>)\s*(0(?:\.\d+)?|1(?:\.0+)?)$")


@dataclasses.dataclass(frozen=True, slots=True)
class DownRule:
    """`all` attempts failed, `any` failed, or the failed share reaches a threshold."""

    kind: Literal["all", "any", "ratio"]
    threshold: float = 1.0
    inclusive: bool = True

    def is_down(self, attempts: int, failures: int) -> bool:
        if attempts <= 0:
            return False
        if self.kind == "all":
            return failures == attempts
        if self.kind == "any":
            return failures > 0
        share = failures / attempts
        return share >= self.threshold if self.inclusive else share > self.threshold

    def __str__(self) -> str:
        if self.kind != "ratio":
            return self.kind
        return f"ratio{'>=' if self.inclusive else '>'}{self.threshold:g}"


def parse_down_rule(value: Any) -> DownRule:
    if isinstance(value, DownRule):
        return value
    text = str(value).strip().lower()
    if text in ("all", "any"):
        return DownRule(text)  # type: ignore[arg-type]
    match = _RATIO.match(text)
    if match is None:
        raise ValueError("must be all, any, or ratio>=X / ratio>X with 0 <= X <= 1")
    return DownRule("ratio", float(match.group(2)), match.group(1) == ">=")


DownRuleField = Annotated[
    DownRule, BeforeValidator(parse_down_rule), PlainSerializer(str, return_type=str)
]
