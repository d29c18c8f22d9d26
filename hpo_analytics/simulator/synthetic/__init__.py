"""Seeded synthetic autosearch jobs with a known ground truth.

This package makes trials the way a ModelArts hyperparameter search would, and
renders them exactly as the service renders them, so the simulator, the
example data and the benchmarks all share one source of truth.

Search space (:data:`SEARCH_SPACE`)
    ``learning_rate``  log-uniform on [1e-5, 1e-1]          (float)
    ``batch_size``     one of 16, 32, 64, 128, 256          (int)
    ``optimizer``      one of ``adam``, ``sgd``, ``rmsprop`` (str)
    ``dropout``        uniform on [0, 0.6]                  (float)
    ``weight_decay``   log-uniform on [1e-6, 1e-2]          (float)
    ``seed_offset``    integer uniform on [0, 99]           (int)

Other spaces (:data:`SPACES`, ``SimulatedJob.create(space=...)``)
    ``gbdt``: ``learning_rate`` (log-uniform), ``num_leaves`` and
    ``min_child_samples`` (ints), ``subsample`` and ``colsample_bytree``
    (floats; the last is inert). ``conditional``: ``learning_rate``,
    ``optimizer`` (adam, sgd), ``momentum`` (present in a trial's config only
    when its optimizer is ``sgd``), ``batch_size``.

Objective (:func:`effects`, :data:`GROUND_TRUTH`)
    Each trial's accuracy rises towards an asymptote::

        asymptote = clip(0.92 + sum of effects + N(0, 0.01), 0.10, 0.99)

    with these effects, largest first:

    * ``learning_rate``: ``-0.05 * (log10(lr) + 2.5) ** 2`` (best at ~3.2e-3)
    * ``optimizer``: adam 0, rmsprop -0.04, sgd -0.12
    * ``dropout``: ``-0.8 * (dropout - 0.2) ** 2``
    * ``batch_size``: ``-0.02 * |log2(batch_size / 64)|``
    * ``weight_decay`` and ``seed_offset`` are **inert**: they change nothing.

    Over the whole space the effects' variances are about 0.0069, 0.0025,
    0.0012 and 0.0002 (shares ~64 %, 23 %, 11 %, 2 %; the noise adds ~1 %).

    Learning curves: ``acc_t = 0.1 + (asymptote - 0.1) * (1 - exp(-t / tau))``
    plus N(0, 0.008) per iteration, where ``tau`` grows as the learning rate
    shrinks; ``loss`` falls from ~2.3 towards ``-0.5 * ln(asymptote)`` with
    the same ``tau``. Trials with a large learning rate (``log10(lr) > -1.8``)
    diverge with probability 0.6: from a random iteration on, ``loss`` and
    ``acc`` are NaN (rendered ``"nan"`` and ``tensor(nan, ...)``).
    A fraction ``error_rate`` of trials fail: they report a random number of
    iterations (possibly none) and end with status ``ERROR``.

Rendering (:func:`format_number`, :func:`format_tensor`, :meth:`SimulatedJob.trial_rows`)
    Every cell is a string except ``config``, a JSON object holding the raw
    names, ``trial_index`` and ``param/<name>`` duplicates (the seed's key
    order). Booleans are ``"True"``/``"False"``; numbers are Python's shortest
    round-trip decimal text (``repr(float)``); missing values (``worker_index``
    always, metrics before a trial's first report) are ``""``; ``loss`` is a
    PyTorch repr ``tensor(0.0754, device='cuda:0', requires_grad=True)``;
    ``reward_attr`` is the reward metric (``acc``) of the latest report and
    ``best_reward`` the best (NaN-ignoring maximum) ``acc`` so far.

Job details (:meth:`SimulatedJob.details`)
    The job declares two metrics (:data:`REWARD_ATTRS`), as a job that logs
    both would: ``acc`` (``max``), the first and so the default, then
    ``loss`` (``min``). A job can be given other ``reward_attrs``, or search
    on another metric (:data:`METRICS`: ``loss`` first, or ``rmse`` = ``1 -
    acc``, ``min``, which replaces the ``acc`` column); ``reward_attr`` and
    ``best_reward`` then follow that metric.

Time (:class:`SimulatedJob`)
    Trials start in ``trial_index`` order, at most ``max_concurrent`` at a
    time, when simulated time is advanced (:meth:`SimulatedJob.advance`);
    nothing here reads a real clock. Status: ``PENDING`` (not started),
    ``RUNNING``, then ``TERMINATED`` (``done == "True"``) or ``ERROR``
    (``done == "False"``). An early-stopped trial keeps the reports it had
    made and ends ``TERMINATED`` with ``done == "True"``.

Modules: ``_model`` (search space, objective, :func:`generate_trials`),
``_job`` (:class:`SimulatedJob`, the state machine over simulated time) and
``_render`` (the service's strings and bodies, :func:`generate_pages`).
"""

from __future__ import annotations

from ...errors import TrialFinishedError, TrialNotFoundError
from ._job import SimulatedJob
from ._model import (
    GROUND_TRUTH,
    METRICS,
    REWARD_ATTRS,
    SEARCH_SPACE,
    SPACES,
    GroundTruth,
    ParamSpec,
    TrialSet,
    effects,
    generate_trials,
)
from ._render import (
    ALL_TRIALS_HEADER,
    PER_TRIAL_HEADER,
    format_number,
    format_tensor,
    generate_pages,
    render_trial_rows,
)

__all__ = [
    "ALL_TRIALS_HEADER",
    "GROUND_TRUTH",
    "METRICS",
    "PER_TRIAL_HEADER",
    "REWARD_ATTRS",
    "SEARCH_SPACE",
    "SPACES",
    "GroundTruth",
    "ParamSpec",
    "SimulatedJob",
    "TrialFinishedError",
    "TrialNotFoundError",
    "TrialSet",
    "effects",
    "format_number",
    "format_tensor",
    "generate_pages",
    "generate_trials",
    "render_trial_rows",
]
