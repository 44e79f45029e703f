"""The idle stop's evaluation window: `idle_stop_minutes` as CloudWatch can evaluate it.

CloudWatch limits an alarm's window (period x evaluation periods) to one day when the period is
under an hour, and to seven days otherwise. The instance has basic monitoring, so CPU data comes
in 5-minute periods: windows up to a day use 5-minute periods, longer ones hourly periods. The
window is rounded up to whole periods, never down: the instance is never stopped sooner than
asked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

BASIC_MONITORING_PERIOD_S = 300
HOURLY_PERIOD_S = 3600
MAX_WINDOW_SHORT_PERIODS_S = 24 * 3600
MAX_WINDOW_S = 7 * 24 * 3600
IDLE_CPU_PERCENT = 5
"""Average CPU below this counts as idle. An idle workbench (JupyterHub, RStudio, Shiny and the
model API waiting) stays around 1%; anyone computing, even one notebook cell, goes well above."""


@dataclass(frozen=True, kw_only=True)
class IdleWindow:
    period_seconds: int
    evaluation_periods: int

    @property
    def minutes(self) -> int:
        return self.period_seconds * self.evaluation_periods // 60


def idle_window(minutes: int) -> IdleWindow | None:
    """The alarm window for `idle_stop_minutes`; None when 0 (the idle stop is off)."""
    if minutes < 0:
        raise ValueError(f"idle_stop_minutes: got {minutes}; expected 0 or more")
    if minutes == 0:
        return None
    seconds = minutes * 60
    period = BASIC_MONITORING_PERIOD_S if seconds <= MAX_WINDOW_SHORT_PERIODS_S else HOURLY_PERIOD_S
    window = IdleWindow(period_seconds=period, evaluation_periods=math.ceil(seconds / period))
    if window.period_seconds * window.evaluation_periods > MAX_WINDOW_S:
        raise ValueError(
            f"idle_stop_minutes: got {minutes}; expected at most {MAX_WINDOW_S // 60} "
            "(CloudWatch evaluates an alarm over seven days at most)"
        )
    return window
