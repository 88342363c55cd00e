"""Test-session settings shared by every suite.

Hypothesis: under CI the `ci` profile derandomises example generation (a red CI must be
reproducible, not a dice roll) and keeps no example database; locally the default profile explores
new examples each run.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", derandomize=True, database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
