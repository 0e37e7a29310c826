"""Telegram's command menu is set at start for each kind of chat; a menu Telegram refuses (a chat the
bot is not in) is logged and the bot runs on. The real bot against the Bot API stand-in."""
from __future__ import annotations

import json
import logging

import pytest

from bot.config import OtklikConfig
from bot.standin.telegram import TelegramStandin
from routing import texts
from tests.conftest import CITIZEN, Stand


def menu(standin: TelegramStandin, scope: dict) -> list[str]:
    return [c["command"] for c in standin.commands.get(json.dumps([scope, ""], sort_keys=True), [])]


async def test_each_kind_of_chat_gets_its_menu(stand: Stand) -> None:
    tg = stand.tg
    await tg.wait_for(lambda: len(tg.commands) == 4)
    assert menu(tg, {"type": "all_private_chats"}) == [c for c, _ in texts.COMMAND_MENUS["private"]]
    assert menu(tg, {"type": "all_group_chats"}) == ["open", "card", "overdue", "help"]
    assert menu(tg, {"type": "chat", "chat_id": stand.triage}) == ["open", "card", "help"]
    supervisors = stand.config.supervisors.telegram_chat
    assert "rating" in menu(tg, {"type": "chat", "chat_id": supervisors})
    # every command in a menu is one the bot answers in that kind of chat
    private = set(menu(tg, {"type": "all_private_chats"}))
    assert private <= {"start", "new", "my", "help", "forget"}


async def test_a_refused_menu_does_not_stop_the_bot(config: OtklikConfig, database_url: str,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    from bot.sandbox import prepare_world

    standin = TelegramStandin()
    await standin.start()
    prepare_world(standin, config)
    # the supervisors' chat the config names does not exist on this Telegram
    moved = config.model_copy(update={"supervisors": config.supervisors.model_copy(
        update={"telegram_chat": -1009999999999})})
    stand = Stand(standin, moved, database_url)
    with caplog.at_level(logging.WARNING, logger="bot.commands"):
        await stand.start()
    try:
        assert any("supervisors command menu was not set" in r.getMessage() and "chat not found" in r.getMessage()
                   for r in caplog.records)
        assert menu(standin, {"type": "all_group_chats"})  # the others are set
        stand.citizen_says("В Рыбинске на улице Крестовой огромная яма на дороге")
        await stand.wait(CITIZEN, "принято")  # and the bot works
    finally:
        await stand.stop()
        await standin.stop()
