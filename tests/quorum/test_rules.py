"""The quorum rule, table-driven: votes in, one verdict out."""

from __future__ import annotations

import pytest

from probe.model import Reason, Verdict
from probe.quorum.codec import Vote
from probe.quorum.rules import QuorumRule, decide_quorum

VOTERS = ("a", "b", "c")
UP, DOWN, NO_DATA = "up", "down", "no_data"
VANTAGE, DEPENDENCY, MAINTENANCE = "x:vantage", "x:dependency", "x:maintenance"


def vote(name: str, tag: str) -> Vote:
    if tag.startswith("x:"):
        verdict, reason = Verdict.EXCLUDED, Reason(tag[2:])
    else:
        verdict, reason = Verdict(tag), Reason.NONE
    failed = tag in (DOWN, DEPENDENCY)
    return Vote("c1", "api", name, 600, 60, verdict, reason, 6, 6 if failed else 0,
                ("timeout",) if failed else (), 0, 0.0, "f")


def decide(rule: QuorumRule, tags: dict[str, str], voters: tuple[str, ...] = VOTERS) -> str:
    votes = {name: vote(name, tag) for name, tag in tags.items()}
    v = decide_quorum(contract="c1", service="api", window_start=600, window_seconds=60,
                      voters=voters, votes=votes, rule=rule, decided_at=1.0)
    assert v.scope == "quorum"
    return v.verdict.value + (f":{v.reason.value}" if v.reason else "")


MAJORITY, ANY, ALL = QuorumRule("majority"), QuorumRule("any"), QuorumRule("all")
TWO = QuorumRule("k_of_n", 2)
ALL2 = QuorumRule("all", min_votes=2)  # the table in docs/quorum.md ("min_votes")

CASES = [
    # rule, votes (a missing name never reported), expected
    (MAJORITY, {"a": DOWN, "b": DOWN, "c": DOWN}, "down"),
    (MAJORITY, {"a": DOWN, "b": DOWN, "c": UP}, "down"),
    (MAJORITY, {"a": DOWN, "b": UP, "c": UP}, "up"),
    (MAJORITY, {"a": DOWN, "b": DOWN}, "down"),  # c never reported: still 2 of 3
    (MAJORITY, {"a": DOWN}, "no_data"),  # one witness of 3 is no quorum, nobody saw it up
    (MAJORITY, {"a": DOWN, "b": UP}, "up"),
    (MAJORITY, {"a": DOWN, "b": DOWN, "c": VANTAGE}, "down"),  # 2 of 2 participants
    (MAJORITY, {"a": DOWN, "b": UP, "c": VANTAGE}, "up"),  # 1 of 2 is not more than half
    (MAJORITY, {"a": VANTAGE, "b": VANTAGE, "c": VANTAGE}, "excluded:vantage"),
    (MAJORITY, {}, "no_data"),
    (MAJORITY, {"a": NO_DATA, "b": NO_DATA, "c": NO_DATA}, "no_data"),
    (MAJORITY, {"a": DOWN, "b": DEPENDENCY, "c": UP}, "excluded:dependency"),
    (MAJORITY, {"a": DEPENDENCY, "b": DEPENDENCY, "c": UP}, "excluded:dependency"),
    (MAJORITY, {"a": MAINTENANCE, "b": MAINTENANCE, "c": NO_DATA}, "excluded:maintenance"),
    (ANY, {"a": DOWN, "b": UP, "c": UP}, "down"),
    (ANY, {"a": UP, "b": UP, "c": VANTAGE}, "up"),
    (ANY, {"a": UP, "b": UP, "c": UP}, "up"),
    (ALL, {"a": DOWN, "b": DOWN, "c": DOWN}, "down"),
    (ALL, {"a": DOWN, "b": DOWN, "c": UP}, "up"),
    (ALL, {"a": DOWN, "b": DOWN}, "no_data"),  # c's silence is not a down witness
    (ALL, {"a": DOWN, "b": DOWN, "c": VANTAGE}, "down"),  # c abstains
    (TWO, {"a": DOWN, "b": DOWN, "c": UP}, "down"),
    (TWO, {"a": DOWN, "b": UP, "c": UP}, "up"),
    (TWO, {"a": DOWN, "b": VANTAGE, "c": VANTAGE}, "no_data"),  # k cannot be reached
    # min_votes: silent (missing or no_data) vantages are absent once 2 report
    (ALL2, {"a": DOWN, "b": DOWN, "c": DOWN}, "down"),
    (ALL2, {"a": DOWN, "b": DOWN}, "down"),  # c dead: absent, 2 of 2
    (ALL2, {"a": DOWN, "b": DOWN, "c": NO_DATA}, "down"),  # c back, saw nothing: absent
    (ALL2, {"a": DOWN, "b": DOWN, "c": UP}, "up"),  # c alive and saw it up
    (ALL2, {"a": DOWN, "b": DOWN, "c": VANTAGE}, "down"),  # c abstains, as without min_votes
    (ALL2, {"a": DOWN, "b": UP}, "up"),
    (ALL2, {"a": DOWN}, "no_data"),  # 1 report < min_votes: b and c are silent participants
    (ALL2, {"a": DOWN, "b": VANTAGE}, "no_data"),  # 1 report < min_votes
    (QuorumRule("majority", min_votes=2), {"a": DOWN, "b": UP}, "up"),  # 1 of 2: not more
]


class TestQuorumRule:
    @pytest.mark.parametrize(("rule", "tags", "expected"), CASES,
                             ids=[f"{r}-{'-'.join(f'{k}={v}' for k, v in t.items()) or 'none'}"
                                  for r, t, _ in CASES])
    def test_outcome(self, rule: QuorumRule, tags: dict[str, str], expected: str) -> None:
        assert decide(rule, tags) == expected

    @pytest.mark.parametrize(("rule", "participants", "needed"), [
        (MAJORITY, 1, 1), (MAJORITY, 2, 2), (MAJORITY, 3, 2), (MAJORITY, 4, 3),
        (MAJORITY, 5, 3), (ANY, 5, 1), (ALL, 5, 5), (ALL, 0, 1), (TWO, 5, 2),
    ])
    def test_down_votes_needed(self, rule: QuorumRule, participants: int, needed: int) -> None:
        assert rule.needed(participants) == needed


class TestQuorumVerdictRecord:
    def test_note_names_every_vote_and_the_threshold(self) -> None:
        votes = {"a": vote("a", DOWN), "c": vote("c", VANTAGE)}
        v = decide_quorum(contract="c1", service="api", window_start=600, window_seconds=60,
                          voters=VOTERS, votes=votes, rule=MAJORITY)
        assert v.note == "quorum majority need 2 of 2: a=down,b=missing,c=excluded:vantage"

    def test_counts_and_failure_classes_come_from_the_votes_cast(self) -> None:
        votes = {"a": vote("a", DOWN), "b": vote("b", DOWN), "c": vote("c", UP)}
        v = decide_quorum(contract="c1", service="api", window_start=600, window_seconds=60,
                          voters=VOTERS, votes=votes, rule=MAJORITY)
        assert (v.attempts, v.failures, v.failure_classes) == (18, 12, ("timeout",))
        assert (v.window_start, v.window_seconds, v.contract, v.service) == (600, 60, "c1", "api")
