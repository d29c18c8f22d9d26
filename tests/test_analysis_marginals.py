"""marginals: per value, per bin (linear and log), bootstrap intervals, by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from hpo_analytics.analysis import marginals
from hpo_analytics.analysis._marginals import MARGINAL_COLUMNS
from hpo_analytics.errors import ConfigurationError


def frame(y: list[float], **params: list) -> pd.DataFrame:
    data = {"trial_id": [f"t{i}" for i in range(len(y))], "trial_index": range(len(y)), "reward_attr": y}
    data.update({f"param/{k}": v for k, v in params.items()})
    return pd.DataFrame(data)


def test_categories() -> None:
    out = marginals(frame([1.0, 3.0, 5.0, math.nan], opt=["b", "a", "a", "b"]), "opt")
    assert list(out.columns) == list(MARGINAL_COLUMNS)
    assert out["value"].tolist() == ["a", "b"]
    assert out["count"].tolist() == [2, 1]  # the NaN metric is left out
    assert out["mean"].tolist() == [4.0, 1.0]
    assert out["median"].tolist() == [4.0, 1.0]
    assert out.loc[1, ["ci_low", "ci_high"]].tolist() == [1.0, 1.0]  # one trial: degenerate interval
    assert 3.0 <= out.loc[0, "ci_low"] <= 4.0 <= out.loc[0, "ci_high"] <= 5.0
    assert out["low"].isna().all()
    assert out.attrs["hpo_analytics.analysis"]["categorical"] is True


def test_few_distinct_numbers_are_values() -> None:
    out = marginals(frame([1.0, 2.0, 3.0, 5.0], bs=[32, 16, 32, 64]), "param/bs", bins=5)
    assert out["value"].tolist() == [16, 32, 64]
    assert out["count"].tolist() == [1, 2, 1]
    assert out["mean"].tolist() == [2.0, 2.0, 5.0]
    assert out["low"].tolist() == out["high"].tolist() == [16, 32, 64]


def test_linear_bins_keep_empty_ones() -> None:
    # edges 0, 1, 2, 3, 4 over [0, 4]; 4.0 falls in the last bin; nothing in [2, 3).
    out = marginals(frame([1.0, 3.0, 5.0, 7.0, 9.0], x=[0.0, 0.5, 1.5, 3.5, 4.0]), "x", bins=4)
    assert out["low"].tolist() == [0.0, 1.0, 2.0, 3.0]
    assert out["high"].tolist() == [1.0, 2.0, 3.0, 4.0]
    assert out["value"].tolist() == [0.5, 1.5, 2.5, 3.5]
    assert out["count"].tolist() == [2, 1, 0, 2]
    assert out["mean"].tolist()[:2] == [2.0, 5.0] and math.isnan(out["mean"].iloc[2])
    assert out["mean"].iloc[3] == 8.0


def test_log_bins() -> None:
    lr = [1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 2e-5, 3e-3]
    out = marginals(frame(list(range(7)), lr=lr), "lr", bins=4)
    assert out.attrs["hpo_analytics.analysis"]["log"] is True
    assert np.log10(out["low"]).tolist() == pytest.approx([-5, -4, -3, -2])
    assert out["value"].tolist() == pytest.approx([10 ** -4.5, 10 ** -3.5, 10 ** -2.5, 10 ** -1.5])
    assert out["count"].tolist() == [2, 1, 2, 2]
    linear = marginals(frame(list(range(7)), lr=lr), "lr", bins=4, log=False)
    assert linear["count"].tolist() == [6, 0, 0, 1]  # edges 1e-5, ~0.025, 0.05, 0.075, 0.1
    with pytest.raises(ConfigurationError, match="positive"):
        marginals(frame([1.0, 2.0, 3.0], x=[0.0, 1.0, 2.0]), "x", bins=2, log=True)


def test_errors() -> None:
    with pytest.raises(ConfigurationError, match="no parameter 'y'; available: x"):
        marginals(frame([1.0], x=[1.0]), "y")
    with pytest.raises(ConfigurationError, match="bins"):
        marginals(frame([1.0], x=[1.0]), "x", bins=0)
