"""Parsing of the quantities a manifest writes as strings: durations, CPU and memory.

Each parser accepts exactly the format of its CRD pattern (api/pipelineconfig.py) and raises
ValueError with a message that says what a valid value looks like; `format_duration` is the inverse
used in messages (largest whole unit, so 5400 -> "90m").
"""

from __future__ import annotations

import re

_DURATION = re.compile(r"^([0-9]+)(s|m|h)$")
_CPU = re.compile(r"^([0-9]+)(m?)$")
_MEMORY = re.compile(r"^([0-9]+)(Mi|Gi)$")
_SECONDS = {"s": 1, "m": 60, "h": 3600}
_BYTES = {"Mi": 2**20, "Gi": 2**30}


def parse_duration(text: str) -> int:
    """'90s' -> 90, '30m' -> 1800, '2h' -> 7200 (seconds)."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"invalid duration {text!r}: use a whole number with s, m or h, e.g. 90s, 30m or 2h")
    return int(match[1]) * _SECONDS[match[2]]


def format_duration(seconds: int) -> str:
    """Seconds as the largest whole unit: 7200 -> '2h', 5400 -> '90m', 90 -> '90s'."""
    for unit in ("h", "m"):
        if seconds and seconds % _SECONDS[unit] == 0:
            return f"{seconds // _SECONDS[unit]}{unit}"
    return f"{seconds}s"


def parse_cpu(text: str) -> int:
    """'500m' -> 500, '2' -> 2000 (millicores)."""
    match = _CPU.match(text)
    if not match:
        raise ValueError(f"invalid CPU {text!r}: use whole cores such as \"2\" or millicores such as 500m")
    return int(match[1]) * (1 if match[2] else 1000)


def parse_memory(text: str) -> int:
    """'512Mi' -> 536870912, '2Gi' -> 2147483648 (bytes)."""
    match = _MEMORY.match(text)
    if not match:
        raise ValueError(f"invalid memory {text!r}: use Mi or Gi, e.g. 512Mi or 2Gi")
    return int(match[1]) * _BYTES[match[2]]
