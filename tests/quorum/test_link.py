"""The link's reconnect backoff: jittered, exponential, capped."""

from __future__ import annotations

import random

import pytest

from probe.quorum.link import backoff


class TestBackoff:
    @pytest.mark.parametrize(("attempt", "cap"), [(0, 0.5), (1, 1.0), (3, 4.0), (6, 30.0),
                                                  (60, 30.0)])
    def test_delay_lies_between_half_the_cap_and_the_cap(self, attempt: int, cap: float) -> None:
        rng = random.Random(1)
        delays = [backoff(attempt, 0.5, 30.0, rng) for _ in range(500)]
        assert all(cap / 2 <= d <= cap for d in delays)
        assert max(delays) - min(delays) > cap / 4  # jittered, not one fixed value

    def test_many_clients_do_not_retry_in_lockstep(self) -> None:
        delays = {round(backoff(4, 0.5, 30.0, random.Random(seed)), 3) for seed in range(50)}
        assert len(delays) > 40
