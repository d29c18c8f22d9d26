"""Empirical distribution function of the metric: which share of trials reached at most each value.

One table, or a mapping name -> table to compare several jobs (each in its
own identity colour, never a repeating palette). The EDF is the same in
either mode: ``F(v)`` is the share of trials with a metric ``<= v``; the
mode only says which way is better, which the x label states (for ``"max"``
a better search's curve lies further right, for ``"min"`` further left).
Trials without a finite metric are left out of a series (and counted in
``n_missing``); when no table has a row the plot shows a "no trials" note.
A metric that is not numeric, or has no finite value in a table that has
rows, raises :class:`~hpo_analytics.errors.ConfigurationError`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._frames import load
from ..errors import ConfigurationError
from ._common import identity_colors, metric_label, new_axes, no_data

__all__ = ["EdfData", "EdfSeries", "plot_edf"]


@dataclass(frozen=True)
class EdfSeries:
    """One table's EDF: ``values`` sorted ascending, ``fraction[i] = (i + 1) / len(values)``."""

    name: str
    values: np.ndarray
    fraction: np.ndarray
    n_missing: int


@dataclass(frozen=True)
class EdfData:
    """What :func:`plot_edf` draws: one series per table, in the mapping's order."""

    metric: str
    mode: str
    series: tuple[EdfSeries, ...]


def _edf_data(
    source: Any,
    *,
    metric: str | None = None,
    mode: str | None = None,
    statuses: Collection[str] | None = None,
) -> EdfData:
    """Compute the EDF series (see :func:`plot_edf`)."""
    tables = dict(source) if isinstance(source, Mapping) else {"trials": source}
    if not tables:
        raise ConfigurationError("plot_edf needs at least one table; the mapping is empty")
    loaded = {}
    for name, table in tables.items():
        if not isinstance(name, str):
            raise ConfigurationError(f"name the tables with strings, not {type(name).__name__} ({name!r})")
        loaded[name] = load(table, metric=metric, mode=mode, statuses=statuses)
    metrics = {t.metric for t in loaded.values()}
    modes = {t.mode for t in loaded.values()}
    if len(metrics) > 1 or len(modes) > 1:
        found = ", ".join(f"{name}: {t.metric} ({t.mode})" for name, t in loaded.items())
        raise ConfigurationError(f"the tables disagree on the metric or mode ({found}); pass metric= and mode=")
    series = []
    for name, t in loaded.items():
        finite = np.isfinite(t.score)
        values = np.sort(t.score[finite])
        series.append(EdfSeries(name=name, values=values,
                                fraction=np.arange(1, len(values) + 1, dtype=float) / max(len(values), 1),
                                n_missing=int((~finite).sum())))
    first = next(iter(loaded.values()))
    return EdfData(metric=first.metric, mode=first.mode, series=tuple(series))


def plot_edf(
    source: Any,
    *,
    metric: str | None = None,
    mode: str | None = None,
    statuses: Collection[str] | None = None,
    ax: Any = None,
) -> Any:
    """The empirical distribution of the metric over trials; returns the Axes.

    ``source`` is a trials table (Arrow or pandas; a curve table stands for
    its trials' latest rows) or a mapping name -> table, drawn as one labelled
    curve each. Every table must resolve to the same metric and mode (pass
    ``metric=``/``mode=`` when their metadata differ). ``statuses`` keeps
    only trials with those statuses.
    """
    data = _edf_data(source, metric=metric, mode=mode, statuses=statuses)
    ax = new_axes(ax)
    ax.set_xlabel(metric_label(data.metric, data.mode))
    ax.set_ylabel("share of trials with a value ≤ x")
    several = len(data.series) > 1
    count = "" if several else f" ({len(data.series[0].values)} trials)"
    ax.set_title(f"Empirical distribution of {data.metric}{count}")
    ax.set_ylim(-0.02, 1.02)
    if not any(len(s.values) for s in data.series):
        return no_data(ax)
    for s, color in zip(data.series, identity_colors(len(data.series))):
        label = f"{s.name} (n={len(s.values)})"
        if not len(s.values):
            ax.plot([], [], color=color, label=label)
            continue
        ax.step(np.concatenate([[s.values[0]], s.values]), np.concatenate([[0.0], s.fraction]), where="post",
                color=color, linewidth=1.6, label=label)
    if several:
        ax.legend(loc="upper left", fontsize="small")
    return ax
