"""The generative model of the synthetic jobs: search space, objective, and each trial's numbers.

:func:`generate_trials` draws a batch of trials and plans its whole life as
arrays (parameters, accuracy and loss curves, run times, failures), from the
objective documented in :mod:`hpo_analytics.simulator.synthetic`. Nothing
here renders service strings (that is ``_render``) or moves time (``_job``).
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ...errors import ConfigurationError

__all__ = [
    "GROUND_TRUTH",
    "REWARD_ATTRS",
    "METRICS",
    "SEARCH_SPACE",
    "SPACES",
    "GroundTruth",
    "ParamSpec",
    "TrialSet",
    "effects",
    "generate_trials",
    "trial_configs",
]


@dataclass(frozen=True)
class ParamSpec:
    """One hyperparameter of the search space.

    ``kind`` is ``"log_uniform"``/``"uniform"`` (floats on [low, high]),
    ``"int_uniform"`` (integers on [low, high]) or ``"choice"`` (one of
    ``choices``, all of one type).
    """

    name: str
    kind: Literal["log_uniform", "uniform", "int_uniform", "choice"]
    low: float | None = None
    high: float | None = None
    choices: tuple[Any, ...] = ()

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Draw ``n`` values."""
        if self.kind == "log_uniform":
            assert self.low is not None and self.high is not None
            return np.exp(rng.uniform(math.log(self.low), math.log(self.high), n))
        if self.kind == "uniform":
            assert self.low is not None and self.high is not None
            return rng.uniform(self.low, self.high, n)
        if self.kind == "int_uniform":
            assert self.low is not None and self.high is not None
            return rng.integers(int(self.low), int(self.high) + 1, n)
        return np.asarray(self.choices, dtype=object)[rng.integers(0, len(self.choices), n)]

    def search_param(self) -> dict[str, Any]:
        """This parameter as a job's ``algorithm.policies.auto_search.search_params`` entry."""
        if self.kind == "choice":
            return {
                "name": self.name,
                "param_type": "discrete",
                "lower_bound": "",
                "upper_bound": "",
                "discrete_points_num": str(len(self.choices)),
                "discrete_values": [str(c) for c in self.choices],
            }
        low = int(self.low) if self.kind == "int_uniform" else self.low  # type: ignore[arg-type]
        high = int(self.high) if self.kind == "int_uniform" else self.high  # type: ignore[arg-type]
        return {
            "name": self.name,
            "param_type": "continuous",
            "lower_bound": str(low),
            "upper_bound": str(high),
            "discrete_points_num": "",
            "discrete_values": [],
        }


SEARCH_SPACE: tuple[ParamSpec, ...] = (
    ParamSpec("learning_rate", "log_uniform", 1e-5, 1e-1),
    ParamSpec("batch_size", "choice", choices=(16, 32, 64, 128, 256)),
    ParamSpec("optimizer", "choice", choices=("adam", "sgd", "rmsprop")),
    ParamSpec("dropout", "uniform", 0.0, 0.6),
    ParamSpec("weight_decay", "log_uniform", 1e-6, 1e-2),
    ParamSpec("seed_offset", "int_uniform", 0, 99),
)
"""The synthetic search space (see the module docstring)."""

_OPTIMIZER_EFFECT = {"adam": 0.0, "rmsprop": -0.04, "sgd": -0.12}


@dataclass(frozen=True)
class GroundTruth:
    """What the synthetic objective really depends on.

    ``important`` lists the parameters that change the outcome, most
    influential first; ``inert`` those that change nothing. ``reward_metric``
    and ``mode`` name the objective as the job details do.
    """

    important: tuple[str, ...]
    inert: tuple[str, ...]
    reward_metric: str = "acc"
    mode: Literal["max", "min"] = "max"


#: The metrics the synthetic jobs declare (``algorithm.policies.auto_search.reward_attrs``), in order:
#: the first, ``acc``, is the search objective (:data:`GROUND_TRUTH`); ``loss`` is logged alongside.
REWARD_ATTRS: tuple[dict[str, str], ...] = (
    {"name": "acc", "mode": "max", "regex": r"(?<=acc=)[0-9]+\.?[0-9]*"},
    {"name": "loss", "mode": "min", "regex": r"(?<=loss=)[0-9]+\.?[0-9]*"},
)

GROUND_TRUTH = GroundTruth(
    important=("learning_rate", "optimizer", "dropout", "batch_size"),
    inert=("weight_decay", "seed_offset"),
)
"""Ground truth of :data:`SEARCH_SPACE` under :func:`effects`."""

SPACES: dict[str, tuple[ParamSpec, ...]] = {
    "default": SEARCH_SPACE,
    # gradient boosting: integer tree sizes and a float row fraction
    "gbdt": (
        ParamSpec("learning_rate", "log_uniform", 1e-3, 0.3),
        ParamSpec("num_leaves", "int_uniform", 8, 256),
        ParamSpec("min_child_samples", "int_uniform", 5, 100),
        ParamSpec("subsample", "uniform", 0.5, 1.0),
        ParamSpec("colsample_bytree", "uniform", 0.5, 1.0),
    ),
    # conditional: ``momentum`` exists only in trials whose optimizer is ``sgd``
    "conditional": (
        ParamSpec("learning_rate", "log_uniform", 1e-5, 1e-1),
        ParamSpec("optimizer", "choice", choices=("adam", "sgd")),
        ParamSpec("momentum", "uniform", 0.0, 0.99),
        ParamSpec("batch_size", "choice", choices=(32, 64, 128)),
    ),
}
"""The search spaces a simulated job can have (``SimulatedJob.create(space=...)``)."""

#: The metrics a simulated job can search on, each with the ``reward_attrs`` its details declare
#: (the first entry is the objective). ``rmse`` is ``1 - acc`` and replaces the ``acc`` column.
METRICS: dict[str, tuple[dict[str, str], ...]] = {
    "acc": REWARD_ATTRS,
    "loss": (REWARD_ATTRS[1], REWARD_ATTRS[0]),
    "rmse": ({"name": "rmse", "mode": "min", "regex": r"(?<=rmse=)[0-9]+\.?[0-9]*"}, REWARD_ATTRS[1]),
}


def effects(params: dict[str, np.ndarray], space: str = "default") -> dict[str, np.ndarray]:
    """The noise-free effect of each parameter on the accuracy asymptote.

    ``params`` maps each name of the space (:data:`SEARCH_SPACE` by default,
    else ``SPACES[space]``) to an array of values; the result maps each name
    to an array of additive effects (zeros for the inert parameters).
    """
    if space == "gbdt":
        lr = np.asarray(params["learning_rate"], dtype=float)
        return {
            "learning_rate": -0.04 * (np.log10(lr) + 1.3) ** 2,
            "num_leaves": -0.02 * np.abs(np.log2(np.asarray(params["num_leaves"], dtype=float) / 64.0)),
            "min_child_samples": -0.0004 * np.abs(np.asarray(params["min_child_samples"], dtype=float) - 20.0),
            "subsample": -0.2 * (np.asarray(params["subsample"], dtype=float) - 0.8) ** 2,
            "colsample_bytree": np.zeros(len(lr)),
        }
    if space == "conditional":
        lr = np.asarray(params["learning_rate"], dtype=float)
        sgd = np.asarray(params["optimizer"], dtype=object) == "sgd"
        momentum = np.nan_to_num(np.asarray(params["momentum"], dtype=float), nan=0.9)
        return {
            "learning_rate": -0.05 * (np.log10(lr) + 2.5) ** 2,
            "optimizer": np.where(sgd, -0.03, 0.0),
            "momentum": np.where(sgd, -0.1 * (momentum - 0.9) ** 2, 0.0),
            "batch_size": -0.02 * np.abs(np.log2(np.asarray(params["batch_size"], dtype=float) / 64.0)),
        }
    lr = np.asarray(params["learning_rate"], dtype=float)
    bs = np.asarray(params["batch_size"], dtype=float)
    dropout = np.asarray(params["dropout"], dtype=float)
    opt = np.asarray(params["optimizer"], dtype=object)
    return {
        "learning_rate": -0.05 * (np.log10(lr) + 2.5) ** 2,
        "batch_size": -0.02 * np.abs(np.log2(bs / 64.0)),
        "optimizer": np.array([_OPTIMIZER_EFFECT[o] for o in opt], dtype=float),
        "dropout": -0.8 * (dropout - 0.2) ** 2,
        "weight_decay": np.zeros(len(lr)),
        "seed_offset": np.zeros(len(lr)),
    }


@dataclass
class TrialSet:
    """The full planned life of a batch of trials, as arrays (row ``i`` = one trial).

    ``acc``, ``loss``, ``best`` and ``cum_time`` have one column per iteration
    (``best`` is the running NaN-ignoring max of ``acc``; ``cum_time`` the
    seconds since the trial started at the end of each iteration).
    ``n_planned`` is how many iterations the trial will report if nobody stops
    it; ``will_error`` marks trials that then end ``ERROR``; ``startup_s`` is
    the run time of a trial that errors before its first report.
    """

    trial_ids: list[str]
    trial_index: np.ndarray
    params: dict[str, np.ndarray]
    asymptote: np.ndarray
    diverged: np.ndarray
    acc: np.ndarray
    loss: np.ndarray
    best: np.ndarray
    cum_time: np.ndarray
    n_planned: np.ndarray
    will_error: np.ndarray
    pid: np.ndarray
    startup_s: float = 3.0
    space: str = "default"

    def __len__(self) -> int:
        return len(self.trial_ids)

    @property
    def n_iterations(self) -> int:
        """Maximum number of iterations any trial reports."""
        return int(self.acc.shape[1])

    def config(self, i: int) -> dict[str, Any]:
        """Trial ``i``'s ``config`` cell: raw names, ``trial_index``, ``param/`` duplicates."""
        return trial_configs(self, np.array([i]))[0]

    def concat(self, other: TrialSet) -> TrialSet:
        """A new set holding this set's trials followed by ``other``'s."""
        if other.n_iterations != self.n_iterations:
            raise ConfigurationError("cannot concatenate trial sets with different iteration counts")
        return TrialSet(
            trial_ids=self.trial_ids + other.trial_ids,
            trial_index=np.concatenate([self.trial_index, other.trial_index]),
            params={k: np.concatenate([v, other.params[k]]) for k, v in self.params.items()},
            asymptote=np.concatenate([self.asymptote, other.asymptote]),
            diverged=np.concatenate([self.diverged, other.diverged]),
            acc=np.concatenate([self.acc, other.acc]),
            loss=np.concatenate([self.loss, other.loss]),
            best=np.concatenate([self.best, other.best]),
            cum_time=np.concatenate([self.cum_time, other.cum_time]),
            n_planned=np.concatenate([self.n_planned, other.n_planned]),
            will_error=np.concatenate([self.will_error, other.will_error]),
            pid=np.concatenate([self.pid, other.pid]),
            startup_s=self.startup_s,
            space=self.space,
        )


def generate_trials(
    n: int,
    *,
    seed: int = 0,
    n_iterations: int = 12,
    start_index: int = 0,
    error_rate: float = 0.05,
    exclude_ids: Collection[str] = (),
    space: str = "default",
) -> TrialSet:
    """Draw ``n`` trials (vectorised; 10,000 trials take a few milliseconds).

    The same ``seed`` and ``start_index`` give the same trials; ``start_index``
    numbers the trials (``trial_index``) and seeds the batch, so extending a job
    with more trials is deterministic too. Trial ids are 8 hex digits, unique
    within the batch and not in ``exclude_ids``. ``space`` names one of
    :data:`SPACES` (in ``conditional``, ``momentum`` is NaN, i.e. absent,
    unless the optimizer is ``sgd``).
    """
    if space not in SPACES:
        raise ConfigurationError(f"space must be one of {sorted(SPACES)}, not {space!r}")
    if n < 0:
        raise ConfigurationError("n must be >= 0")
    if n_iterations < 1:
        raise ConfigurationError("n_iterations must be >= 1")
    rng = np.random.default_rng([seed, start_index, 0x5EED])
    params = {spec.name: spec.sample(rng, n) for spec in SPACES[space]}
    if space == "conditional":
        params["momentum"] = np.where(params["optimizer"] == "sgd", params["momentum"], np.nan)
    eff = effects(params, space)
    asym = 0.92 + sum(eff.values()) + rng.normal(0.0, 0.01, n)
    asym = np.clip(asym, 0.10, 0.99)

    log_lr = np.log10(params["learning_rate"].astype(float))
    tau = 1.0 + 1.5 * np.clip(-2.0 - log_lr, 0.0, 3.0)
    t = np.arange(1, n_iterations + 1, dtype=float)[None, :]
    progress = 1.0 - np.exp(-t / tau[:, None])
    acc = 0.1 + (asym[:, None] - 0.1) * progress + rng.normal(0.0, 0.008, (n, n_iterations))
    acc = np.round(np.clip(acc, 0.0, 1.0), 6)
    floor = -0.5 * np.log(asym)
    loss = floor[:, None] + (2.3 - floor[:, None]) * (1.0 - progress)
    loss = loss + np.abs(rng.normal(0.0, 0.02, (n, n_iterations)))

    diverged = (log_lr > -1.8) & (rng.random(n) < 0.6)
    diverge_at = rng.integers(0, n_iterations, n)
    nan_mask = diverged[:, None] & (np.arange(n_iterations)[None, :] >= diverge_at[:, None])
    acc[nan_mask] = np.nan
    loss[nan_mask] = np.nan
    best = np.fmax.accumulate(acc, axis=1)

    bs = params["batch_size"].astype(float) if "batch_size" in params else np.full(n, 64.0)
    per_iter = 20.0 * (64.0 / bs) ** 0.3
    iter_s = per_iter[:, None] * rng.lognormal(0.0, 0.1, (n, n_iterations))
    cum_time = np.cumsum(iter_s, axis=1) + rng.uniform(0.5, 2.0, n)[:, None]

    will_error = rng.random(n) < error_rate
    n_planned = np.where(will_error, rng.integers(0, n_iterations, n), n_iterations)

    excluded = set(exclude_ids)
    ids: list[str] = []
    seen: set[str] = set()
    raw_ids = rng.integers(0, 2**32, n, dtype=np.uint64)
    for value in raw_ids:
        tid = f"{int(value):08x}"
        while tid in seen or tid in excluded:
            tid = f"{int(rng.integers(0, 2**32)):08x}"
        seen.add(tid)
        ids.append(tid)

    return TrialSet(
        trial_ids=ids,
        trial_index=np.arange(start_index, start_index + n, dtype=np.int64),
        params=params,
        asymptote=asym,
        diverged=diverged,
        acc=acc,
        loss=loss,
        best=best,
        cum_time=cum_time,
        n_planned=n_planned.astype(np.int64),
        will_error=will_error,
        pid=rng.integers(300, 32768, n),
        space=space,
    )


def trial_configs(ts: TrialSet, idx: np.ndarray) -> list[dict[str, Any]]:
    """The ``config`` cells of trials ``idx``: raw names, ``trial_index``, ``param/<name>`` duplicates (raw values)."""
    names = [spec.name for spec in SPACES[ts.space]]
    columns = [ts.params[name][idx].tolist() for name in names]
    prefixed = [f"param/{name}" for name in names]
    out = []
    conditional = ts.space == "conditional"
    for values, index in zip(zip(*columns), ts.trial_index[idx].tolist()):
        if conditional:  # a parameter that does not apply to this trial is absent from its config
            pairs = [(k, v) for k, v in zip(names, values) if v == v]
            cfg = dict(pairs)
            cfg["trial_index"] = index
            cfg.update((f"param/{k}", v) for k, v in pairs)
        else:
            cfg = dict(zip(names, values))
            cfg["trial_index"] = index
            cfg.update(zip(prefixed, values))
        out.append(cfg)
    return out
