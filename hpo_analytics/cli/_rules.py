"""Stop-rule options shared by ``watch`` and ``backtest``."""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import ConfigurationError

RULES = ("median", "percentile", "asha", "threshold", "patience", "significance", "forecast")


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


def top(text: str) -> int | float:
    """``--top``: an int >= 1 (the k-th best) or a fraction in (0, 1) (that share of the trials)."""
    try:
        value: int | float = int(text)
    except ValueError:
        try:
            value = float(text)
        except ValueError:
            value = -1
    if (isinstance(value, int) and value < 1) or (isinstance(value, float) and not 0.0 < value < 1.0):
        raise argparse.ArgumentTypeError(f"expected a rank >= 1 or a fraction between 0 and 1, not {text!r}")
    return value


def add_rule_options(parser: argparse.ArgumentParser) -> None:
    """The options that configure a rule (shared by every rule that uses them)."""
    rule = parser.add_argument_group("rule options")
    rule.add_argument("--semantics", choices=("optuna", "ray"), default="optuna",
                      help="median/percentile: whose semantics (default optuna)")
    rule.add_argument("--grace-period", type=grace_period, default=None, metavar="STEP|auto",
                      help="first step a decision may be made at (default auto: half the longest finished "
                           "curve, the library's default; a tenth of it for forecast; 0 decides from the "
                           "first report)")
    rule.add_argument("--min-samples", type=int, default=None,
                      help="reference trials needed (default: the rule's, 5)")
    rule.add_argument("--interval", type=int, default=1, help="steps between decisions (default 1)")
    rule.add_argument("--percentile", type=float, default=25.0, help="percentile rule: keep the top P%% (25)")
    rule.add_argument("--threshold", type=float, default=None, help="threshold rule: the threshold")
    rule.add_argument("--patience", type=int, default=5, help="patience rule: steps without improvement (5)")
    rule.add_argument("--min-delta", type=float, default=0.0, help="patience rule: minimum improvement (0)")
    rule.add_argument("--alpha", type=float, default=0.01, help="significance rule: FDR level (0.01)")
    rule.add_argument("--window", type=int, default=None,
                      help="significance, forecast: trailing window (default: the rule's, 3 steps for "
                           "significance, 2 for forecast)")
    rule.add_argument("--p-beat", type=float, default=0.05, metavar="P",
                      help="forecast: stop when the probability of beating the --top value is below P (0.05)")
    rule.add_argument("--top", type=top, default=0.1, metavar="K|F",
                      help="forecast: the value to beat, the K-th best score (1: the best) or the best "
                           "fraction F of the trials (default 0.1)")
    rule.add_argument("--max-t", type=int, default=None, metavar="STEP",
                      help="forecast: the step forecast to (default: the longest finished curve)")
    rule.add_argument("--min-resource", type=int, default=1, help="asha: first rung (1)")
    rule.add_argument("--reduction-factor", type=int, default=3, help="asha: reduction factor (3)")


def build_rule(name: str, args: argparse.Namespace) -> Any:
    """The :class:`~hpo_analytics.stopping.Rule` called ``name``, configured from ``args``."""
    from ..stopping import (
        ForecastRule,
        MedianStoppingRule,
        PatienceRule,
        PercentileRule,
        SignificanceRule,
        SuccessiveHalvingRule,
        ThresholdRule,
    )

    common = {"metric": args.metric, "mode": args.mode}
    gated = {"grace_period": args.grace_period, "interval": args.interval}
    samples = {} if args.min_samples is None else {"min_samples": args.min_samples}
    window = {} if args.window is None else {"window": args.window}
    if name == "median":
        return MedianStoppingRule(semantics=args.semantics, **samples, **gated, **common)
    if name == "percentile":
        return PercentileRule(args.percentile, semantics=args.semantics, **samples, **gated, **common)
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
        return SignificanceRule(alpha=args.alpha, **window, **samples, **gated, **common)
    if name == "forecast":
        return ForecastRule(threshold=args.p_beat, top=args.top, max_t=args.max_t, **window,
                            **samples, **gated, **common)
    raise ConfigurationError(f"unknown rule {name!r}; choose from {', '.join(RULES)}")
