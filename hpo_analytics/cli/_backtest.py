"""``hpo-analytics backtest``: replay a finished search as if stop rules had been running."""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import ConfigurationError
from ._common import (
    EXIT_OK,
    add_command,
    add_json_flag,
    add_metric_args,
    frame_records,
    print_json,
    read_curves_input,
    resolve_input,
    text_table,
)
from ._rules import RULES, add_rule_options, build_rule


def add_backtest(sub: Any) -> None:
    """Register ``backtest``."""
    parser = add_command(
        sub, "backtest",
        help="replay a finished search under stop rules: iterations saved, best trial stopped, regret",
        description=(
            "Replay the learning curves of a finished search as if each --rule had been stopping\n"
            "trials (trials run in waves of --concurrency, in trial order) and report, per rule, the\n"
            "fraction of iterations saved, whether the eventual best trial would have been stopped,\n"
            "the share of the top trials stopped, and the regret."
        ),
        examples=[
            "hpo-analytics backtest data/synthetic_job --rule median --rule significance",
            "hpo-analytics backtest out/curves.parquet --rule asha --json",
            "hpo-analytics backtest sqlite:///study.db --study my-job --rule median   # an Optuna study",
        ],
    )
    parser.add_argument("input", metavar="INPUT",
                        help="learning curves: per-trial history pages (a directory), a curves Parquet file, "
                             "a job directory with histories/ or curves.parquet, an Optuna storage URL "
                             "(intermediate values) or a Ray Tune experiment directory")
    parser.add_argument("--study", metavar="NAME",
                        help="the study of an Optuna storage INPUT (default: the storage's only study)")
    parser.add_argument("--rule", action="append", choices=RULES, default=None,
                        help="a rule to replay; repeatable (default median)")
    add_metric_args(parser)
    parser.add_argument("--concurrency", type=int, default=4, help="trials running at once (default 4)")
    parser.add_argument("--top-fraction", type=float, default=0.1,
                        help="what counts as a top trial for 'top stopped' (default 0.1)")
    add_rule_options(parser)
    add_json_flag(parser)
    parser.set_defaults(run=run_backtest)


def run_backtest(args: argparse.Namespace) -> int:
    """Replay and print one row per rule."""
    from ..stopping import backtest

    rules = {name: build_rule(name, args) for name in dict.fromkeys(args.rule or ["median"])}
    job = resolve_input(args.input, study=args.study)
    if args.study is not None and job.kind != "optuna":
        raise ConfigurationError("--study applies to an Optuna storage INPUT (sqlite:///..., postgresql://...)")
    curves = read_curves_input(job)
    result = backtest(curves, rules, metric=args.metric, mode=args.mode, concurrency=args.concurrency,
                      top_fraction=args.top_fraction)
    result.insert(1, "description", [rules[name].describe() for name in result["rule"]])
    calibration = result.attrs.get("calibration", {})
    if args.json:
        out: dict[str, Any] = {"rules": frame_records(result)}
        if calibration:
            out["calibration"] = {label: {**c, **{key: {f"{k:g}": v for k, v in c[key].items()} for key in
                                                  ("coverage", "trial_coverage", "trial_coverage_se")}}
                                  for label, c in calibration.items()}
        print_json(out)
        return EXIT_OK
    rows = [[r.rule, r.trials, r.stopped, f"{r.saved:.1%}", r.best_stopped, f"{r.top_stopped:.1%}", r.regret]
            for r in result.itertuples(index=False)]
    print(text_table(rows, ["rule", "trials", "stopped", "saved", "best stopped", "top stopped", "regret"]))
    print("saved: share of trial-iterations not run; regret: how much worse the best surviving trial is")
    for name, rule in rules.items():
        print(f"{name}: {rule.describe()}")
    for name, c in calibration.items():
        print(calibration_lines(name, c))
    return EXIT_OK


def calibration_lines(name: str, c: dict[str, Any]) -> str:
    """A forecast rule's calibration (see :func:`hpo_analytics.stopping.calibration`) as a few lines."""
    if not c["below"]:
        below = f"no forecast gave P(beat) < {c['threshold']:g}"
    else:
        below = (f"{c['below_beat']} of {c['below']} forecasts with P(beat) < {c['threshold']:g} went on to "
                 f"beat the value ({c['below_beat_rate']:.1%}; mean stated P {c['below_mean_p']:.2%}; "
                 f"binomial p = {c['binomial_p']:.2g}: "
                 f"{'at or below' if c['calibrated'] else 'ABOVE'} the threshold within sampling error)")
    cover = ", ".join(f"{k:.0%} interval held {v:.1%} (per trial {c['trial_coverage'][k]:.1%} "
                      f"+- {c['trial_coverage_se'][k]:.1%})" for k, v in c["coverage"].items())
    return (f"{name} calibration: {below}\n"
            f"{name} reliability: {cover or 'no forecast'} of {c['forecasts']} forecasts "
            f"({c['forecast_trials']} trials)")
