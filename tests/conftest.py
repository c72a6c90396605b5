"""Hypothesis profiles and device fixtures shared by every property test.

Profiles: `ci` (derandomised, no example database; loaded automatically when CI is set) and `dev`
(random, more examples). Pick one with HYPOTHESIS_PROFILE=dev|ci|thorough.
"""

import os

import pytest
import torch
from hypothesis import HealthCheck, settings

from suite.registry import available_devices

_common = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("ci", derandomize=True, database=None, max_examples=30, print_blob=True, **_common)
settings.register_profile("dev", max_examples=40, **_common)
settings.register_profile("thorough", max_examples=400, **_common)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

DEVICES = available_devices()


@pytest.fixture(params=DEVICES)
def device(request) -> str:
    """Each test that takes `device` runs on the CPU and, where present, on CUDA."""
    return request.param


@pytest.fixture(autouse=True)
def _deterministic():
    torch.manual_seed(0)
    yield
