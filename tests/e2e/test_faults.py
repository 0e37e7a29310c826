"""Fault injection: the Bot API stand-in answers a share of calls with 429 (retry_after), 500 or
not at all (a timeout), and the database goes away for a while. Every acknowledgement and card
must arrive exactly once, nothing may be lost, and a 429's retry_after must be waited out."""
from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from bot.config import OtklikConfig
from storage import repository
from tests.conftest import CITIZEN, Stand, appeal_number, body
from tests.e2e.support import ErrorNet, card_numbers, quick_config

APPEALS = 300
FOLLOWUPS = 50
RETRY_AFTER = 2
# appeals that route straight to an account, one per town so the cards spread over many chats
TOWNS = ["Рыбинске", "Угличе", "Тутаеве", "Переславле", "Ростове", "Данилове", "Любиме", "Пошехонье"]
SEND_METHODS = {"sendMessage", "sendPhoto", "sendLocation", "editMessageText", "editMessageReplyMarkup"}


@pytest.fixture
def config(config: OtklikConfig) -> OtklikConfig:
    return quick_config(config, flood=0)


class TimedCalls(list[tuple[str, dict[str, Any]]]):
    """The stand-in's call log, with the moment of each call."""

    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []

    def append(self, item: tuple[str, dict[str, Any]]) -> None:
        self.times.append(time.monotonic())
        super().append(item)


class MarkedFaults(list[tuple[str, str]]):
    """The stand-in's fault log, each fault tied to the call it answered (the last one logged:
    the stand-in draws a fault right after logging the call, with nothing in between)."""

    def __init__(self, calls: TimedCalls) -> None:
        super().__init__()
        self.calls = calls
        self.call_index: list[int] = []

    def append(self, item: tuple[str, str]) -> None:
        self.call_index.append(len(self.calls) - 1)
        super().append(item)


def instrument(stand: Stand) -> tuple[TimedCalls, MarkedFaults]:
    calls = TimedCalls()
    faults = MarkedFaults(calls)
    stand.tg.calls = calls
    stand.tg.faults = faults
    return calls, faults


def same_send(a: dict[str, Any], b: dict[str, Any]) -> bool:
    keys = ("chat_id", "text", "photo", "latitude", "message_id", "caption")
    return all(a.get(k) == b.get(k) for k in keys)


def check_retry_after(calls: TimedCalls, faults: MarkedFaults) -> int:
    """Every call refused with 429 is tried again no sooner than retry_after; returns how many were."""
    checked = 0
    for (method, kind), index in zip(faults, faults.call_index, strict=True):
        if kind != "429" or method not in SEND_METHODS:
            continue
        refused_at, params = calls.times[index], calls[index][1]
        retry = next((i for i in range(index + 1, len(calls)) if calls[i][0] == method and same_send(calls[i][1], params)),
                     None)
        assert retry is not None, f"a {method} refused with 429 was never tried again"
        waited = calls.times[retry] - refused_at
        assert waited >= RETRY_AFTER - 0.05, f"{method} retried after {waited:.2f}s, retry_after was {RETRY_AFTER}"
        checked += 1
    return checked


async def settle(stand: Stand, within: float) -> None:
    assert stand.app is not None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        if stand.tg.pending_updates() == 0 and await stand.app.outbox.pending_count() == 0:
            await asyncio.sleep(0.3)
            if stand.tg.pending_updates() == 0 and await stand.app.outbox.pending_count() == 0:
                return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"not settled in {within}s: {await stand.app.outbox.pending_count()} pending")


async def test_hundreds_of_appeals_through_flaky_sends_arrive_exactly_once(stand: Stand) -> None:
    assert stand.app is not None
    stand.app.bot.session.timeout = 2  # a hung call fails in 2 s, not aiogram's default minute
    calls, faults = instrument(stand)
    stand.tg.inject_faults(0.2, kinds=("429", "500", "timeout"), methods=SEND_METHODS, seed=7,
                           retry_after=RETRY_AFTER, hang_seconds=4)
    citizens = [CITIZEN + 10_000 + i for i in range(APPEALS)]
    with ErrorNet() as errors:
        for i, citizen in enumerate(citizens):
            town = TOWNS[i % len(TOWNS)]
            stand.tg.user_sends(citizen, citizen, f"В {town} яма на дороге на улице Ленина, дом {i}")
            if i % 10 == 9:
                await asyncio.sleep(0.05)  # arrivals over a few seconds, as a burst would come
        acks = [await stand.tg.wait_bot_message(c, "принято", timeout=60) for c in citizens[:FOLLOWUPS]]
        for citizen in citizens[:FOLLOWUPS]:
            stand.tg.user_sends(citizen, citizen, "Добавляю: яма стала ещё больше", photo=True)
        await settle(stand, 120)
    assert errors.records == [], errors.report()

    kinds = Counter(kind for _, kind in faults)
    assert all(kinds[k] >= 5 for k in ("429", "500", "timeout")), kinds
    appeals = await stand.appeals()
    assert len(appeals) == APPEALS
    numbers = {a.id for a in appeals}
    for citizen in citizens:
        mine = stand.tg.bot_messages(citizen)
        assert len([m for m in mine if "принято" in body(m)]) == 1, citizen
        texts_seen = Counter(body(m) for m in mine)
        assert max(texts_seen.values()) == 1, f"a message to {citizen} arrived twice"
    for citizen in citizens[:FOLLOWUPS]:
        assert len([m for m in stand.tg.bot_messages(citizen) if "Добавили" in body(m)]) == 1
    cards: Counter[int] = Counter()
    group_chats = {a.account_code for a in appeals}
    for code in group_chats:
        chat = stand.chat(code) if code else stand.triage
        messages = stand.tg.bot_messages(chat)
        cards += card_numbers(messages)
        repeated = [t for t, n in Counter((body(m), bool(m.get("photo"))) for m in messages).items() if n > 1]
        # forwarded photos carry the same caption; anything else twice is a duplicate
        assert all(photo for (_, photo) in repeated), f"duplicates in chat {chat}: {repeated[:3]}"
    assert set(cards) == numbers and set(cards.values()) == {1}, cards
    forwards = sum(1 for code in group_chats for m in stand.tg.bot_messages(stand.chat(code) if code else stand.triage)
                   if "Дополнение к обращению" in body(m))
    assert forwards == FOLLOWUPS
    assert await stand.query("select id, purpose, error from outbox where status <> 'sent'") == []
    waited_out = check_retry_after(calls, faults)
    assert waited_out >= 5
    assert acks and all(appeal_number(a) in numbers for a in acks)
    print(f"\nfaults: {dict(kinds)} over {len(calls)} calls; {len(appeals)} appeals, {FOLLOWUPS} follow-ups; "
          f"{waited_out} sends refused with 429 were retried no sooner than retry_after; no duplicates")


async def test_polling_survives_failing_get_updates_and_waits_out_retry_after(stand: Stand) -> None:
    assert stand.app is not None
    stand.app.bot.session.timeout = 3
    calls, faults = instrument(stand)
    # 429 twice as likely as the others: the point is its retry_after
    stand.tg.inject_faults(0.3, kinds=("429", "429", "500", "timeout"), methods={"getUpdates"}, seed=3,
                           retry_after=RETRY_AFTER, hang_seconds=5)
    citizens = [CITIZEN + 20_000 + i for i in range(20)]
    for citizen in citizens:
        stand.tg.user_sends(citizen, citizen, f"В Рыбинске яма на дороге, улица Ленина, дом {citizen}")
        await asyncio.sleep(0.2)
    for citizen in citizens:
        await stand.tg.wait_bot_message(citizen, "принято", timeout=60)
    stand.tg.inject_faults(0.0)
    await settle(stand, 30)
    assert len(await stand.appeals()) == len(citizens)
    refused = [i for (method, kind), i in zip(faults, faults.call_index, strict=True)
               if method == "getUpdates" and kind == "429"]
    assert refused, "no 429 drawn; change the seed"
    for index in refused:
        following = next(i for i in range(index + 1, len(calls)) if calls[i][0] == "getUpdates")
        assert calls.times[following] - calls.times[index] >= RETRY_AFTER - 0.05


async def test_a_database_outage_confirms_nothing_that_is_not_stored(
    stand: Stand, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the database refuses writes, updates must stay unconfirmed at Telegram and be
    handled once it is back — not skipped as if they were broken."""
    down = True
    real = repository.mark_processed

    async def flaky(*args: Any, **kwargs: Any) -> bool:
        if down:
            raise OperationalError("INSERT INTO processed_updates ...", {}, Exception("server closed the connection"))
        return await real(*args, **kwargs)

    monkeypatch.setattr(repository, "mark_processed", flaky)
    citizens = [CITIZEN + 30_000 + i for i in range(5)]
    for citizen in citizens:
        stand.tg.user_sends(citizen, citizen, f"В Угличе не горят фонари на улице Ярославской, дом {citizen}")
    await asyncio.sleep(2.5)
    assert await stand.appeals() == []
    assert stand.tg.pending_updates() == len(citizens)  # nothing confirmed
    down = False
    for citizen in citizens:
        await stand.tg.wait_bot_message(citizen, "принято", timeout=30)
    await settle(stand, 30)
    assert len(await stand.appeals()) == len(citizens)
