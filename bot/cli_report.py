"""`otklik report`: the supervisors' workbook for a period, from the database, without a running bot."""
from __future__ import annotations

import argparse
import asyncio
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo


def register(subparsers: Any) -> None:
    """Add `report` to the main CLI's `parser.add_subparsers(dest="command")`."""
    report = subparsers.add_parser(
        "report",
        help="XLSX report of a period (rating, problems, overdue, flagged answers) and its PNG charts",
        description="Write the workbook to --out and the charts beside it (<out>-rating.png, <out>-problems.png). "
        "The database is $OTKLIK_DATABASE_URL.",
    )
    report.add_argument("--period", required=True,
                        help="a week 2026-W47, a month 2026-11, or dates 2026-11-01..2026-11-15 (inclusive)")
    report.add_argument("--out", required=True, help="the .xlsx file to write")
    report.add_argument("--config", default=None, help="config file (default: ./config.yaml or $OTKLIK_CONFIG)")
    report.add_argument("--no-charts", action="store_true", help="write the workbook only")
    report.set_defaults(func=report_command)

    quality = subparsers.add_parser(
        "routing-report",
        help="how the router did in a period: routed by the bot, sent to triage, refused by accounts, triage time",
        description="Prints, for the appeals registered in the period, what the bot routed itself (and through "
        "the history model), what went to the operators and why, what accounts refused after the bot's route "
        "(the router's visible mistakes) and how long triage took; per category and per account. The database "
        "is $OTKLIK_DATABASE_URL.",
    )
    quality.add_argument("--period", required=True,
                         help="a week 2026-W47, a month 2026-11, or dates 2026-11-01..2026-11-15 (inclusive)")
    quality.add_argument("--config", default=None, help="config file (default: ./config.yaml or $OTKLIK_CONFIG)")
    quality.set_defaults(func=routing_report_command)


def routing_report_command(args: argparse.Namespace) -> int:
    from bot.config import Environment
    from routing.routing_quality import RoutingQuality, format_quality, load_routing, summarize
    from storage.db import Database

    loaded = _config_and_period(args, "routing-report")
    if loaded is None:
        return 2
    config, period = loaded

    async def main() -> RoutingQuality:
        db = Database(Environment.from_env().database_url, must_exist=True)
        try:
            await db.upgrade()
            async with db.transaction() as s:
                as_of = min(period.end, datetime.now(UTC))
                return summarize(await load_routing(s, period.start, period.end, as_of))
        finally:
            await db.dispose()

    names = {c.code: c.name for c in config.categories} | {a.code: a.name for a in config.accounts}
    print(format_quality(asyncio.run(main()), period.title, names))
    return 0


def _config_and_period(args: argparse.Namespace, command: str) -> tuple[Any, Any] | None:
    """The config (--config, $OTKLIK_CONFIG or ./config.yaml) and --period in the region's time
    zone; None after saying what is wrong with the period."""
    from bot.config import load_config
    from routing.periods import PeriodError, parse_period

    config = load_config(Path(args.config or os.environ.get("OTKLIK_CONFIG") or "config.yaml"))
    try:
        return config, parse_period(args.period, ZoneInfo(config.region.timezone))
    except PeriodError as exc:
        print(f"otklik {command}: --period {exc}", file=sys.stderr)
        return None


def report_command(args: argparse.Namespace) -> int:
    # imported here so that `otklik --help` stays fast: the report pulls in matplotlib
    from bot import reports
    from bot.config import Environment
    from storage.db import Database

    loaded = _config_and_period(args, "report")
    if loaded is None:
        return 2
    config, period = loaded
    out = Path(args.out)
    if out.suffix.lower() != ".xlsx":
        print(f"otklik report: --out {out}: the file name must end in .xlsx", file=sys.stderr)
        return 2

    async def main() -> reports.ReportData:
        db = Database(Environment.from_env().database_url, must_exist=True)
        try:
            await db.upgrade()
            return await reports.collect(db, config, period, datetime.now(UTC))
        finally:
            await db.dispose()

    data = asyncio.run(main())
    reports.write_xlsx(data, config, out)
    written = [out]
    if not args.no_charts:
        for name, chart in (("rating", reports.rating_chart), ("problems", reports.problems_chart)):
            png = out.with_name(f"{out.stem}-{name}.png")
            png.write_bytes(chart(data, config))
            written.append(png)
    print(f"{period.title}: {len(data.facts)} appeals")
    for path in written:
        print(f"wrote {path}")
    return 0
