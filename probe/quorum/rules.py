"""The quorum rule: many vantages' verdicts for one window in, one verdict out. Pure.

Each expected vantage casts one vote:

- `excluded: vantage` abstains (its own path was broken; it says nothing about the vendor);
- a vantage that did not report, or reported `no_data`, is a participant that saw no down
  window: a missing witness never makes a window down;
- `down` votes are counted against the rule's threshold over the participants
  (`any`: 1, `majority`: more than half, `all`: every participant, `k_of_n`: k);
- with `min_votes`, a vantage that did not report (or reported `no_data`) is absent instead,
  when at least `min_votes` participants did report;
- `excluded: dependency` votes count as down only to decide whether the window is
  `excluded: dependency` instead of `up`.

Outcome: `down` if the down votes reach the threshold; `excluded: dependency` if they do
together with the dependency votes; otherwise `up` if any participant saw it up; otherwise
`excluded` (the common reason) if some participant excluded it for maintenance or a declared
event; `excluded: vantage` if every vantage abstained; `no_data` if no quorum was reached.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Literal

from probe.model import Reason, Verdict, WindowVerdict
from probe.quorum.codec import Vote

RuleKind = Literal["any", "majority", "all", "k_of_n"]


@dataclasses.dataclass(frozen=True, slots=True)
class QuorumRule:
    kind: RuleKind = "majority"
    k: int | None = None
    # Missing and `no_data` votes are absent (not participants) when at least this many
    # participants reported: one dead vantage then no longer turns `all` into `no_data`.
    min_votes: int | None = None

    def needed(self, participants: int) -> int:
        """How many down votes make the window down, among `participants` voters."""
        if self.kind == "any":
            return 1
        if self.kind == "all":
            return max(1, participants)
        if self.kind == "majority":
            return participants // 2 + 1
        assert self.k is not None
        return self.k

    def __str__(self) -> str:
        return f"k_of_n({self.k})" if self.kind == "k_of_n" else self.kind


def _tag(vote: Vote | None) -> str:
    if vote is None:
        return "missing"
    if vote.verdict == Verdict.EXCLUDED:
        return f"excluded:{vote.reason.value}"
    return vote.verdict.value


def decide_quorum(
    *,
    contract: str,
    service: str,
    window_start: int,
    window_seconds: int,
    voters: Sequence[str],
    votes: Mapping[str, Vote],
    rule: QuorumRule,
    decided_at: float = 0.0,
) -> WindowVerdict:
    """The quorum verdict of one service in one window, with the votes in its note."""
    tags = {name: _tag(votes.get(name)) for name in voters}
    abstained = [n for n in voters if tags[n] == "excluded:vantage"]
    participants = [n for n in voters if n not in abstained]
    reporters = [n for n in participants if n in votes and votes[n].verdict != Verdict.NO_DATA]
    if rule.min_votes is not None and len(reporters) >= rule.min_votes:
        participants = reporters  # the silent ones are absent, not witnesses of "up"
    cast = [votes[n] for n in participants if n in votes and votes[n].verdict != Verdict.NO_DATA]
    down = [v for v in cast if v.verdict == Verdict.DOWN]
    dependency = [v for v in cast if v.verdict == Verdict.EXCLUDED
                  and v.reason == Reason.DEPENDENCY]
    up = [v for v in cast if v.verdict == Verdict.UP]
    other = Counter(v.reason for v in cast if v.verdict == Verdict.EXCLUDED
                    and v.reason != Reason.DEPENDENCY)
    need = rule.needed(len(participants))
    failing = down + dependency
    verdict, reason = Verdict.NO_DATA, Reason.NONE
    if not participants and abstained:
        verdict, reason = Verdict.EXCLUDED, Reason.VANTAGE
    elif participants and len(down) >= need:
        verdict = Verdict.DOWN
    elif participants and len(failing) >= need:
        verdict, reason = Verdict.EXCLUDED, Reason.DEPENDENCY
    elif up:
        verdict = Verdict.UP
    elif other:
        verdict, reason = Verdict.EXCLUDED, min(other, key=lambda r: (-other[r], r.value))
    classes = sorted({c for v in failing for c in v.failure_classes})
    note = f"quorum {rule} need {need} of {len(participants)}: " + ",".join(
        f"{name}={tags[name]}" for name in voters)
    return WindowVerdict(
        contract=contract, service=service, window_start=window_start,
        window_seconds=window_seconds, verdict=verdict, reason=reason,
        attempts=sum(v.attempts for v in cast), failures=sum(v.failures for v in cast),
        failure_classes=tuple(classes), scope="quorum", decided_at=decided_at, note=note,
    )
