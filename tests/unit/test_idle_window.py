"""The idle stop's window: every allowed `idle_stop_minutes` becomes an alarm CloudWatch accepts,
and the instance is never stopped sooner than asked."""

from __future__ import annotations

import pytest

from workbench.config import PARSERS, ConfigError
from workbench.idle import IdleWindow, idle_window

MAX_MINUTES = 7 * 24 * 60


def test_zero_turns_the_idle_stop_off():
    assert idle_window(0) is None


@pytest.mark.parametrize(
    ("minutes", "period", "periods"),
    [
        (60, 300, 12),  # the default: an hour of 5-minute periods
        (5, 300, 1),
        (7, 300, 2),  # rounded up to whole periods: 10 minutes
        (1440, 300, 288),  # a day, the most that 5-minute periods may span
        (1441, 3600, 25),  # beyond a day: hourly periods
        (10080, 3600, 168),  # a week, CloudWatch's limit
    ],
)
def test_window_examples(minutes, period, periods):
    assert idle_window(minutes) == IdleWindow(period_seconds=period, evaluation_periods=periods)


def test_every_allowed_value_gives_a_window_cloudwatch_accepts():
    parse = PARSERS["idle_stop_minutes"]
    with pytest.raises(ConfigError):
        parse("idle_stop_minutes", MAX_MINUTES + 1)
    for minutes in range(1, MAX_MINUTES + 1):
        window = idle_window(parse("idle_stop_minutes", minutes))
        total = window.period_seconds * window.evaluation_periods
        assert window.period_seconds in (300, 3600), minutes
        # CloudWatch: at most a day with periods under an hour, at most seven days otherwise.
        assert total <= (86400 if window.period_seconds < 3600 else 604800), minutes
        assert window.evaluation_periods >= 1, minutes
        # Never sooner than asked, and later by less than one period.
        assert minutes * 60 <= total < minutes * 60 + window.period_seconds, minutes


def test_a_window_beyond_a_week_is_refused_with_the_key_named():
    with pytest.raises(ValueError, match=r"^idle_stop_minutes: got 10081; expected at most 10080"):
        idle_window(MAX_MINUTES + 1)
