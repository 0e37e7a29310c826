"""Shared fixtures: the databases every test runs on, and an end-to-end stand that runs the real
bot (aiogram polling, outbox, SQLite/PostgreSQL) against the local Bot API stand-in."""
from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import create_async_engine

from bot.app import OtklikApp
from bot.config import OtklikConfig, VkSettings, load_config
from bot.standin.telegram import TelegramStandin
from bot.standin.vk import VkStandin
from storage.db import Database
from storage.models import Appeal

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_CONFIG = ROOT / "config.yaml"
PG_URL = os.environ.get("OTKLIK_TEST_DATABASE_URL")

BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


async def _reset_postgres(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


@pytest.fixture(scope="session", autouse=True)
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The seed model trains into a temporary cache: tests never need (or touch) a writable home."""
    folder = tmp_path_factory.mktemp("otklik-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OTKLIK_CACHE_DIR", str(folder))
        yield folder


@pytest.fixture(params=BACKENDS)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'otklik.sqlite3'}"
    else:
        assert PG_URL is not None
        await _reset_postgres(PG_URL)
        yield PG_URL


@pytest.fixture
def config() -> OtklikConfig:
    return load_config(SHIPPED_CONFIG)


CITIZEN = 1001
CITIZEN2 = 1002
OFFICIAL = 2001
OPERATOR = 3001
STRANGER = 4001
VK_CITIZEN = 5001  # bot.sandbox.VK_CITIZEN
VK_CITIZEN2 = 5002
VK_OFFICIAL = 6001  # bot.sandbox.VK_OFFICIAL
VK_ACCOUNT = "adm_uglichsky"  # in the VK stand's config this account's chat is on VK only
VK_ACCOUNT_PEER = 2000000001


class Stand:
    """The bot, the stand-in and the people in its chats."""

    def __init__(
        self, standin: TelegramStandin, config: OtklikConfig, database_url: str, vk: VkStandin | None = None
    ) -> None:
        self.tg = standin
        self.vk = vk
        self.config = config
        self.database_url = database_url
        self.app: OtklikApp | None = None

    def chat(self, account_code: str) -> int:
        chat = self.config.account(account_code).telegram_chat
        assert chat is not None
        return chat

    @property
    def triage(self) -> int:
        assert self.config.triage.telegram_chat is not None
        return self.config.triage.telegram_chat

    async def start(self) -> OtklikApp:
        self.app = OtklikApp(
            self.config, token=self.tg.token, api_url=self.tg.base_url, database_url=self.database_url,
            polling_timeout=1,
            vk_token=self.vk.token if self.vk else None, vk_api_url=self.vk.base_url if self.vk else None,
            vk_request_timeout=2.0,
        )
        await self.app.start()
        return self.app

    async def stop(self) -> None:
        if self.app is not None:
            await self.app.stop()
            self.app = None

    async def appeals(self) -> list[Appeal]:
        db = Database(self.database_url)
        try:
            async with db.transaction() as s:
                return list((await s.execute(select(Appeal).order_by(Appeal.id))).scalars())
        finally:
            await db.dispose()

    async def query(self, sql: str, **params: Any) -> list[Any]:
        db = Database(self.database_url)
        try:
            async with db.transaction() as s:
                return list((await s.execute(text(sql), params)).all())
        finally:
            await db.dispose()

    async def idle(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until the stand-in has no unconfirmed updates and the outbox has nothing pending."""
        assert self.app is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if self._platforms_idle() and await self.app.outbox.pending_count() == 0:
                await asyncio.sleep(0.05)
                if self._platforms_idle() and await self.app.outbox.pending_count() == 0:
                    return
            await asyncio.sleep(0.02)
        raise TimeoutError("the bot did not settle")

    def _platforms_idle(self) -> bool:
        return self.tg.pending_updates() == 0 and (self.vk is None or self.vk.pending_events() == 0)

    async def wait(self, chat_id: int, contains: str | None = None, *, count: int = 1) -> dict:
        """The bot's message, once delivered and recorded (so a reply or a press can follow)."""
        message = await self.tg.wait_bot_message(chat_id, contains, count=count, timeout=15)
        await self.idle()
        return message

    def stranger_replies(self, chat_id: int, reply_to: int, text: str, user: int) -> None:
        """A reply from someone Telegram reports as not in the chat (left between posting and our
        check) — built by hand, since the stand-in makes anyone who posts a member."""
        chat = {"id": chat_id, "type": "supergroup", "title": "чат"}
        self.tg.push_update({
            "update_id": 900000000 + reply_to,
            "message": {
                "message_id": 900000 + reply_to, "date": 1_790_000_000, "chat": chat,
                "from": {"id": user, "is_bot": False, "first_name": "Посторонний"}, "text": text,
                "reply_to_message": {"message_id": reply_to, "date": 1_790_000_000, "chat": chat},
            },
        })

    # people act
    def citizen_says(self, text: str | None = None, *, user: int = CITIZEN, **kwargs: Any) -> dict:
        return self.tg.user_sends(user, user, text, **kwargs)

    def official_replies(self, chat_id: int, reply_to: int, text: str, *, user: int = OFFICIAL, **kw: Any) -> dict:
        return self.tg.user_sends(chat_id, user, text, reply_to=reply_to, **kw)

    async def refuse(self, account_code: str, number: int, reason: str) -> dict:
        """The account's official presses «Не наша компетенция» on appeal `number`'s card and gives the
        reason; returns the triage card it brings."""
        chat = self.chat(account_code)
        card = await self.wait(chat, f"№{number}")
        self.press(chat, card, "reject:", user=OFFICIAL)
        prompt = await self.wait(chat, "укажите, пожалуйста, причину")
        self.official_replies(chat, prompt["message_id"], reason)
        return await self.wait(self.triage, f"№{number}")

    def press(self, chat_id: int, message: dict, action_prefix: str, *, user: int) -> str:
        """Press the first button of `message` whose callback data starts with the prefix."""
        for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
            for button in row:
                if button.get("callback_data", "").startswith(action_prefix):
                    return self.tg.user_presses(chat_id, message["message_id"], user, button["callback_data"])
        raise AssertionError(f"no button {action_prefix!r} on message {message.get('text')!r}")

    def current(self, chat_id: int, message_id: int) -> dict:
        return next(m for m in self.tg.chat_log(chat_id) if m["message_id"] == message_id)

    # the VK side (a stand made by the vk_stand fixture)
    @property
    def vk_side(self) -> VkStandin:
        assert self.vk is not None, "this test needs the vk_stand fixture"
        return self.vk

    def vk_citizen_says(self, text: str = "", *, user: int = VK_CITIZEN, **kwargs: Any) -> dict:
        return self.vk_side.user_sends(user, user, text, **kwargs)

    async def vk_wait(self, peer_id: int, contains: str | None = None, *, count: int = 1) -> dict:
        """The community's message in a VK conversation, once delivered and recorded."""
        message = await self.vk_side.wait_bot_message(peer_id, contains, count=count)
        await self.idle()
        return message

    def vk_press(self, peer_id: int, message: dict, action_prefix: str, *, user: int) -> str:
        """Press the first callback button of a VK message whose action starts with the prefix."""
        for row in (message.get("keyboard") or {}).get("buttons", []):
            for button in row:
                payload = button["action"].get("payload") or ""
                if json.loads(payload or "{}").get("a", "").startswith(action_prefix):
                    return self.vk_side.user_presses(peer_id, message["conversation_message_id"], user, payload)
        raise AssertionError(f"no button {action_prefix!r} on VK message {message.get('text')!r}")


def body(message: dict) -> str:
    return message.get("text") or message.get("caption") or ""


def appeal_number(message: dict) -> int:
    found = re.search(r"№(\d+)", body(message))
    assert found, body(message)
    return int(found.group(1))


@pytest.fixture
async def stand(config: OtklikConfig, database_url: str) -> AsyncIterator[Stand]:
    async with stand_for(config, database_url) as running:
        yield running


@contextlib.asynccontextmanager
async def stand_for(config: OtklikConfig, database_url: str) -> AsyncIterator[Stand]:
    """The bot with this config against a fresh Bot API stand-in, officials and operators in their chats."""
    from bot.sandbox import prepare_world

    standin = TelegramStandin()
    await standin.start()
    prepare_world(standin, config)
    for user, name in ((CITIZEN2, "Пётр"), (STRANGER, "Посторонний")):
        standin.add_user(user, name)
    for account in config.accounts:
        if account.telegram_chat is not None:
            standin.set_member(account.telegram_chat, OFFICIAL)
    assert config.triage.telegram_chat is not None
    standin.set_member(config.triage.telegram_chat, OPERATOR)
    stand = Stand(standin, config, database_url)
    await stand.start()
    try:
        yield stand
    finally:
        await stand.stop()
        await standin.stop()


def vk_config(config: OtklikConfig, group_id: int) -> OtklikConfig:
    """The shipped config with a VK community, and one account (VK_ACCOUNT) answering in a VK chat."""
    accounts = [
        a.model_copy(update={"telegram_chat": None, "vk_peer": VK_ACCOUNT_PEER}) if a.code == VK_ACCOUNT else a
        for a in config.accounts
    ]
    return config.model_copy(update={"vk": VkSettings(group_id=group_id), "accounts": accounts})


def buttons(message: dict) -> list[str]:
    """The labels of a Telegram message's inline buttons, row by row."""
    return [b["text"] for row in (message.get("reply_markup") or {}).get("inline_keyboard", []) for b in row]


def vk_buttons(message: dict) -> list[str]:
    return [b["action"]["label"] for row in (message.get("keyboard") or {}).get("buttons", []) for b in row]


@pytest.fixture
async def vk_stand(config: OtklikConfig, database_url: str) -> AsyncIterator[Stand]:
    """The stand with a VK community beside Telegram: citizens on both, an account chat on VK."""
    from bot.sandbox import prepare_vk_world, prepare_world

    vk = VkStandin()
    await vk.start()
    config = vk_config(config, vk.group_id)
    standin = TelegramStandin()
    await standin.start()
    prepare_world(standin, config)
    prepare_vk_world(vk, config)
    vk.add_user(VK_CITIZEN2, "Борис")
    for account in config.accounts:
        if account.telegram_chat is not None:
            standin.set_member(account.telegram_chat, OFFICIAL)
    assert config.triage.telegram_chat is not None
    standin.set_member(config.triage.telegram_chat, OPERATOR)
    stand = Stand(standin, config, database_url, vk)
    await stand.start()
    try:
        yield stand
    finally:
        await stand.stop()
        await standin.stop()
        await vk.stop()
