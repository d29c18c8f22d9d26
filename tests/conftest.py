"""Shared pytest fixtures."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import settings

from hpo_analytics.simulator import Simulator

# CI runs every property test with a fixed seed, so a run on a fresh machine is
# repeatable; a failing example is printed with the blob to reproduce it.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture
def simulator(request: pytest.FixtureRequest) -> Iterator[Simulator]:
    """A running :class:`~hpo_analytics.simulator.Simulator` (seed 0, 120 finished trials, any auth).

    Override options by indirect parametrization::

        @pytest.mark.parametrize("simulator", [{"offset_mode": "pages"}], indirect=True)
    """
    options: dict[str, Any] = {"seed": 0, "n_trials": 120, "auth": "any"}
    options.update(getattr(request, "param", None) or {})
    with Simulator(**options) as sim:
        yield sim
