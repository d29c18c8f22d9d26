"""Stop-rule options shared by ``watch`` and ``backtest``."""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import ConfigurationError

RULES = ("median", "percentile", "asha", "threshold", "patience", "significance")


def grace_period(text: str) -> int | None:
    """``--grace-period``: ``auto`` (``None``, the library's default) or a step number >= 0."""
    if text.strip().lower() == "auto":
        return None
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected 'auto' or a step number >= 0, not {text!r}")
    return value


def add_rule_options(parser: argparse.ArgumentParser) -> None:
    """The options that configure a rule (shared by every rule that uses them)."""
    rule = parser.add_argument_group("rule options")
    rule.add_argument("--semantics", choices=("optuna", "ray"), default="optuna",
                      help="median/percentile: whose semantics (default optuna)")
    rule.add_argument("--grace-period", type=grace_period, default=None, metavar="STEP|auto",
                      help="first step a decision may be made at (default auto: half the longest finished "
                           "curve, the library's default; 0 decides from the first report)")
    rule.add_argument("--min-samples", type=int, default=5, help="reference trials needed (default 5)")
    rule.add_argument("--interval", type=int, default=1, help="steps between decisions (default 1)")
    rule.add_argument("--percentile", type=float, default=25.0, help="percentile rule: keep the top P%% (25)")
    rule.add_argument("--threshold", type=float, default=None, help="threshold rule: the threshold")
    rule.add_argument("--patience", type=int, default=5, help="patience rule: steps without improvement (5)")
    rule.add_argument("--min-delta", type=float, default=0.0, help="patience rule: minimum improvement (0)")
    rule.add_argument("--alpha", type=float, default=0.01, help="significance rule: FDR level (0.01)")
    rule.add_argument("--window", type=int, default=3, help="significance rule: trailing window (3 steps)")
    rule.add_argument("--min-resource", type=int, default=1, help="asha: first rung (1)")
    rule.add_argument("--reduction-factor", type=int, default=3, help="asha: reduction factor (3)")


def build_rule(name: str, args: argparse.Namespace) -> Any:
    """The :class:`~hpo_analytics.stopping.Rule` called ``name``, configured from ``args``."""
    from ..stopping import (
        MedianStoppingRule,
        PatienceRule,
        PercentileRule,
        SignificanceRule,
        SuccessiveHalvingRule,
        ThresholdRule,
    )

    common = {"metric": args.metric, "mode": args.mode}
    gated = {"grace_period": args.grace_period, "interval": args.interval}
    if name == "median":
        return MedianStoppingRule(min_samples=args.min_samples, semantics=args.semantics, **gated, **common)
    if name == "percentile":
        return PercentileRule(args.percentile, min_samples=args.min_samples, semantics=args.semantics,
                              **gated, **common)
    if name == "asha":
        return SuccessiveHalvingRule(min_resource=args.min_resource, reduction_factor=args.reduction_factor,
                                     **common)
    if name == "threshold":
        if args.threshold is None:
            raise ConfigurationError("--rule threshold needs --threshold")
        return ThresholdRule(args.threshold, **gated, **common)
    if name == "patience":
        return PatienceRule(patience=args.patience, min_delta=args.min_delta, **gated, **common)
    if name == "significance":
        return SignificanceRule(alpha=args.alpha, window=args.window, min_samples=args.min_samples, **gated,
                                **common)
    raise ConfigurationError(f"unknown rule {name!r}; choose from {', '.join(RULES)}")
