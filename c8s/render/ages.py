"""Durations the way kubectl prints them (k8s.io/apimachinery/pkg/util/duration.HumanDuration).

Ages and step durations in tables: `5s`, `119s`, `3m20s`, `15m`, `2h5m`, `12h`, `3d4h`, `40d`, `2y10d`.
Pure: the caller passes "now".
"""

from __future__ import annotations

from datetime import datetime, timedelta

NONE = "<none>"


def human_duration(d: timedelta) -> str:
    """kubectl's HumanDuration: coarser the longer it is; slightly negative (clock skew) is 0s."""
    seconds = int(d.total_seconds())
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 60 * 2:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        return _pair(minutes, "m", seconds % 60, "s")
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        return _pair(hours, "h", minutes % 60, "m")
    return _days(hours)


def _days(hours: int) -> str:
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return _pair(hours // 24, "d", hours % 24, "h")
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        return _pair(hours // 24 // 365, "y", (hours // 24) % 365, "d")
    return f"{hours // 24 // 365}y"


def _pair(big: int, big_unit: str, small: int, small_unit: str) -> str:
    return f"{big}{big_unit}" if small == 0 else f"{big}{big_unit}{small}{small_unit}"


def age(since: datetime | None, now: datetime) -> str:
    """How long ago `since` was, or <none>."""
    return NONE if since is None else human_duration(now - since)
