"""The search-algorithm catalogue the simulator serves at ``GET /v2/{p}/search-algorithms``."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["SEARCH_ALGORITHMS", "search_algorithms"]

SEARCH_ALGORITHMS: dict[str, Any] = {
    "search_algo_count": 3,
    "search_algo_list": [
        {
            "name": "bayes_opt_search",
            "params": [
                {"key": "kind", "value": "ucb", "type": "String"},
                {"key": "kappa", "value": "2.5", "type": "Float"},
                {"key": "xi", "value": "0.0", "type": "Float"},
                {"key": "num_samples", "value": "20", "type": "Integer"},
                {"key": "seed", "value": "1", "type": "Integer"},
            ],
            "description": "Hyperparameter search using Gaussian process.",
        },
        {
            "name": "tpe_search",
            "params": [
                {"key": "gamma", "value": "0.25", "type": "Float"},
                {"key": "n_initial_points", "value": "20", "type": "Integer"},
                {"key": "num_samples", "value": "20", "type": "Integer"},
                {"key": "seed", "value": "1", "type": "Integer"},
            ],
            "description": "Hyperparameter search using the tree-structured Parzen estimator algorithm.",
        },
        {
            "name": "anneal_search",
            "params": [
                {"key": "avg_best_idx", "value": "2.0", "type": "Float"},
                {"key": "shrink_coef", "value": "0.1", "type": "Float"},
                {"key": "num_samples", "value": "20", "type": "Integer"},
                {"key": "seed", "value": "1", "type": "Integer"},
            ],
            "description": "Hyperparameter search using simulated annealing algorithm.",
        },
    ],
}
"""The search-algorithm catalogue, as in the documentation's example."""


def search_algorithms() -> dict[str, Any]:
    """A fresh copy of :data:`SEARCH_ALGORITHMS` to answer with (the constant itself is never handed out)."""
    return json.loads(json.dumps(SEARCH_ALGORITHMS))
