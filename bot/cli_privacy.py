"""`otklik forget CITIZEN`: erase a citizen's personal data, keeping their appeals' facts for statistics."""
from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from bot.config import Environment
from routing.privacy import ForgetReport, find_citizen, forget_citizen, parse_citizen_ref

T = TypeVar("T")


def register(subparsers: Any) -> None:
    forget = subparsers.add_parser(
        "forget",
        help="erase a citizen's personal data (152-ФЗ); statistics keep the appeals' facts",
        description=(
            "CITIZEN is tg:<user id>, vk:<user id>, or an appeal number '#N' (quote it in a shell) meaning "
            "its author. Erases the name, platform ids, chat id, and the texts, photos and locations of the "
            "citizen's messages and appeals; drops pending messages to them. Category, municipality, "
            "account, timestamps, status and rating stay. Cannot be undone."
        ),
    )
    forget.add_argument("citizen", help="tg:<user id>, vk:<user id> or '#<appeal number>'")
    forget.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    forget.set_defaults(func=forget_command)


def forget_command(args: argparse.Namespace) -> int:
    try:
        kind, value = parse_citizen_ref(args.citizen)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    if not args.yes and not sys.stdin.isatty():
        print("refusing without --yes when not asked at a terminal", file=sys.stderr)
        return 2
    database_url = Environment.from_env().database_url
    # found first, so the question names who will be erased (and a wrong reference is not asked about)
    # '#N' names an appeal (its author is erased): when nothing is found, it is the appeal that is not there
    not_found = f"no appeal №{value} in the database" if kind == "appeal" else f"no citizen {args.citizen} in the database"
    who = asyncio.run(_describe(database_url, args.citizen))
    if who is None:
        print(not_found, file=sys.stderr)
        return 1
    if not args.yes:
        answer = input(f"Erase the personal data of {who}? This cannot be undone. Type yes: ")
        if answer.strip().lower() != "yes":
            print("nothing erased", file=sys.stderr)
            return 1
    report = asyncio.run(_forget(database_url, args.citizen))
    if report is None:  # erased by the bot itself (the citizen's /forget: no platform ids to find them by)
        # between the two steps
        print(not_found, file=sys.stderr)
        return 1
    print(report.summary())
    return 0


async def _describe(database_url: str, ref: str) -> str | None:
    """«tg:123 «Мария», 3 appeal(s)», or None when no such citizen."""
    from sqlalchemy import func, select

    from storage.models import Appeal

    async def describe(s: Any, citizen: Any) -> str:
        appeals = (await s.execute(
            select(func.count()).select_from(Appeal).where(Appeal.citizen_id == citizen.id))).scalar_one()
        if citizen.anonymised_at is not None:
            return f"citizen #{citizen.id} (already erased), {appeals} appeal(s)"
        return f"{citizen.platform}:{citizen.platform_user_id} «{citizen.display_name or '—'}», {appeals} appeal(s)"

    return await _with_citizen(database_url, ref, describe)


async def _forget(database_url: str, ref: str) -> ForgetReport | None:
    async def forget(s: Any, citizen: Any) -> ForgetReport:
        # who ran it goes into each appeal's history; the citizen's own data does not
        return await forget_citizen(s, citizen, datetime.now(UTC), by=f"cli:{_operator()}"[:64])

    return await _with_citizen(database_url, ref, forget)


async def _with_citizen(database_url: str, ref: str, use: Callable[[Any, Any], Awaitable[T]]) -> T | None:
    """use(session, citizen) in one transaction; None when the reference finds no citizen."""
    from storage.db import Database

    # must_exist: on a database that is not there, «no citizen» would read as «already erased»
    db = Database(database_url, must_exist=True)
    try:
        await db.upgrade()
        async with db.transaction() as s:
            citizen = await find_citizen(s, ref)
            return None if citizen is None else await use(s, citizen)
    finally:
        await db.dispose()


def _operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name in a bare container
        return "unknown"
