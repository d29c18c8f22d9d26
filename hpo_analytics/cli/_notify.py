"""The watch's notification options: ``--notify-webhook``, ``--notify-command``, ``--notify-dry-run``."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_notify_options", "build_notifier"]


def add_notify_options(parser: argparse.ArgumentParser) -> None:
    """Register the ``notifications`` option group."""
    group = parser.add_argument_group(
        "notifications (a JSON event per stop, failed stop, job end and fatal error; delivered in the\n"
        "background: a receiver that fails is recorded in the ledger and never blocks or repeats a stop)")
    group.add_argument("--notify-webhook", metavar="URL", action="append", default=[],
                       help="POST each event as JSON to URL (5 s timeout, 3 attempts); repeatable")
    group.add_argument("--notify-command", metavar="CMD", action="append", default=[],
                       help="run CMD (no shell) with each event as JSON on stdin; repeatable")
    group.add_argument("--notify-dry-run", action="store_true",
                       help="also send the dry run's would_stop events")


def build_notifier(args: argparse.Namespace) -> Any:
    """The :class:`~hpo_analytics.stopping.Notifier` the options ask for, or ``None`` when none do.

    Bad URLs or commands raise :class:`~hpo_analytics.errors.ConfigurationError` (a usage error).
    """
    if not args.notify_webhook and not args.notify_command:
        if args.notify_dry_run:
            from ..errors import ConfigurationError

            raise ConfigurationError("--notify-dry-run needs --notify-webhook or --notify-command")
        return None
    from ..stopping import CommandSink, Notifier, WebhookSink

    sinks: list[Any] = [WebhookSink(url) for url in args.notify_webhook]
    sinks += [CommandSink(cmd) for cmd in args.notify_command]
    return Notifier(sinks, dry_run=args.notify_dry_run)
