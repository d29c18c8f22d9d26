"""The environment a CLI run against a simulator gets: the caller's, minus every credential, plus the simulator's."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hpo_analytics.simulator import Simulator

ROOT = Path(__file__).resolve().parents[1]
#: variables that configure the client (credentials, endpoint, project): none leaks from the developer's shell
SERVICE_PREFIXES = ("HPO_ANALYTICS_", "HUAWEICLOUD_SDK_")


def _simulator_vars(sim: Simulator) -> dict[str, str]:
    return {"HPO_ANALYTICS_ENDPOINT": sim.url, "HUAWEICLOUD_SDK_PROJECT_ID": sim.project_id,
            "HPO_ANALYTICS_TOKEN": sim.token}


def sim_env(sim: Simulator) -> dict[str, str]:
    """For a subprocess: this process's environment without service variables, pointed at ``sim``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(SERVICE_PREFIXES)}
    env.update(_simulator_vars(sim), PYTHONPATH=str(ROOT))
    return env


def clear_service_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """For a run in this process: no service variable set (through ``monkeypatch``)."""
    for key in list(os.environ):
        if key.startswith(SERVICE_PREFIXES):
            monkeypatch.delenv(key)


def use_sim_env(monkeypatch: pytest.MonkeyPatch, sim: Simulator) -> None:
    """For a run in this process: :func:`sim_env`'s service variables, set through ``monkeypatch``."""
    clear_service_env(monkeypatch)
    for key, value in _simulator_vars(sim).items():
        monkeypatch.setenv(key, value)
