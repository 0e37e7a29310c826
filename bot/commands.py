"""Telegram's command menu (what «/» offers in the input field): one list for citizens' private
chats, one for groups (the accounts' chats), and the triage and supervisors' chats their own.

Cosmetic: the commands work without it, so a refusal (a placeholder chat id, a chat the bot is not in
yet) is logged and the start goes on."""
from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import (
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
)

from bot.config import OtklikConfig
from routing import texts

log = logging.getLogger(__name__)

Scope = BotCommandScopeAllPrivateChats | BotCommandScopeAllGroupChats | BotCommandScopeChat


def command_menus(config: OtklikConfig) -> list[tuple[Scope, str]]:
    """(scope, menu name in texts.COMMAND_MENUS): a chat's own scope wins over «all groups» in Telegram."""
    menus: list[tuple[Scope, str]] = [
        (BotCommandScopeAllPrivateChats(), "private"),
        (BotCommandScopeAllGroupChats(), "groups"),
    ]
    for holder, menu in ((config.triage, "triage"), (config.supervisors, "supervisors")):
        chat = getattr(holder, "telegram_chat", None)
        if chat is not None:
            menus.append((BotCommandScopeChat(chat_id=chat), menu))
    return menus


async def register_command_menus(bot: Bot, config: OtklikConfig) -> int:
    """Set every menu; returns how many Telegram took."""
    done = 0
    for scope, menu in command_menus(config):
        commands = [BotCommand(command=c, description=d) for c, d in texts.COMMAND_MENUS[menu]]
        try:
            await bot.set_my_commands(commands, scope=scope)
            done += 1
        except TelegramAPIError as exc:
            log.warning("the %s command menu was not set: %s", menu, exc)
    return done
