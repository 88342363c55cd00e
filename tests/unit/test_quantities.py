"""Durations, CPU and memory quantities (api/durations.py).

Covers: parse_duration for s/m/h and its rejections, format_duration choosing the largest whole
unit, parse_cpu for cores and millicores, parse_memory for Mi and Gi, and that every rejection
message says what a valid value looks like.
"""

from __future__ import annotations

import pytest

from api.durations import format_duration, parse_cpu, parse_duration, parse_memory


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("30m", 1800), ("2h", 7200), ("0s", 0)])
def test_parse_duration(text: str, seconds: int) -> None:
    """Durations with s, m or h become seconds."""
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["30", "30 m", "1h30m", "1.5h", "-1m", "2d", ""])
def test_parse_duration_rejects(text: str) -> None:
    """Anything but a whole number with one s/m/h unit is rejected with an example of a valid one."""
    with pytest.raises(ValueError, match=r"use a whole number with s, m or h, e\.g\. 90s, 30m or 2h"):
        parse_duration(text)


@pytest.mark.parametrize(("seconds", "text"), [(7200, "2h"), (5400, "90m"), (90, "90s"), (0, "0s")])
def test_format_duration(seconds: int, text: str) -> None:
    """Seconds are shown in the largest unit that divides them."""
    assert format_duration(seconds) == text


@pytest.mark.parametrize(("text", "millicores"), [("500m", 500), ("2", 2000), ("1000m", 1000)])
def test_parse_cpu(text: str, millicores: int) -> None:
    """Cores and millicores become millicores."""
    assert parse_cpu(text) == millicores


@pytest.mark.parametrize("text", ["0.5", "500M", "1 core", ""])
def test_parse_cpu_rejects(text: str) -> None:
    """Fractions and other units are rejected with the accepted forms named."""
    with pytest.raises(ValueError, match=r'whole cores such as "2" or millicores such as 500m'):
        parse_cpu(text)


@pytest.mark.parametrize(("text", "size"), [("512Mi", 512 * 2**20), ("2Gi", 2 * 2**30)])
def test_parse_memory(text: str, size: int) -> None:
    """Mi and Gi sizes become bytes."""
    assert parse_memory(text) == size


@pytest.mark.parametrize("text", ["2G", "2048", "1.5Gi", "512Ki"])
def test_parse_memory_rejects(text: str) -> None:
    """Sizes without Mi/Gi are rejected with an example."""
    with pytest.raises(ValueError, match=r"use Mi or Gi, e\.g\. 512Mi or 2Gi"):
        parse_memory(text)
