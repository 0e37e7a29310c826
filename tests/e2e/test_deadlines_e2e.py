"""Deadlines end to end: the real bot (aiogram polling, outbox, scheduler, SQLite/PostgreSQL) against the
Bot API stand-in, with seconds-level SLAs on a 24/7 calendar and a hand-moved clock. Most tests drive
the sweep directly (the periodic job is set to an hour); one lets APScheduler run it every 0.2 s."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.app import OtklikApp
from bot.config import ChatRef, OtklikConfig, load_config
from bot.standin.telegram import TelegramStandin
from routing.calendar import CalendarConfig
from routing.clock import ManualClock
from routing.lifecycle import Status
from routing.sla import SlaConfig
from tests.conftest import CITIZEN, OFFICIAL, OPERATOR, SHIPPED_CONFIG, Stand, appeal_number, body

POTHOLE = "В Рыбинске на улице Крестовой огромная яма на дороге, машины бьют колёса"
HIGHER = -1001000000003


def fast_config(sweep_interval: float = 3600) -> OtklikConfig:
    """First answer in 10 s, final answer 60 s after an intermediate one; remind at 50%, escalate at 100% and 200%."""
    sla = SlaConfig.model_validate({
        "default": {"first_answer": "10s", "resolution": "60s"},
        "urgent": {"first_answer": "5s", "resolution": "30s"},
        "reminders": [0.5],
        "escalation": [
            {"at": 1.0, "notify": ["account", "supervisors"]},
            {"at": 2.0, "notify": ["higher"]},
        ],
        "sweep_interval_seconds": sweep_interval,
    })
    return load_config(SHIPPED_CONFIG).model_copy(update={
        "calendar": CalendarConfig(mode="24/7"),
        "sla": sla,
        "escalation_chats": {"higher": ChatRef(telegram_chat=HIGHER)},
    })


class ClockStand(Stand):
    """The stand with a hand-moved clock shared by every start of the bot."""

    def __init__(self, standin: TelegramStandin, config: OtklikConfig, database_url: str) -> None:
        super().__init__(standin, config, database_url)
        self.clock = ManualClock(datetime.now(UTC).replace(microsecond=0))

    async def start(self) -> OtklikApp:
        self.app = OtklikApp(
            self.config, token=self.tg.token, api_url=self.tg.base_url, database_url=self.database_url,
            polling_timeout=1, clock=self.clock,
        )
        await self.app.start()
        return self.app

    @property
    def supervisors(self) -> int:
        assert self.config.supervisors.telegram_chat is not None
        return self.config.supervisors.telegram_chat

    async def at(self, seconds: float, since: datetime) -> None:
        """Move the clock to `seconds` after `since` and run one sweep, then let the outbox deliver."""
        assert self.app is not None
        self.clock.set(since + timedelta(seconds=seconds))
        await self.app.desk.deadlines.sweep()
        await self.idle()

    def said(self, chat_id: int, contains: str) -> list[dict]:
        return [m for m in self.tg.bot_messages(chat_id) if contains in body(m)]


async def _stand(config: OtklikConfig, database_url: str) -> AsyncIterator[ClockStand]:
    from bot.sandbox import prepare_world

    standin = TelegramStandin()
    await standin.start()
    prepare_world(standin, config)
    standin.add_chat(HIGHER, type="supergroup", title="Вице-губернатор")
    standin.set_member(HIGHER, OPERATOR)
    for account in config.accounts:
        if account.telegram_chat is not None:
            standin.set_member(account.telegram_chat, OFFICIAL)
    stand = ClockStand(standin, config, database_url)
    await stand.start()
    try:
        yield stand
    finally:
        await stand.stop()
        await standin.stop()


@pytest.fixture
async def fast(database_url: str) -> AsyncIterator[ClockStand]:
    async for stand in _stand(fast_config(), database_url):
        yield stand


async def _appeal(stand: ClockStand) -> tuple[int, dict, datetime]:
    """A pothole in Rybinsk, registered at the clock's now; returns its number, its card and that moment."""
    received = stand.clock.now()
    stand.citizen_says(POTHOLE)
    ack = await stand.wait(CITIZEN, "принято")
    number = appeal_number(ack)
    card = await stand.wait(stand.chat("adm_rybinsk"), f"№{number}")
    return number, card, received


async def test_reminder_overdue_and_escalation_each_once(fast: ClockStand) -> None:
    number, card, t0 = await _appeal(fast)
    ack = fast.said(CITIZEN, "принято")[0]
    assert "Ответ придёт сюда до" in body(ack) and "сегодня" in body(ack)
    chat = fast.chat("adm_rybinsk")

    await fast.at(4, t0)
    assert fast.said(chat, "Напоминание") == []

    await fast.at(5, t0)
    [reminder] = fast.said(chat, "Напоминание")
    assert f"№{number}" in body(reminder) and "прошло 50% срока первого ответа" in body(reminder)
    assert reminder["reply_to_message_id"] == card["message_id"]
    assert fast.tg.bot_messages(fast.supervisors) == []

    await fast.at(11, t0)
    [overdue] = fast.said(chat, "просрочено")
    assert "истёк только что" in body(overdue) and "Кураторы центра уведомлены" in body(overdue)
    fast.tg.user_sends(chat, OFFICIAL, "/open")  # the account's list marks it (QA: it read as time still left)
    listed = await fast.wait(chat, "Открытые обращения")
    assert f"№{number} · 🔴" in body(listed) and "— срок истёк" in body(listed)
    [alert] = fast.tg.bot_messages(fast.supervisors)
    assert f"Просрочено: №{number}" in body(alert)
    assert "Администрация городского округа город Рыбинск" in body(alert) and "просрочка 1 с" in body(alert)
    [told] = fast.said(CITIZEN, "истёк")
    assert f"Срок ответа по обращению №{number} истёк" in body(told)
    assert fast.tg.bot_messages(HIGHER) == []

    await fast.at(20, t0)
    [higher] = fast.tg.bot_messages(HIGHER)
    assert f"Эскалация: №{number}" in body(higher) and "прошло 200%" in body(higher) and "просрочка 10 с" in body(higher)
    assert len(fast.said(CITIZEN, "всё ещё без ответа")) == 1
    assert len(fast.tg.bot_messages(fast.supervisors)) == 1  # the 200% step names only the higher chat

    # nothing is left on the ladder: later sweeps say nothing to anyone
    counts = {c: len(fast.tg.bot_messages(c)) for c in (chat, fast.supervisors, HIGHER, CITIZEN)}
    await fast.at(100, t0)
    await fast.at(1000, t0)
    assert {c: len(fast.tg.bot_messages(c)) for c in counts} == counts
    events = await fast.query(
        "select detail from appeal_events where appeal_id = :a and action = 'sla_alert' order by id", a=number
    )
    assert len(events) == 3


async def test_no_alert_after_the_answer(fast: ClockStand) -> None:
    number, card, t0 = await _appeal(fast)
    chat = fast.chat("adm_rybinsk")
    fast.clock.set(t0 + timedelta(seconds=3))
    fast.official_replies(chat, card["message_id"], "Яму заделаем завтра.")
    await fast.wait(CITIZEN, "Ответ по обращению")
    for moment in (5, 11, 25, 500):
        await fast.at(moment, t0)
    assert fast.said(chat, "Напоминание") == [] and fast.said(chat, "просрочено") == []
    assert fast.tg.bot_messages(fast.supervisors) == [] and fast.tg.bot_messages(HIGHER) == []
    assert fast.said(CITIZEN, "истёк") == []
    [appeal] = await fast.appeals()
    assert appeal.status == Status.ANSWERED and appeal.next_alert_at is None and appeal.sla_term is None


async def test_an_alert_held_back_until_after_the_answer_is_dropped(fast: ClockStand) -> None:
    # QA: with a group's send budget spent, reminders queued before the answer still arrived after it
    number, card, t0 = await _appeal(fast)
    chat = fast.chat("adm_rybinsk")
    fast.tg.inject_faults(1.0, kinds=("500",), methods={"sendMessage"})  # nothing gets through for now
    fast.clock.set(t0 + timedelta(seconds=6))  # past half the term: the reminder is queued
    assert await fast.app.desk.deadlines.sweep() is not None
    await fast.tg.wait_for(lambda: any(name == "sendMessage" for name, _ in fast.tg.faults))

    async def reminder() -> list[Any]:
        return await fast.query("select status, attempts, error from outbox where purpose = 'sla_reminder'")
    for _ in range(200):
        rows = await reminder()
        if rows and rows[0][0] == "pending" and rows[0][1] >= 1:
            break
        await asyncio.sleep(0.02)
    assert rows and rows[0][0] == "pending" and rows[0][1] >= 1  # tried, waiting to be tried again
    fast.official_replies(chat, card["message_id"], "Яму заделаем завтра.")
    for _ in range(200):  # the answer is recorded, and its own send has failed once too
        tried = await fast.query("select attempts from outbox where purpose = 'answer' and status = 'pending'")
        if (await fast.appeals())[0].status == Status.ANSWERED and tried and tried[0][0] >= 1:
            break
        await asyncio.sleep(0.02)
    fast.tg.inject_faults(0)
    fast.clock.set(t0 + timedelta(seconds=8))  # past the retry's moment: the held messages go now
    fast.app.outbox.wake()
    await fast.idle()
    await fast.wait(CITIZEN, "Ответ по обращению")
    assert fast.said(chat, "Напоминание") == []
    [(status, _, error)] = await reminder()
    assert status == "dropped" and "answered or closed before the alert went out" in error
    failed = await fast.query("select count(*) from outbox where status = 'failed'")
    assert failed == [(0,)]  # a dropped alert is not a failed delivery


async def test_exactly_once_across_a_restart(fast: ClockStand) -> None:
    number, _, t0 = await _appeal(fast)
    chat = fast.chat("adm_rybinsk")
    await fast.at(6, t0)
    assert len(fast.said(chat, "Напоминание")) == 1

    await fast.stop()
    fast.clock.set(t0 + timedelta(seconds=8))
    await fast.start()  # its first sweep runs at start
    await fast.at(8, t0)
    await fast.idle()
    assert len(fast.said(chat, "Напоминание")) == 1

    # down again across the deadline: the overdue alert comes once, at start-up
    await fast.stop()
    fast.clock.set(t0 + timedelta(seconds=12))
    await fast.start()
    await fast.tg.wait_for(lambda: fast.tg.bot_messages(fast.supervisors))
    await fast.idle()
    await fast.at(13, t0)
    assert len(fast.said(chat, "просрочено")) == 1
    assert len(fast.tg.bot_messages(fast.supervisors)) == 1
    assert len(fast.said(CITIZEN, "истёк")) == 1
    outbox = await fast.query(
        "select purpose, count(*) from outbox where appeal_id = :a and purpose like 'sla%' group by purpose", a=number
    )
    assert dict(outbox) == {"sla_reminder": 1, "sla_overdue": 1, "sla_escalation": 1, "sla_citizen_overdue": 1}


async def test_intermediate_answer_moves_the_clock_to_the_final_answer(fast: ClockStand) -> None:
    number, card, t0 = await _appeal(fast)
    chat = fast.chat("adm_rybinsk")
    fast.press(chat, card, "take:", user=OFFICIAL)
    await fast.wait(CITIZEN, "взято в работу")
    taken = await fast.tg.wait_for(lambda: (fast.current(chat, card["message_id"]).get("reply_markup") or {}).get(
        "inline_keyboard"))
    assert [b["text"] for row in taken for b in row] == ["Промежуточный ответ", "Не наша компетенция"]

    fast.clock.set(t0 + timedelta(seconds=3))
    fast.press(chat, fast.current(chat, card["message_id"]), "interim:", user=OFFICIAL)
    prompt = await fast.wait(chat, "промежуточный ответ")
    assert prompt["reply_markup"].get("force_reply") is True and prompt["reply_to_message_id"] == card["message_id"]
    fast.official_replies(chat, prompt["message_id"], "Бригада выедет в четверг, заявка в работе.")

    interim = await fast.wait(CITIZEN, "Промежуточный ответ по обращению")
    assert "Бригада выедет в четверг" in body(interim) and "Окончательный ответ придёт сюда до" in body(interim)
    assert not (interim.get("reply_markup") or {}).get("inline_keyboard")  # nothing to rate yet
    await fast.tg.wait_for(lambda: "Окончательный ответ до" in body(fast.current(chat, card["message_id"])))
    [appeal] = await fast.appeals()
    assert appeal.status == Status.IN_WORK and appeal.sla_term == "resolution"
    assert appeal.intermediate_answered_at == t0 + timedelta(seconds=3)
    assert appeal.first_answered_at == t0 + timedelta(seconds=3)
    assert appeal.resolution_due == t0 + timedelta(seconds=63)

    # the first-answer deadline passes unnoticed: that clock has stopped
    for moment in (5, 11, 25):
        await fast.at(moment, t0)
    assert fast.said(chat, "Напоминание") == [] and fast.tg.bot_messages(fast.supervisors) == []

    # the resolution clock runs: 50% of 60 s after the intermediate answer
    await fast.at(33, t0)
    [reminder] = fast.said(chat, "Напоминание")
    assert "срока окончательного ответа" in body(reminder)
    await fast.at(64, t0)
    [alert] = fast.tg.bot_messages(fast.supervisors)
    assert "срок окончательного ответа" in body(alert)
    assert "Срок окончательного ответа по обращению" in body(fast.said(CITIZEN, "истёк")[0])

    # the final answer stops it
    fast.official_replies(chat, card["message_id"], "Яма заделана.")
    await fast.wait(CITIZEN, "Ответ по обращению")
    await fast.at(200, t0)
    assert fast.tg.bot_messages(HIGHER) == []
    messages = await fast.query(
        "select kind, author_role from appeal_messages where appeal_id = :a order by id", a=number
    )
    assert [tuple(m) for m in messages] == [("appeal", "citizen"), ("interim_answer", "official"),
                                            ("answer", "official")]


async def test_not_solved_restarts_the_first_answer_clock(fast: ClockStand) -> None:
    number, card, t0 = await _appeal(fast)
    chat = fast.chat("adm_rybinsk")
    fast.clock.set(t0 + timedelta(seconds=2))
    fast.official_replies(chat, card["message_id"], "Сделано.")
    answer = await fast.wait(CITIZEN, "Ответ по обращению")
    await fast.at(30, t0)  # answered: the old deadline passes silently
    assert fast.tg.bot_messages(fast.supervisors) == []

    fast.press(CITIZEN, answer, f"rate:{number}:no", user=CITIZEN)
    await fast.wait(CITIZEN, "снова открыто")
    [appeal] = await fast.appeals()
    assert appeal.status == Status.REOPENED and appeal.sla_term == "first_answer"
    assert appeal.first_answer_due == t0 + timedelta(seconds=40)
    await fast.at(35, t0)
    assert f"№{number}" in body(fast.said(chat, "Напоминание")[0])
    await fast.at(41, t0)
    assert f"Просрочено: №{number}" in body(fast.tg.bot_messages(fast.supervisors)[0])
    await fast.at(51, t0)  # twice the term: the citizen hears of it, as someone who did get an answer
    [escalated] = fast.said(CITIZEN, "снова сообщили о нём руководству")
    assert "после вашей оценки «Не решено» нового ответа пока нет" in body(escalated)
    assert "всё ещё без ответа" not in body(escalated)  # QA: it had been answered, then reopened


async def test_replying_to_a_reminder_answers_the_appeal(fast: ClockStand) -> None:
    _, _, t0 = await _appeal(fast)
    chat = fast.chat("adm_rybinsk")
    await fast.at(5, t0)
    [reminder] = fast.said(chat, "Напоминание")
    fast.official_replies(chat, reminder["message_id"], "Уже выехали.")
    answer = await fast.wait(CITIZEN, "Ответ по обращению")
    assert "Уже выехали." in body(answer)
    await fast.at(30, t0)
    assert fast.tg.bot_messages(fast.supervisors) == []


async def test_overdue_command_and_the_daily_digest(fast: ClockStand) -> None:
    number, _, t0 = await _appeal(fast)
    fast.tg.user_sends(fast.supervisors, OPERATOR, "/overdue")
    assert "Просроченных обращений нет" in body(await fast.wait(fast.supervisors, "Просроченных"))

    await fast.at(15, t0)
    fast.tg.user_sends(fast.supervisors, OPERATOR, "/overdue")
    listing = await fast.wait(fast.supervisors, "Просрочено сейчас")
    assert "Просрочено сейчас (1)" in body(listing) and f"№{number}" in body(listing)
    assert "Администрация городского округа город Рыбинск" in body(listing) and "просрочка 5 с" in body(listing)
    # an account sees its own overdue appeals; another account sees none
    fast.tg.user_sends(fast.chat("adm_rybinsk"), OFFICIAL, "/overdue")
    assert f"№{number}" in body(await fast.wait(fast.chat("adm_rybinsk"), "Просрочено сейчас"))
    fast.tg.user_sends(fast.chat("adm_uglichsky"), OFFICIAL, "/overdue")
    await fast.wait(fast.chat("adm_uglichsky"), "Просроченных обращений нет")

    assert fast.app is not None
    assert await fast.app.desk.deadlines.send_digest()
    digest = await fast.wait(fast.supervisors, "Сводка за сутки")
    assert "Администрация городского округа город Рыбинск: новых 1, отвечено 0, просрочено 1" in body(digest)
    assert not await fast.app.desk.deadlines.send_digest()  # once a day, whoever runs it
    await fast.idle()
    assert len(fast.said(fast.supervisors, "Сводка")) == 1


async def test_the_bot_stays_in_the_higher_chat(fast: ClockStand) -> None:
    # a chat the bot doesn't know it leaves at once; the higher supervisors' chat is known
    assert fast.app is not None
    assert fast.app.desk.chat_role("tg", str(HIGHER)).kind == "escalation"
    fast.tg.user_sends(HIGHER, OPERATOR, "/overdue")
    await fast.wait(HIGHER, "Просроченных обращений нет")


@pytest.fixture
async def ticking(database_url: str) -> AsyncIterator[ClockStand]:
    async for stand in _stand(fast_config(sweep_interval=0.2), database_url):
        yield stand


async def test_the_scheduler_sweeps_by_itself(ticking: ClockStand) -> None:
    number, _, t0 = await _appeal(ticking)
    chat = ticking.chat("adm_rybinsk")
    ticking.clock.set(t0 + timedelta(seconds=6))
    reminder = await ticking.wait(chat, "Напоминание")
    assert f"№{number}" in body(reminder)
    ticking.clock.set(t0 + timedelta(seconds=10))
    await ticking.wait(ticking.supervisors, f"Просрочено: №{number}")
    await ticking.wait(CITIZEN, "истёк")
    await asyncio.sleep(0.7)  # a few more ticks of the real scheduler at the same clock moment change nothing
    await ticking.idle()
    assert len(ticking.said(chat, "Напоминание")) == 1 and len(ticking.tg.bot_messages(ticking.supervisors)) == 1
