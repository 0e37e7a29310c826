"""`otklik sla deadline`: the SLA clock checked from outside, without a bot or a database."""
from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from routing.calendar import WorkingCalendar
from routing.sla import SlaClock


def register(subparsers: Any) -> None:
    """Add `sla deadline` to the main CLI's `parser.add_subparsers(dest="command")`."""
    sla = subparsers.add_parser("sla", help="SLA deadlines in working time")
    sla_sub = sla.add_subparsers(dest="sla_command", required=True)
    deadline = sla_sub.add_parser(
        "deadline",
        help="print the first-answer and resolution deadlines of an appeal",
        description="Print `first_answer: <ISO 8601>` and `resolution: <ISO 8601>` for an appeal received at --at.",
    )
    deadline.add_argument("--category", required=True, help="category code from the config")
    deadline.add_argument(
        "--at",
        required=True,
        help="when the appeal was received, ISO 8601; without an offset it is the region's local time",
    )
    deadline.add_argument("--urgent", action="store_true", help="apply the urgent terms")
    deadline.add_argument("--config", default="config.yaml", help="config file (default: ./config.yaml)")
    deadline.set_defaults(func=deadline_command)


def _category_codes(categories: Any) -> set[str]:
    items: Iterable[Any] = categories.values() if isinstance(categories, Mapping) else categories
    return {c.code for c in items}


def _load_config(path: str) -> Any:
    # Imported here so that `otklik --help` works even when the config module cannot be imported.
    from bot.config import load_config

    return load_config(path)


def deadline_command(args: argparse.Namespace) -> int:
    try:
        config = _load_config(args.config)
    except Exception as exc:  # noqa: BLE001 - any config failure is a usage error with its own message
        print(f"otklik sla deadline: {exc}", file=sys.stderr)
        return 2

    codes = _category_codes(config.categories)
    if args.category not in codes:
        known = ", ".join(sorted(codes)) or "none"
        print(
            f"otklik sla deadline: unknown category {args.category!r}; the config has: {known}",
            file=sys.stderr,
        )
        return 2

    calendar = WorkingCalendar(config.calendar)
    try:
        received = datetime.fromisoformat(args.at)
    except ValueError:
        print(
            f"otklik sla deadline: --at {args.at!r} is not an ISO 8601 datetime (e.g. 2026-05-08T17:00 "
            "or 2026-05-08T17:00+03:00)",
            file=sys.stderr,
        )
        return 2
    if received.tzinfo is None:
        received = received.replace(tzinfo=calendar.tz)

    deadlines = SlaClock(config.sla, calendar).deadlines(args.category, received, urgent=args.urgent)
    print(f"first_answer: {deadlines.first_answer.isoformat()}")
    print(f"resolution: {deadlines.resolution.isoformat()}")
    return 0
