"""Test-wide settings: a bounded hypothesis profile and loud NumPy floating-point errors."""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=int(os.environ.get("TDZ_HYPOTHESIS_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
)
settings.register_profile("thorough", max_examples=300, deadline=None)
settings.load_profile(os.environ.get("TDZ_HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True)
def _loud_float_errors() -> Iterator[None]:
    # Overflow and invalid operations inside the library are bugs unless a test says otherwise.
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        yield


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
