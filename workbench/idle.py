"""Idle timers: the instance's idle stop (a CloudWatch alarm) and the culling of idle servers.

The idle stop's evaluation window: `idle_stop_minutes` as CloudWatch can evaluate it.

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


# --- idle culling ------------------------------------------------------------------------------

WEBSOCKET_PING_S = 30
"""jupyter-server pings an open kernel websocket this often: an open notebook's activity can be
this old when JupyterHub reads it."""
JUPYTERHUB_ACTIVITY_INTERVAL_S = 300
"""JupyterHub's default for how often it collects activity (from the proxy's routes, and the
single-user servers' own reports)."""
CULL_EVERY_MAX_S = 60
"""The culler looks this often at most (The Littlest JupyterHub's default)."""
MIN_CULL_TIMEOUT_S = 3
"""The shortest timeout that leaves each interval a whole second or more."""


@dataclass(frozen=True, kw_only=True)
class CullTiming:
    timeout_seconds: int
    """A server idle this long is stopped."""
    every_seconds: int
    """How often the culler looks."""
    activity_interval_seconds: int
    """How often JupyterHub collects activity, and each server reports its own."""

    @property
    def start_delay_seconds(self) -> int:
        """How long the culler waits after a hub (re)start before its first look. JupyterHub's
        record of activity is as old as the time it was down until it first collects again
        (one interval after it starts); the culler starts with the hub and would otherwise
        judge busy servers by it."""
        return self.activity_interval_seconds + 2

    @property
    def activity_lag_seconds(self) -> int:
        """How old the last activity JupyterHub knows of can be: one collection interval, plus
        the websocket ping for a notebook that is only open."""
        return self.activity_interval_seconds + WEBSOCKET_PING_S


def cull_timing(timeout_seconds: int) -> CullTiming:
    """The culler's and JupyterHub's intervals for an idle timeout.

    The culler judges a server by the last activity JupyterHub knows of, which lags the truth by
    up to the activity interval, plus the websocket ping for a notebook that is only open
    (`activity_lag_seconds`). A timeout shorter than that lag would stop busy servers. So the
    interval is derived from the timeout instead of JupyterHub's fixed 5 minutes: a third of it,
    at most 5 minutes. For every timeout the config allows (1 minute or more) the lag stays under
    the timeout: timeout/3 + WEBSOCKET_PING_S < timeout. Shorter timeouts (live tests, seconds)
    keep the interval under the timeout; their servers are kept busy by requests, not by an open
    websocket.
    """
    if timeout_seconds < MIN_CULL_TIMEOUT_S:
        raise ValueError(
            f"cull timeout: got {timeout_seconds} s; expected {MIN_CULL_TIMEOUT_S} s or more"
        )
    return CullTiming(
        timeout_seconds=timeout_seconds,
        every_seconds=max(1, min(CULL_EVERY_MAX_S, timeout_seconds // 4)),
        activity_interval_seconds=max(1, min(JUPYTERHUB_ACTIVITY_INTERVAL_S, timeout_seconds // 3)),
    )
