from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# Shared machines are noisy: no per-example deadline; CI runs a few more examples.
settings.register_profile("default", deadline=None, max_examples=50)
settings.register_profile(
    "ci", deadline=None, max_examples=100, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("ci" if os.environ.get("CI") else "default")
