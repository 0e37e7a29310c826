"""`otklik forget CITIZEN`: erase a citizen's personal data, keeping their appeals' facts for statistics."""
from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from datetime import UTC, datetime
from typing import Any

from bot.config import Environment
from routing.privacy import ForgetReport, find_citizen, forget_citizen, parse_citizen_ref


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
        parse_citizen_ref(args.citizen)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    if not args.yes:
        if not sys.stdin.isatty():
            print("refusing without --yes when not asked at a terminal", file=sys.stderr)
            return 2
        answer = input(f"Erase the personal data of {args.citizen}? This cannot be undone. Type yes: ")
        if answer.strip().lower() != "yes":
            print("nothing erased", file=sys.stderr)
            return 1
    report = asyncio.run(_forget(Environment.from_env().database_url, args.citizen))
    if report is None:
        print(f"no citizen {args.citizen} in the database", file=sys.stderr)
        return 1
    print(report.summary())
    return 0


async def _forget(database_url: str, ref: str) -> ForgetReport | None:
    from storage.db import Database

    # must_exist: on a database that is not there, «no citizen» would read as «already erased»
    db = Database(database_url, must_exist=True)
    try:
        await db.upgrade()
        async with db.transaction() as s:
            citizen = await find_citizen(s, ref)
            if citizen is None:
                return None
            # who ran it goes into each appeal's history; the citizen's own data does not
            return await forget_citizen(s, citizen, datetime.now(UTC), by=f"cli:{_operator()}"[:64])
    finally:
        await db.dispose()


def _operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name in a bare container
        return "unknown"
