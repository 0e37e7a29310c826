"""`otklik sandbox`: the real bot against the local Bot API stand-in, with a web page to play the
citizen, an official and the centre's operators."""
from __future__ import annotations

import logging

from bot.app import OtklikApp
from bot.config import OtklikConfig
from bot.standin.telegram import TelegramStandin

log = logging.getLogger(__name__)

CITIZEN = {"id": 1001, "first_name": "Мария"}
OFFICIAL = {"id": 2001, "first_name": "Иван Петрович"}
OPERATOR = {"id": 3001, "first_name": "Оператор ЦУР"}
SANDBOX_DATABASE_URL = "sqlite+aiosqlite:///data/sandbox.sqlite3"


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
    for title, ref in (("ЦУР: операторы (триаж)", config.triage), ("Кураторы", config.supervisors)):
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


async def run_sandbox(config: OtklikConfig, *, host: str, port: int, database_url: str) -> None:
    standin = TelegramStandin()
    base_url = await standin.start(host, port)
    prepare_world(standin, config)
    app = OtklikApp(config, token=standin.token, api_url=base_url, database_url=database_url, polling_timeout=5)
    await app.start()
    print(f"Otklik sandbox: open {base_url}/ in a browser (Ctrl+C to stop)", flush=True)
    try:
        await app.wait()
    finally:
        await app.stop()
        await standin.stop()
