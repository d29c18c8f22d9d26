"""Plots (matplotlib) of trials, learning curves, stop decisions and analysis results.

Every function accepts the tables of :mod:`hpo_analytics` (Arrow or pandas),
takes ``ax=`` (or makes its own figure), returns the Axes (the Figure for
multi-panel plots), never calls ``plt.show()`` and never changes global
matplotlib state. Each first computes its data in a small function, then draws.
"""

from __future__ import annotations

__all__: list[str] = []
