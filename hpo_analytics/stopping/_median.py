"""Median stopping rule: the percentile rule at 50."""

from __future__ import annotations

from typing import Any, ClassVar

from ._percentile import PercentileRule, Semantics

__all__ = ["MedianStoppingRule"]


class MedianStoppingRule(PercentileRule):
    """Stop a running trial whose best value so far is worse than the median (see :class:`PercentileRule`).

    ``semantics="optuna"`` behaves as ``optuna.pruners.MedianPruner(
    n_startup_trials=min_samples, n_warmup_steps=grace_period,
    interval_steps=interval)``; ``semantics="ray"`` decides exactly as Ray
    Tune's ``MedianStoppingRule(time_attr="training_iteration",
    grace_period=grace_period, min_samples_required=min_samples)``, NaN
    included, but for one change: running means that are not finite are left
    out of the median. ``grace_period`` defaults to ``None`` ("auto"): half
    the longest finished curve (an int is exactly that step; ``0`` decides
    from the first report, which on the bundled example job stops the
    eventual best trial).

    Ray's quirk, kept (see :class:`PercentileRule`): the trial's best is
    Python's built-in ``max`` (``min``) over its reports in order, so **a NaN
    first report poisons the best** and the trial is stopped once a median
    exists, while a NaN later report is skipped; ``numpy.mean`` makes a
    reference's running mean NaN when its window holds a NaN.

    Cases, as tested (the same as :class:`PercentileRule`'s):

    1. **NaN.** Optuna: NaN reports are ignored in bests and medians; a trial
       whose every value so far is NaN is stopped as diverged. Ray: a NaN
       first report poisons the best (stopped), a later NaN is skipped; a
       reference with a NaN, an infinity, or no report in its window is left
       out of the median.
    2. **Too few trials.** Fewer than ``min_samples`` reference trials (Ray:
       other trials that reached the step, counted before any is left out),
       or no reference number at the step (Ray: no finite running mean): the
       trial continues. Auto grace period and no finished trial: nothing is
       decided.
    3. **Ragged steps.** Optuna: references that reported at the same step;
       Ray: other trials that reached the step, their running means over the
       steps they reported in the window.
    4. **Ties.** Equal to the median: the trial continues.
    """

    name: ClassVar[str] = "median"

    def __init__(self, *, grace_period: int | str | None = None, min_samples: int = 5, interval: int = 1,
                 semantics: Semantics = "optuna", metric: str | None = None, mode: str | None = None) -> None:
        super().__init__(50.0, grace_period=grace_period, min_samples=min_samples, interval=interval,
                         semantics=semantics, metric=metric, mode=mode)

    def params(self) -> dict[str, Any]:
        p = super().params()
        del p["percentile"]
        return p
