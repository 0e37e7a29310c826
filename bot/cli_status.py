"""`otklik status`: is the bot's database healthy and is work flowing — for an admin, cron or a monitor.

    otklik status [--config PATH] [--json] [--stale-minutes N]

It only reads the database ($OTKLIK_DATABASE_URL): it never creates one (a missing SQLite file is an
error, exit 2) and never migrates it — a schema older than this build is reported, not fixed.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

EXIT_OK = 0
EXIT_PROBLEM = 1
EXIT_CANNOT_CHECK = 2
DEFAULT_STALE_MINUTES = 10.0
DAY = timedelta(hours=24)
INBOUND_PLATFORMS = ("tg", "vk")  # ProcessedUpdate also holds the bot's own job and position keys
_NO_SCHEMA_FIX = "run `otklik db upgrade` or start the bot"

_DESCRIPTION = """\
Print the health of the bot's database ($OTKLIK_DATABASE_URL) and whether work is flowing: the schema
revision, open / triage / overdue appeals, the outbox backlog and failures, the last update taken in from
Telegram and VK, bound chats and open invite codes. It only reads: a missing SQLite file is an error and
nothing is created or migrated.

Exit status:
  0  healthy (WARNING lines may be printed)
  1  a PROBLEM: the schema is not at this build's newest revision (behind, not stamped, or unknown to
     this build), or the oldest outbox message that is due has waited longer than --stale-minutes
     (the sender is not running or cannot reach the platform), or a part of the database could not
     be read although the schema is current
  2  the status could not be checked: no database (missing SQLite file), the database cannot be
     opened or reached, a bad config or bad arguments

Not a PROBLEM, a WARNING: outbox messages that failed in the last 24 h (usually a citizen who blocked
the bot or deleted the chat; `outbox.error` says why). Overdue appeals and hours without inbound updates
are figures, not problems: they are the officials' and the citizens' pace, not the bot's health;
threshold them from --json (appeals.overdue, inbound.last_update_age_seconds) if you want alerts.

The age of the oldest due message counts from when it became deliverable (outbox.not_before) or, for a
claim whose lease ran out, from the lease's end. "Failed in the last 24 h" counts the messages given up on
within 24 h (outbox.failed_at; for failures recorded before schema 0006, when their last attempt was due).
"""


def register(subparsers: Any) -> None:
    """Add `status` to the main CLI's `parser.add_subparsers(dest="command")`."""
    status = subparsers.add_parser(
        "status",
        help="health of the database and the flow of work, for cron and monitoring (exit 1 on a problem)",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    status.add_argument("--config", help="config file, for the region's time zone in printed times "
                                         "(default: ./config.yaml or $OTKLIK_CONFIG; without one times are UTC)")
    status.add_argument("--json", action="store_true",
                        help="print one JSON object (the same figures, 'problems' and 'warnings' lists)")
    status.add_argument("--stale-minutes", type=_positive_minutes, default=DEFAULT_STALE_MINUTES, metavar="N",
                        help="a due outbox message waiting longer than this is a PROBLEM (default 10)")
    status.set_defaults(func=status_command)


def _positive_minutes(value: str) -> float:
    try:
        minutes = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of minutes") from None
    if not minutes > 0 or minutes == float("inf"):
        raise argparse.ArgumentTypeError(f"{value!r}: expected a positive number of minutes")
    return minutes


def status_command(args: argparse.Namespace) -> int:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import DBAPIError

    from bot.config import Environment

    tz = _timezone(args.config)
    url = Environment.from_env().database_url
    now = datetime.now(UTC)
    try:
        report = asyncio.run(collect(url, now, timedelta(minutes=args.stale_minutes)))
    except (OSError, DBAPIError) as exc:  # not reachable, not a database, refused: nothing to report on
        where = make_url(url).render_as_string(hide_password=True)
        print(f"error: cannot read the database {where}: {_one_line(exc)}", file=sys.stderr)
        return EXIT_CANNOT_CHECK
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        print(format_report(report, tz, now))
    return EXIT_PROBLEM if report["problems"] else EXIT_OK


def _timezone(explicit: str | None) -> ZoneInfo:
    """The region's zone from the config when one is named or ./config.yaml exists; else UTC."""
    from bot.config import load_config

    named = explicit or os.environ.get("OTKLIK_CONFIG")
    path = Path(named or "config.yaml")
    if named is None and not path.is_file():
        return ZoneInfo("UTC")
    return ZoneInfo(load_config(path).region.timezone)  # a broken config is a ConfigError: exit 2


# ---- reading ------------------------------------------------------------------------------------------


async def collect(url: str, now: datetime, stale: timedelta) -> dict[str, Any]:
    """Every figure, the problems and the warnings, as the JSON output has them."""
    from sqlalchemy.exc import SQLAlchemyError

    from storage.db import Database

    db = Database(url, must_exist=True)  # NoDatabaseError for a missing SQLite file: exit 2 in bot.cli
    try:
        async with db.engine.connect() as conn:
            schema = await conn.run_sync(_schema_state)
        report: dict[str, Any] = {"checked_at": _iso(now), "database": db.describe(), "schema": schema}
        unreadable: dict[str, str] = {}
        for name, read in (("appeals", _appeals), ("outbox", _outbox), ("inbound", _inbound), ("chats", _chats)):
            try:
                async with db.transaction() as s:
                    report[name] = await read(s, now)
            except SQLAlchemyError as exc:  # a table or column of a newer schema is not there yet
                report[name] = None
                unreadable[name] = _one_line(exc)
    finally:
        await db.dispose()
    problems, warnings = _judge(report, unreadable, stale)
    report["stale_minutes"] = stale.total_seconds() / 60
    report["healthy"] = not problems
    report["problems"] = problems
    report["warnings"] = warnings
    return report


def _schema_state(connection: Any) -> dict[str, Any]:
    # alembic logs its plugins and "Context impl …" at INFO on import and use: noise in a cron job's mail
    quiet = logging.getLogger("alembic")
    level = quiet.level
    quiet.setLevel(max(logging.WARNING, quiet.getEffectiveLevel()))
    try:
        return _read_schema_state(connection)
    finally:
        quiet.setLevel(level)


def _read_schema_state(connection: Any) -> dict[str, Any]:
    from alembic.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError
    from sqlalchemy import inspect

    from storage.migrate import alembic_config

    script = ScriptDirectory.from_config(alembic_config())
    newest = sorted(script.get_heads())
    current = sorted(MigrationContext.configure(connection).get_current_heads())
    unknown = []
    for revision in current:
        try:
            script.get_revision(revision)
        except CommandError:
            unknown.append(revision)
    if current == newest:
        state = "current"
    elif unknown:
        state = "unknown"  # written by another (newer) build of otklik
    elif current:
        state = "behind"
    else:
        state = "unstamped" if inspect(connection).has_table("appeals") else "empty"
    return {"current": ", ".join(current) or None, "newest": ", ".join(newest), "state": state,
            "up_to_date": state == "current"}


async def _appeals(s: Any, now: datetime) -> dict[str, Any]:
    from sqlalchemy import func, select

    from routing.deadlines import running_due_sql
    from routing.lifecycle import OPEN, Status
    from storage.models import Appeal

    by_status = {str(k): int(v) for k, v in (await s.execute(
        select(Appeal.status, func.count()).group_by(Appeal.status)
    )).all()}
    # the same appeals as `/overdue` (DeadlineWatch.overdue_appeals): an open appeal whose running
    # term (first answer, or resolution after an intermediate answer) is past its due time
    # a schema from before 0007 has no account_due yet: the citizen's deadline is then everyone's
    due = running_due_sql(with_account_due=await s.run_sync(_has_column, "appeals", "account_due"))
    overdue = {str(k): int(v) for k, v in (await s.execute(
        select(Appeal.sla_term, func.count())
        .where(Appeal.sla_term.is_not(None), Appeal.status.in_([st.value for st in OPEN]), due < now)
        .group_by(Appeal.sla_term)
    )).all()}
    created = await s.scalar(select(func.count()).select_from(Appeal).where(Appeal.created_at > now - DAY))
    return {
        "open": sum(by_status.get(st.value, 0) for st in OPEN),
        "triage": by_status.get(Status.TRIAGE.value, 0),
        "overdue": sum(overdue.values()),
        "overdue_first_answer": overdue.get("first_answer", 0),
        "overdue_resolution": overdue.get("resolution", 0),
        "created_24h": int(created or 0),
        "by_status": dict(sorted(by_status.items())),
    }


async def _outbox(s: Any, now: datetime) -> dict[str, Any]:
    from sqlalchemy import func, select

    from storage.models import OutboxMessage as Out

    by_status = {str(k): int(v) for k, v in (await s.execute(
        select(Out.status, func.count()).group_by(Out.status)
    )).all()}
    # due: what the sender would claim now (bot.outbox.Outbox.claim_due) — pending and deliverable, or
    # claimed by a process whose lease ran out (it died mid-send)
    due_pending, pending_since = (await s.execute(
        select(func.count(), func.min(Out.not_before)).where(Out.status == "pending", Out.not_before <= now)
    )).one()
    lapsed, lapsed_since = (await s.execute(
        select(func.count(), func.min(Out.claimed_until)).where(Out.status == "sending", Out.claimed_until < now)
    )).one()
    oldest = min((t for t in (pending_since, lapsed_since) if t is not None), default=None)
    # a schema from before 0006 (the bot not restarted since an upgrade) has no failed_at yet
    failed_at = Out.failed_at if await s.run_sync(_has_column, "outbox", "failed_at") else Out.not_before
    failed_24h = await s.scalar(
        select(func.count()).select_from(Out).where(Out.status == "failed", failed_at > now - DAY)
    )
    latest = (await s.execute(
        select(Out.id, Out.purpose, Out.error).where(Out.status == "failed", failed_at > now - DAY)
        .order_by(failed_at.desc(), Out.id.desc()).limit(1)
    )).first()
    return {
        "pending": by_status.get("pending", 0),
        "sending": by_status.get("sending", 0),
        "due": int(due_pending) + int(lapsed),
        "lapsed_claims": int(lapsed),
        "oldest_due_since": _iso(oldest),
        "oldest_due_age_seconds": None if oldest is None else round((now - oldest).total_seconds(), 1),
        "failed_24h": int(failed_24h or 0),
        "failed_total": by_status.get("failed", 0),
        "sent_total": by_status.get("sent", 0),
        "latest_failure": None if latest is None else {
            "id": latest.id, "purpose": latest.purpose, "error": _one_line(latest.error or "", 200),
        },
    }


def _has_column(session: Any, table: str, column: str) -> bool:
    """Whether the schema read has `column` yet (a database one revision behind still reports)."""
    from sqlalchemy import inspect

    return column in {c["name"] for c in inspect(session.connection()).get_columns(table)}


async def _inbound(s: Any, now: datetime) -> dict[str, Any]:
    from sqlalchemy import func, select

    from storage.models import ProcessedUpdate

    newest = {str(k): v for k, v in (await s.execute(
        select(ProcessedUpdate.platform, func.max(ProcessedUpdate.processed_at))
        .where(ProcessedUpdate.platform.in_(INBOUND_PLATFORMS))
        .group_by(ProcessedUpdate.platform)
    )).all() if v is not None}
    last = max(newest.values(), default=None)
    return {
        "last_update_at": _iso(last),
        "last_update_age_seconds": None if last is None else round((now - last).total_seconds(), 1),
        "by_platform": {p: _iso(newest.get(p)) for p in INBOUND_PLATFORMS},
    }


async def _chats(s: Any, now: datetime) -> dict[str, Any]:
    from sqlalchemy import func, select

    from storage.models import ChatBinding, InviteCode

    bound = await s.scalar(select(func.count()).select_from(ChatBinding))
    invites = await s.scalar(
        select(func.count()).select_from(InviteCode)
        .where(InviteCode.used_at.is_(None), InviteCode.expires_at > now)
    )
    return {"bound": int(bound or 0), "open_invites": int(invites or 0)}


# ---- judging ------------------------------------------------------------------------------------------


def _judge(
    report: dict[str, Any], unreadable: dict[str, str], stale: timedelta
) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    problems: list[dict[str, str]] = []
    warnings: list[dict[str, str]] = []
    schema = report["schema"]
    state = schema["state"]
    if state == "behind":
        problems.append(_item("schema_behind", f"the schema is at {schema['current']}, the newest is "
                                               f"{schema['newest']}: {_NO_SCHEMA_FIX}"))
    elif state == "unknown":
        problems.append(_item("schema_unknown", f"the database is at revision {schema['current']}, which this "
                                                f"otklik does not know (the newest it has is {schema['newest']}): "
                                                "was it upgraded by a newer otklik? Install that version"))
    elif state == "unstamped":
        problems.append(_item("schema_unstamped", "the database has tables but no alembic_version: "
                                                  f"{_NO_SCHEMA_FIX}"))
    elif state == "empty":
        problems.append(_item("schema_empty", f"the database has no Otklik tables: {_NO_SCHEMA_FIX}"))
    for name, error in unreadable.items():
        if state == "current":  # with an older schema a missing table is expected and already reported
            problems.append(_item("unreadable", f"cannot read the {name} figures: {error}"))
    outbox = report.get("outbox")
    if outbox is not None:
        age = outbox["oldest_due_age_seconds"]
        if age is not None and age > stale.total_seconds():
            problems.append(_item(
                "outbox_stale",
                f"the oldest due outbox message has waited {_span(age)} (limit {_minutes(stale)}), "
                f"{outbox['due']} due in all: is the bot running, and can it reach Telegram/VK?",
            ))
        if outbox["failed_24h"]:
            latest = outbox["latest_failure"]
            detail = ""
            if latest:
                why = f": {latest['error']}" if latest["error"] else ""
                detail = f" (latest: #{latest['id']} {latest['purpose']}{why})"
            warnings.append(_item(
                "outbox_failed",
                f"{_plural(outbox['failed_24h'], 'outbox message')} failed in the last 24 h{detail}",
            ))
    return problems, warnings


def _item(code: str, message: str) -> dict[str, str]:
    return {"code": code, "message": message}


# ---- printing -----------------------------------------------------------------------------------------


def format_report(report: dict[str, Any], tz: ZoneInfo, now: datetime) -> str:
    schema = report["schema"]
    current = schema["current"] or "none"
    mark = "" if schema["up_to_date"] else f" ({schema['state']})"
    lines = [
        f"database: {report['database']}",
        f"schema: {current}, newest {schema['newest']}{mark}",
    ]
    appeals = report["appeals"]
    if appeals is None:
        lines.append("appeals: not readable")
    else:
        lines.append(
            f"appeals: {appeals['open']} open, {appeals['triage']} in triage, {appeals['overdue']} overdue "
            f"({appeals['overdue_first_answer']} first answer, {appeals['overdue_resolution']} resolution), "
            f"{appeals['created_24h']} created in the last 24 h"
        )
    outbox = report["outbox"]
    if outbox is None:
        lines.append("outbox: not readable")
    else:
        age = outbox["oldest_due_age_seconds"]
        oldest = "" if age is None else f", the oldest waiting {_span(age)}"
        lines.append(
            f"outbox: {outbox['pending']} pending ({outbox['due']} due{oldest}), {outbox['sending']} sending, "
            f"{outbox['failed_24h']} failed in the last 24 h ({outbox['failed_total']} in all)"
        )
    inbound = report["inbound"]
    if inbound is None:
        lines.append("last update: not readable")
    else:
        parts = []
        for platform, at in inbound["by_platform"].items():
            if at is None:
                parts.append(f"{platform} never")
            else:
                moment = datetime.fromisoformat(at)
                parts.append(f"{platform} {_local(moment, tz)} ({_span((now - moment).total_seconds())} ago)")
        lines.append(f"last update: {', '.join(parts)}")
    chats = report["chats"]
    lines.append("chats: not readable" if chats is None else
                 f"chats: {chats['bound']} bound through invite codes, "
                 f"{_plural(chats['open_invites'], 'invite code')} open")
    lines += [f"PROBLEM: {p['message']}" for p in report["problems"]]
    lines += [f"WARNING: {w['message']}" for w in report["warnings"]]
    lines.append("status: PROBLEM" if report["problems"] else "status: ok")
    return "\n".join(lines)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat(timespec="seconds")


def _local(moment: datetime, tz: ZoneInfo) -> str:
    return f"{moment.astimezone(tz):%Y-%m-%d %H:%M %Z}"


def _span(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def _minutes(span: timedelta) -> str:
    return f"{span.total_seconds() / 60:g} min"


def _plural(count: int, noun: str, plural: str | None = None) -> str:
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


def _one_line(error: object, limit: int = 300) -> str:
    text = " ".join(str(error).split())
    # SQLAlchemy appends its background link and, with hide_parameters, a parameter note: noise here
    text = text.split(" (Background on this error")[0].split(" [SQL: ")[0]
    return text if len(text) <= limit else text[: limit - 1] + "…"
