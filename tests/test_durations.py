import pytest

from probe.durations import format_duration, parse_duration


class TestParseDuration:
    @pytest.mark.parametrize(
        ("text", "seconds"),
        [("500ms", 0.5), ("10s", 10), ("1m", 60), ("8h", 28800), ("14d", 1209600),
         ("1h30m", 5400), (2, 2.0), (0.25, 0.25), (" 2s ", 2)],
    )
    def test_accepts_human_durations(self, text: object, seconds: float) -> None:
        assert parse_duration(text) == seconds

    @pytest.mark.parametrize("bad", ["", "10", "ten", "5x", "1m10", True, None, -1, "1s-"])
    def test_rejects_non_durations(self, bad: object) -> None:
        with pytest.raises(ValueError):
            parse_duration(bad)


class TestFormatDuration:
    @pytest.mark.parametrize(("seconds", "text"), [(0.5, "500ms"), (60, "1m"), (86400, "1d"),
                                                   (90, "90s")])
    def test_shortest_exact_form(self, seconds: float, text: str) -> None:
        assert format_duration(seconds) == text
