"""`otklik sandbox`: the real bot against the local Bot API and VK API stand-ins, with a web page to
play the citizen (on Telegram or on VK), an official and the centre's operators."""
from __future__ import annotations

import logging
from typing import cast

from bot.app import OtklikApp
from bot.config import OtklikConfig, VkSettings
from bot.standin.telegram import TelegramStandin
from bot.standin.vk import VkStandin

log = logging.getLogger(__name__)

CITIZEN = {"id": 1001, "first_name": "Мария"}
OFFICIAL = {"id": 2001, "first_name": "Иван Петрович"}
OPERATOR = {"id": 3001, "first_name": "Оператор ЦУР"}
VK_CITIZEN = {"id": 5001, "first_name": "Анна"}
VK_OFFICIAL = {"id": 6001, "first_name": "Ольга Сергеевна"}
SANDBOX_DATABASE_URL = "sqlite+aiosqlite:///data/sandbox.sqlite3"


def with_fast_deadlines(config: OtklikConfig) -> OtklikConfig:
    """Seconds instead of working hours, so reminders and overdue alerts show up while you watch:
    a 24/7 calendar, a 20 s first answer (10 s if urgent), a reminder at half, a 1 s sweep, and an
    unanswered place question handed to triage after a minute."""
    from routing.calendar import CalendarConfig
    from routing.sla import SlaTerms

    calendar = CalendarConfig.model_validate({**config.calendar.model_dump(), "mode": "24/7"})
    sla = config.sla.model_copy(update={
        "default": SlaTerms.model_validate({"first_answer": "20s", "resolution": "2m"}),
        "urgent": SlaTerms.model_validate({"first_answer": "10s", "resolution": "1m"}),
        "categories": {},
        "reminders": (0.5,),
        "sweep_interval_seconds": 1.0,
    })
    routing = config.routing.model_copy(update={"place_wait_minutes": 1})
    return config.model_copy(update={"calendar": calendar, "sla": sla, "routing": routing})


def prepare_world(standin: TelegramStandin, config: OtklikConfig) -> dict[str, object]:
    """Create the config's group chats in the stand-in, put people in them, lay out the page."""
    for person in (CITIZEN, OFFICIAL, OPERATOR):
        standin.add_user(int(person["id"]), str(person["first_name"]))
    standin.add_chat(int(CITIZEN["id"]), type="private")
    account_chats = []
    for account in config.accounts:
        if account.telegram_chat is None:
            continue
        standin.add_chat(account.telegram_chat, type="supergroup", title=account.name)
        standin.set_member(account.telegram_chat, int(OFFICIAL["id"]))
        account_chats.append({"chat_id": account.telegram_chat, "title": account.name})
    staff_chats = []
    escalation = [(f"Эскалация: {key}", ref) for key, ref in config.escalation_chats.items()]
    for title, ref in (("ЦУР: операторы (триаж)", config.triage), ("Кураторы", config.supervisors), *escalation):
        if ref.telegram_chat is None:
            continue
        standin.add_chat(ref.telegram_chat, type="supergroup", title=title)
        standin.set_member(ref.telegram_chat, int(OPERATOR["id"]))
        staff_chats.append({"chat_id": ref.telegram_chat, "title": title})
    layout: dict[str, object] = {
        "panes": [
            {"title": "Житель", "chats": [{"chat_id": CITIZEN["id"], "title": "Личный чат с ботом"}],
             "user": CITIZEN},
            {"title": "Исполнитель", "chats": account_chats, "user": OFFICIAL},
            {"title": "ЦУР и кураторы", "chats": staff_chats, "user": OPERATOR},
        ]
    }
    standin.set_sandbox_layout(layout)
    return layout


def prepare_vk_world(vk: VkStandin, config: OtklikConfig) -> list[dict[str, object]]:
    """The VK side: a citizen, an official in every VK chat the config names; returns the page's VK panes."""
    vk.add_user(int(VK_CITIZEN["id"]), str(VK_CITIZEN["first_name"]))
    vk.add_user(int(VK_OFFICIAL["id"]), str(VK_OFFICIAL["first_name"]))
    staff_refs = [(a.name, a.vk_peer) for a in config.accounts]
    staff_refs += [("ЦУР: операторы (триаж)", config.triage.vk_peer), ("Кураторы", config.supervisors.vk_peer)]
    chats = []
    for title, peer in staff_refs:
        if peer is None:
            continue
        vk.add_chat(peer, title, members=(int(VK_OFFICIAL["id"]),))
        chats.append({"chat_id": peer, "title": title})
    panes: list[dict[str, object]] = [
        {"title": "Житель во ВКонтакте", "platform": "vk",
         "chats": [{"chat_id": VK_CITIZEN["id"], "title": "Диалог с сообществом"}], "user": VK_CITIZEN},
    ]
    if chats:
        panes.append({"title": "Чаты ВКонтакте", "platform": "vk", "chats": chats, "user": VK_OFFICIAL})
    return panes


async def forget_the_last_run(database_url: str) -> int:
    """The stand-ins start empty each run, their message and update numbers from 1 again, while the
    database keeps the last run's: its processed-update keys would take the new messages for
    redeliveries (a restarted sandbox answered nothing), and its message links would tie new
    messages to old appeals. Those two tables are the last run's chats, gone with it; the appeals
    and everything else stay. Returns how many rows went."""
    from sqlalchemy import delete

    from storage.db import Database
    from storage.models import MessageLink, ProcessedUpdate

    db = Database(database_url)
    try:
        await db.upgrade()
        async with db.transaction() as s:
            gone = 0
            for model in (ProcessedUpdate, MessageLink):
                gone += (await s.execute(delete(model))).rowcount or 0
        return gone
    finally:
        await db.dispose()


async def run_sandbox(config: OtklikConfig, *, host: str, port: int, database_url: str) -> None:
    if await forget_the_last_run(database_url):
        log.info("sandbox: the last run's chats are gone with its stand-ins; its appeals stay in the database")
    standin = TelegramStandin()
    base_url = await standin.start(host, port)
    layout = prepare_world(standin, config)
    vk = VkStandin(group_id=config.vk.group_id) if config.vk is not None else VkStandin()
    await vk.start(host, 0)
    if config.vk is None:
        # the sandbox always has a VK side: the stand-in's community
        config = config.model_copy(update={"vk": VkSettings(group_id=vk.group_id)})
    panes = cast(list[dict[str, object]], layout["panes"])
    vk_panes = prepare_vk_world(vk, config)
    # the VK citizen beside the Telegram one; VK staff chats, if any, at the end
    standin.set_sandbox_layout({"panes": [panes[0], vk_panes[0], *panes[1:], *vk_panes[1:]]})
    standin.link("vk", vk)
    app = OtklikApp(config, token=standin.token, api_url=base_url, database_url=database_url, polling_timeout=5,
                    vk_token=vk.token, vk_api_url=vk.base_url)
    await app.start()
    print(f"Otklik sandbox: open {base_url}/ in a browser (Ctrl+C to stop)", flush=True)
    try:
        await app.wait()
    finally:
        await app.stop()
        await standin.stop()
        await vk.stop()
