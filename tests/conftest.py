"""Shared pytest fixtures."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from hpo_analytics.simulator import Simulator


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
