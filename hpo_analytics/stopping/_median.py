"""Median stopping rule: the percentile rule at 50."""

from __future__ import annotations

from typing import Any, ClassVar

from ._percentile import PercentileRule, Semantics

__all__ = ["MedianStoppingRule"]


class MedianStoppingRule(PercentileRule):
    """Stop a running trial whose best value so far is worse than the median (see :class:`PercentileRule`).

    ``semantics="optuna"`` behaves as ``optuna.pruners.MedianPruner(
    n_startup_trials=min_samples, n_warmup_steps=grace_period,
    interval_steps=interval)``; ``semantics="ray"`` as Ray Tune's
    ``MedianStoppingRule(time_attr="training_iteration",
    grace_period=grace_period, min_samples_required=min_samples)``.

    Cases, as tested (the same as :class:`PercentileRule`'s):

    1. **NaN.** NaN reports are ignored in bests, means and medians; a trial
       whose every value so far is NaN is stopped as diverged.
    2. **Too few trials.** Fewer than ``min_samples`` reference trials, or no
       reference number at the step: the trial continues.
    3. **Ragged steps.** Optuna: references that reported at the same step;
       Ray: other trials that reached the step, their running means over the
       steps they reported.
    4. **Ties.** Equal to the median: the trial continues.
    """

    name: ClassVar[str] = "median"

    def __init__(self, *, grace_period: int = 0, min_samples: int = 5, interval: int = 1,
                 semantics: Semantics = "optuna", metric: str | None = None, mode: str | None = None) -> None:
        super().__init__(50.0, grace_period=grace_period, min_samples=min_samples, interval=interval,
                         semantics=semantics, metric=metric, mode=mode)

    def params(self) -> dict[str, Any]:
        p = super().params()
        del p["percentile"]
        return p
