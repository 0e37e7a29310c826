"""Crash safety: the real bot runs as a separate process (`python -m bot run`) against the Bot
API stand-in served from this test, citizens keep writing, and the process is killed with
SIGKILL at random moments, then started again. Afterwards: every update the stand-in saw
confirmed had produced an appeal by the time of the kill, every appeal has its acknowledgement
and its card, nothing is left unsent, and no chat got a message twice except at most one per
chat per kill (the one in flight when the process died)."""
from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.config import OtklikConfig
from bot.sandbox import prepare_world
from bot.standin.telegram import TelegramStandin
from storage.db import Database
from tests.conftest import ROOT, SHIPPED_CONFIG, body
from tests.e2e.support import card_numbers

KILLS = 5
CITIZENS = [300_000 + i for i in range(150)]
TOWNS = ["Рыбинске", "Угличе", "Тутаеве", "Переславле", "Ростове", "Данилове"]


def write_config(folder: Path) -> Path:
    """The shipped config with the outbox's rate limits off (the test is about crashes, not
    pacing) and the keyword classifier (no model to train on a first start)."""
    data: dict[str, Any] = yaml.safe_load(SHIPPED_CONFIG.read_text(encoding="utf-8"))
    data["delivery"] = {**(data.get("delivery") or {}), "rate_limits": False}
    data["classifier"] = {"kind": "keywords"}
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


class BotProcess:
    def __init__(self, config_path: Path, standin: TelegramStandin, database_url: str, log_path: Path) -> None:
        self.config_path = config_path
        self.standin = standin
        self.database_url = database_url
        self.log_path = log_path
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OTKLIK_")}
        env.update({
            "OTKLIK_TELEGRAM_TOKEN": self.standin.token,
            "OTKLIK_TELEGRAM_API_URL": self.standin.base_url,
            "OTKLIK_DATABASE_URL": self.database_url,
            "OTKLIK_LOG_LEVEL": "WARNING",
        })
        polls = sum(1 for name, _ in self.standin.calls if name == "getUpdates")
        with self.log_path.open("ab") as log:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "run", "--config", str(self.config_path),
                cwd=ROOT, env=env, stdout=log, stderr=log,
            )
        # running once it asks for updates
        await self.standin.wait_for(
            lambda: sum(1 for name, _ in self.standin.calls if name == "getUpdates") > polls
            or (self.proc is not None and self.proc.returncode is not None),
            timeout=60,
        )
        assert self.proc.returncode is None, self.log_path.read_text(errors="replace")[-3000:]

    async def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(self.proc.wait(), timeout=20)
            except TimeoutError:
                await self.kill()


@pytest.fixture
async def standin(config: OtklikConfig) -> AsyncIterator[TelegramStandin]:
    tg = TelegramStandin()
    await tg.start()
    prepare_world(tg, config)
    try:
        yield tg
    finally:
        await tg.stop()


async def query(database_url: str, sql: str) -> list[Any]:
    from sqlalchemy import text

    db = Database(database_url)
    try:
        async with db.transaction() as s:
            return list((await s.execute(text(sql))).all())
    finally:
        await db.dispose()


def confirmed_messages(tg: TelegramStandin, below: int) -> set[tuple[int, int]]:
    """(chat, message id) of the citizens' messages in updates confirmed by an offset."""
    found = set()
    for update in tg.update_log():
        message = update.get("message")
        if update["update_id"] < below and message and message["chat"]["type"] == "private":
            found.add((message["chat"]["id"], message["message_id"]))
    return found


async def stored_messages(database_url: str) -> set[tuple[int, int]]:
    rows = await query(
        database_url,
        "select c.platform_user_id, a.source_message_id from appeals a join citizens c on c.id = a.citizen_id",
    )
    return {(int(user), int(message)) for user, message in rows}


async def test_kill_minus_nine_at_random_moments_loses_nothing(
    standin: TelegramStandin, database_url: str, tmp_path: Path
) -> None:
    rng = random.Random(20261122)
    bot = BotProcess(write_config(tmp_path), standin, database_url, tmp_path / "bot.log")

    async def citizens_write() -> None:
        for i, citizen in enumerate(CITIZENS):
            standin.user_sends(citizen, citizen, f"В {TOWNS[i % len(TOWNS)]} яма на дороге, улица Ленина, дом {i}")
            await asyncio.sleep(rng.uniform(0.005, 0.06))

    claimed_at_kill: list[int] = []
    claimed_ids: set[int] = set()  # outbox rows claimed (in flight or queued) when a process died
    writer = asyncio.create_task(citizens_write())
    try:
        for _ in range(KILLS):
            await bot.start()
            await asyncio.sleep(rng.uniform(0.2, 1.5))
            await bot.kill()
            # what the stand-in had confirmed when the process died must be in the database
            confirmed = standin._confirmed
            missing = confirmed_messages(standin, confirmed) - await stored_messages(database_url)
            assert missing == set(), f"confirmed but not stored: {sorted(missing)[:5]}"
            sending = await query(database_url, "select id from outbox where status = 'sending'")
            claimed_at_kill.append(len(sending))
            claimed_ids.update(int(row[0]) for row in sending)
        await writer
        await bot.start()
        await standin.wait_for(lambda: all(any("принято" in body(m) for m in standin.bot_messages(c))
                                           for c in CITIZENS), timeout=90)
        for _ in range(300):
            if standin.pending_updates() == 0 and (await query(
                    database_url, "select count(*) from outbox where status <> 'sent'"))[0][0] == 0:
                break
            await asyncio.sleep(0.2)
    finally:
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await writer
        await bot.stop()

    assert await query(database_url, "select id, purpose, status, error from outbox where status <> 'sent'") == []
    appeals = await query(database_url, "select a.id, c.platform_user_id from appeals a join citizens c "
                                        "on c.id = a.citizen_id")
    assert sorted(int(user) for _, user in appeals) == CITIZENS  # one appeal per citizen, none lost

    duplicates: Counter[int] = Counter()
    acks: Counter[int] = Counter()
    for citizen in CITIZENS:
        messages = stand_bodies(standin, citizen)
        acks[citizen] = sum(1 for b in messages if "принято" in b)
        duplicates[citizen] = len(messages) - len(set(messages))
    cards: Counter[int] = Counter()
    for chat in (c for c in standin.chats() if c < 0):
        messages = stand_bodies(standin, chat)
        duplicates[chat] = len(messages) - len(set(messages))
        cards += card_numbers(standin.bot_messages(chat))
    assert set(cards) == {int(a) for a, _ in appeals}  # every appeal has its card
    assert all(n >= 1 for n in acks.values())
    # a repeat only where a message was in flight at a kill: at most one per chat per kill, and
    # only of an outbox row that was claimed, not yet recorded as sent, when a process died
    assert max(duplicates.values()) <= KILLS, duplicates.most_common(3)
    row_of: dict[tuple[int, int], int] = {}
    for row_id, chat_id, sent in await query(database_url, "select id, chat_id, sent_message_ids from outbox"):
        for message_id in json.loads(sent) if isinstance(sent, str) else (sent or []):
            row_of[(int(chat_id), int(message_id))] = int(row_id)
    for chat in (c for c, n in duplicates.items() if n):
        seen: dict[str, list[int]] = {}
        for m in standin.bot_messages(chat):
            seen.setdefault(body(m) + ("[photo]" if m.get("photo") else ""), []).append(m["message_id"])
        for copies in (ids for ids in seen.values() if len(ids) > 1):
            rows = {row_of.get((chat, message_id)) for message_id in copies} - {None}
            assert rows and rows <= claimed_ids, f"chat {chat}: a message sent twice was not in flight at a kill"
    repeats = sum(duplicates.values())
    print(f"\ncrash safety: {KILLS} kills, {len(appeals)} appeals, outbox rows claimed at the kills "
          f"{claimed_at_kill}, repeated messages {repeats} in {sum(1 for n in duplicates.values() if n)} chats "
          f"(acks {sum(n - 1 for n in acks.values())}, cards {sum(n - 1 for n in cards.values())})")


def stand_bodies(tg: TelegramStandin, chat: int) -> list[str]:
    return [body(m) + ("[photo]" if m.get("photo") else "") for m in tg.bot_messages(chat)]


async def test_sigterm_stops_the_bot_in_order(standin: TelegramStandin, database_url: str, tmp_path: Path) -> None:
    """systemd and Docker stop a service with SIGTERM: the bot stops as on Ctrl+C (exit 0, nothing
    left claimed), not as a killed process, and the next start goes on where it stopped."""
    bot = BotProcess(write_config(tmp_path), standin, database_url, tmp_path / "bot.log")
    citizen = CITIZENS[0]
    await bot.start()
    try:
        standin.user_sends(citizen, citizen, "В Рыбинске яма на дороге, улица Ленина, дом 7")
        await standin.wait_for(lambda: any("принято" in body(m) for m in standin.bot_messages(citizen)), timeout=30)
        assert bot.proc is not None
        bot.proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(bot.proc.wait(), timeout=20)
    finally:
        await bot.stop()
    assert code == 0, (tmp_path / "bot.log").read_text(errors="replace")[-3000:]
    assert await query(database_url, "select id from outbox where status = 'sending'") == []
    # started again, it answers the next message
    await bot.start()
    try:
        standin.user_sends(citizen, citizen, "/my")
        await standin.wait_for(lambda: any("№1" in body(m) for m in standin.bot_messages(citizen)[1:]), timeout=30)
    finally:
        await bot.stop()
