"""Binding a group to an account: `/start <code>` that Telegram sends when an admin adds the bot
through an invite link (https://t.me/<bot>?startgroup=<code>), or `/bind <code>` typed there, and
what happens when the bot is added to a group nobody bound."""
from __future__ import annotations

import asyncio
import contextlib
import logging

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.types import Message

from handlers.telegram.convert import to_inbound
from routing.desk import AppealDesk

log = logging.getLogger(__name__)
GROUPS = ("group", "supergroup")


def invite_router() -> Router:
    router = Router(name="telegram-invites")
    router.message.filter(F.chat.type.in_(GROUPS))

    # `/bind <code>` typed by hand does the same: for a group the bot is already in (within the grace)
    @router.message(CommandStart())
    @router.message(Command("bind"))
    async def start_in_group(message: Message, command: CommandObject, desk: AppealDesk) -> None:
        code = (command.args or "").strip()
        if not code:
            return  # a bare /start in a group asks for nothing
        await desk.invites.bind(to_inbound(message), code[:64])

    return router


async def on_unknown_group(bot: Bot, desk: AppealDesk, chat_id: int) -> None:
    """The bot was added to a group that is neither configured nor bound. While invite codes are
    about (open, or expired or used lately) the admin may be adding it through a link, and
    `/start <code>` follows the join: wait a little for it (and refuse a stale code with words).
    Otherwise leave at once. Either way an unknown group is never sent an appeal."""
    if await desk.invites.expecting_codes():
        log.info("added to unbound chat %s; waiting %.0fs for an invite code", chat_id, desk.invites.join_grace)
        task = asyncio.create_task(_leave_unless_bound(bot, desk, chat_id, desk.invites.join_grace))
        desk.invites.timers.add(task)  # kept, so it is not collected, and cancelled at stop
        task.add_done_callback(desk.invites.timers.discard)
        return
    log.warning("added to unconfigured chat %s; leaving", chat_id)
    await bot.leave_chat(chat_id)


async def _leave_unless_bound(bot: Bot, desk: AppealDesk, chat_id: int, grace: float) -> None:
    await asyncio.sleep(grace)
    if desk.chat_role("tg", str(chat_id)).kind != "unknown":
        return
    log.warning("no invite code came from chat %s; leaving", chat_id)
    # the bot may have been removed meanwhile: nothing left to do then
    with contextlib.suppress(Exception):
        await bot.leave_chat(chat_id)
