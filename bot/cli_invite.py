"""`otklik invite ACCOUNT`: a single-use, expiring code that binds an officials' chat to an account —
as a deep link for a Telegram group, or (`--vk`) as the `/bind <code>` line to write in a VK chat."""
from __future__ import annotations

import argparse
import asyncio
import difflib
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.config import Environment, load_config
from routing.invites import DEFAULT_TTL, create_invite, deep_link, parse_ttl

# A code is for a chat about to be connected: one valid for years is a standing key to the account if it leaks
MAX_TTL = timedelta(days=90)


def register(subparsers: Any) -> None:
    """Add `invite` to the main CLI's `parser.add_subparsers(dest="command")`."""
    invite = subparsers.add_parser(
        "invite",
        help="print a one-time link (Telegram) or code (VK) that connects a chat to an account",
        description=(
            "Print https://t.me/<bot>?startgroup=<code>. An admin of the officials' group opens it and "
            "adds the bot to the group; the bot then treats that group as the account's chat. With --vk, "
            "print «/bind <code>» instead: written in a VK chat (беседа) the community is in, it makes "
            "that chat the account's. The code works once and expires (default 24h); only its hash is stored."
        ),
    )
    invite.add_argument("account", help="account code from the config, e.g. adm_rybinsk")
    invite.add_argument("--config", help="config file (default: ./config.yaml or $OTKLIK_CONFIG)")
    invite.add_argument("--ttl", default="24h", help="how long the code works: 30m, 24h, 7d … up to 90d (default 24h)")
    invite.add_argument(
        "--bot-username", help="the bot's @username for the link (default: asked of Telegram with the token)"
    )
    invite.add_argument("--vk", action="store_true",
                        help="for a VK chat: print the /bind line to write there instead of a Telegram link")
    invite.set_defaults(func=invite_command)


def invite_command(args: argparse.Namespace) -> int:
    config = load_config(Path(args.config or os.environ.get("OTKLIK_CONFIG") or "config.yaml"))
    codes = [a.code for a in config.accounts]
    if args.account not in codes:
        close = difflib.get_close_matches(args.account, codes, n=2, cutoff=0.75)
        guess = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        print(f"no account {args.account!r} in the config{guess} (accounts: {', '.join(codes)})", file=sys.stderr)
        return 2
    try:
        ttl = parse_ttl(args.ttl) if args.ttl else DEFAULT_TTL
    except OverflowError:  # more days than a date can hold
        ttl = None
    except ValueError as exc:
        print(f"--ttl: {exc}", file=sys.stderr)
        return 2
    if ttl is None or ttl > MAX_TTL:
        print(f"--ttl {args.ttl}: too long; a code works at most {MAX_TTL.days} days ({MAX_TTL.days}d), and one "
              "not used by then is easily made anew", file=sys.stderr)
        return 2
    env = Environment.from_env()
    account = config.account(args.account)
    username = args.bot_username
    if not args.vk and not username:
        if not env.telegram_token:
            print("pass --bot-username (or --vk for a VK chat), or set OTKLIK_TELEGRAM_TOKEN to ask Telegram "
                  "for it", file=sys.stderr)
            return 2
        username = asyncio.run(_bot_username(env.telegram_token, env.telegram_api_url))
    code, expires = asyncio.run(_store(env.database_url, args.account, ttl))
    until = f"Works once, until {expires.astimezone(ZoneInfo(config.region.timezone)):%Y-%m-%d %H:%M %Z}."
    if args.vk:
        print(f"/bind {code}")
        print(f"Connects a VK chat (беседа) to «{account.name}» ({account.code}). Add the community to the "
              f"officials' chat, give it access to the chat's messages, and write the line above there. {until}",
              file=sys.stderr)
    else:
        print(deep_link(username, code))
        print(f"Connects a Telegram group to «{account.name}» ({account.code}). Open the link as an admin of "
              "the officials' group and add the bot there (or, with the bot already there, write "
              f"«/bind {code}»). {until}", file=sys.stderr)
    configured = account.telegram_chat if account.telegram_chat is not None else account.vk_peer
    if configured is not None:
        print(f"The config names chat {configured} for this account: it keeps working for existing cards, "
              "and new cards go to the chat connected with this code.", file=sys.stderr)
    return 0


async def _bot_username(token: str, api_url: str | None) -> str:
    from aiogram import Bot
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer

    session = AiohttpSession(api=TelegramAPIServer.from_base(api_url)) if api_url else AiohttpSession()
    bot = Bot(token, session=session)
    try:
        me = await bot.get_me()
    finally:
        await bot.session.close()
    if not me.username:
        raise SystemExit("Telegram reports no username for this bot; pass --bot-username")
    return me.username


async def _store(database_url: str, account: str, ttl: Any) -> tuple[str, datetime]:
    from storage.db import Database

    db = Database(database_url)
    try:
        await db.upgrade()
        return await create_invite(db, account, datetime.now(UTC), ttl)
    finally:
        await db.dispose()
