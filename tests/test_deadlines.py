"""Deadline alerts without a bot: the ladder and its decisions (pure), then the sweep against a real
database (SQLite, and PostgreSQL when OTKLIK_TEST_DATABASE_URL is set): claims, answers, restarts,
the catch-up after downtime, two sweepers at once, /overdue data and the digest."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, text

from bot.config import ChatRef, ConfigError, OtklikConfig, load_config
from routing.calendar import CalendarConfig, WorkingCalendar
from routing.clock import ManualClock
from routing.deadlines import (
    AlertStep,
    DeadlineWatch,
    alert_for,
    build_ladder,
    parse_stage,
    plan,
    running_due,
    stage_key,
)
from routing.sla import SlaClock, SlaConfig
from storage.db import Database
from storage.models import Appeal, AppealEvent, Citizen, OutboxMessage
from tests.conftest import PG_URL, _reset_postgres

FIXTURES = Path(__file__).parent / "fixtures"
MSK = ZoneInfo("Europe/Moscow")
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)

ACCOUNT_CHAT = "-1001000000101"
SUPERVISORS_CHAT = "-1001000000002"
HIGHER_CHAT = "-1001000000003"
TRIAGE_CHAT = "-1001000000001"

# ---- the ladder: pure -------------------------------------------------------------------------------


def fast_sla(**extra: Any) -> SlaConfig:
    data: dict[str, Any] = {
        "default": {"first_answer": "100s", "resolution": "1000s"},
        "urgent": {"first_answer": "50s", "resolution": "500s"},
        "reminders": [0.5, 0.8],
        "escalation": [
            {"at": 1.0, "notify": ["account", "supervisors"]},
            {"at": 2.0, "notify": ["higher"]},
        ],
        "sweep_interval_seconds": 1,
    }
    data.update(extra)
    return SlaConfig.model_validate(data)


def test_ladder_merges_reminders_and_escalation_in_order() -> None:
    ladder = build_ladder(fast_sla())
    assert [(s.fraction, s.notify, s.escalation) for s in ladder] == [
        (0.5, ("account",), False),
        (0.8, ("account",), False),
        (1.0, ("account", "supervisors"), True),
        (2.0, ("higher",), True),
    ]
    # an escalation step at a reminder's fraction replaces the reminder rather than doubling it
    merged = build_ladder(fast_sla(escalation=[{"at": 0.8, "notify": ["supervisors"]}]))
    assert [(s.fraction, s.notify, s.escalation) for s in merged] == [
        (0.5, ("account",), False),
        (0.8, ("supervisors",), True),
    ]


def test_stage_keys_round_trip_and_garbage_is_none() -> None:
    assert stage_key("first_answer", 0.5) == "first_answer@0.5"
    assert stage_key("resolution", 2.0) == "resolution@2"
    assert parse_stage("first_answer@0.5") == ("first_answer", 0.5)
    assert parse_stage("resolution@2") == ("resolution", 2.0)
    for bad in (None, "", "first_answer", "lunch@0.5", "first_answer@x", "first_answer@-1", "resolution@nan"):
        assert parse_stage(bad) is None


def _linear(start: datetime, seconds: float) -> Any:
    return lambda f: start + timedelta(seconds=seconds * f)


def test_plan_fires_what_has_come_and_waits_for_the_next() -> None:
    ladder = build_ladder(fast_sla())
    moment = _linear(T0, 100)
    before = plan(ladder, 0.0, moment, T0 + timedelta(seconds=49))
    assert before.fired == () and before.next_step == ladder[0] and before.next_at == T0 + timedelta(seconds=50)
    # exactly at the moment counts as come
    at_half = plan(ladder, 0.5, moment, T0 + timedelta(seconds=50))
    assert [s.fraction for s in at_half.fired] == [0.5] and at_half.next_step == ladder[1]
    # after downtime everything passed since the stored stage fires at once, in order
    late = plan(ladder, 0.5, moment, T0 + timedelta(seconds=150))
    assert [s.fraction for s in late.fired] == [0.5, 0.8, 1.0]
    assert late.next_step == ladder[3] and late.next_at == T0 + timedelta(seconds=200)
    done = plan(ladder, 2.0, moment, T0 + timedelta(seconds=500))
    assert [s.fraction for s in done.fired] == [2.0] and done.next_step is None and done.next_at is None


def test_plan_in_working_time_friday_evening_before_the_may_holidays() -> None:
    # 8 working hours from Friday 8 May 2026, 17:00: the eve of Victory Day is shortened to 17:00, the
    # 9th is a Saturday and its day off moves to Monday the 11th, so work resumes Tuesday 09:00
    clock = SlaClock(SlaConfig(), WorkingCalendar(CalendarConfig()))
    start = datetime(2026, 5, 8, 17, 0, tzinfo=MSK)
    due = clock.deadlines("roads", start).first_answer
    assert due == datetime(2026, 5, 12, 17, 0, tzinfo=MSK)
    ladder = build_ladder(SlaConfig())

    def moment(f: float) -> datetime:
        return clock.moment_at_fraction(start, due, f)

    first = plan(ladder, 0.0, moment, datetime(2026, 5, 11, 23, 0, tzinfo=MSK))
    assert first.fired == () and first.next_at == datetime(2026, 5, 12, 13, 0, tzinfo=MSK)
    overdue = plan(ladder, 0.8, moment, datetime(2026, 5, 12, 17, 0, tzinfo=MSK))
    assert [s.fraction for s in overdue.fired] == [0.8, 1.0] and overdue.next_step is None


def test_alert_for_collapses_fired_steps_and_decides_what_the_citizen_hears() -> None:
    ladder = build_ladder(fast_sla())
    half, eighty, overdue, double = ladder
    assert alert_for([], ladder) is None
    reminder = alert_for([half], ladder)
    assert reminder is not None and reminder.targets == ("account",) and reminder.citizen is None
    first = alert_for([overdue], ladder)
    assert first is not None and first.citizen == "overdue" and first.first_overdue
    assert first.targets == ("account", "supervisors")
    # back after downtime: one alert, every chat once, and the citizen hears the latest news only
    both = alert_for([eighty, overdue, double], ladder)
    assert both is not None and both.step == double and both.citizen == "escalated" and not both.first_overdue
    assert both.targets == ("account", "supervisors", "higher")
    assert AlertStep(1.0, (), True).overdue and not AlertStep(0.99, (), True).overdue


# ---- config keys --------------------------------------------------------------------------------------


def _small_config_text() -> str:
    return (FIXTURES / "config_small.yaml").read_text(encoding="utf-8")


def test_config_escalation_chats_and_digest_time(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        _small_config_text().replace(
            "supervisors:\n  telegram_chat: -1001000000002\n",
            "supervisors:\n  telegram_chat: -1001000000002\n  digest_at: '08:30'\n"
            "escalation_chats:\n  higher:\n    telegram_chat: -1001000000003\n"
            "sla:\n  escalation:\n    - {at: 1.0, notify: [account, supervisors]}\n"
            "    - {at: 2.0, notify: [higher, '-1001000000004']}\n",
        ),
        encoding="utf-8",
    )
    config = load_config(path)
    assert config.supervisors.digest_at == time(8, 30)
    assert config.escalation_chats["higher"].telegram_chat == -1001000000003


def test_config_defaults_digest_at_nine() -> None:
    assert load_config(FIXTURES / "config_small.yaml").supervisors.digest_at == time(9, 0)


@pytest.mark.parametrize(
    ("insert", "path", "words"),
    [
        ("sla:\n  escalation:\n    - {at: 2.0, notify: [hihger]}\n", "sla.escalation[0].notify[0]", "unknown chat"),
        ("escalation_chats:\n  higher: {}\n", "escalation_chats.higher", "needs telegram_chat"),
        ("escalation_chats:\n  higher: {telegram_chat: -1001000000101}\n", "accounts[0].telegram_chat", "already used"),
    ],
)
def test_config_names_the_key_of_a_bad_escalation_target(tmp_path: Path, insert: str, path: str, words: str) -> None:
    file = tmp_path / "c.yaml"
    file.write_text(_small_config_text() + insert, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(file)
    assert any(p.path == path and words in p.message for p in caught.value.problems), caught.value


def test_config_refuses_an_unquoted_digest_time(tmp_path: Path) -> None:
    file = tmp_path / "c.yaml"
    file.write_text(
        _small_config_text().replace("supervisors:\n  telegram_chat: -1001000000002\n",
                                     "supervisors:\n  telegram_chat: -1001000000002\n  digest_at: 9:30\n"),
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_config(file)
    assert any(p.path == "supervisors.digest_at" and "quoted" in p.message for p in caught.value.problems)


# ---- the sweep against a database ---------------------------------------------------------------------


def make_config(sla: SlaConfig | None = None) -> OtklikConfig:
    base = load_config(FIXTURES / "config_small.yaml")
    return base.model_copy(update={
        "calendar": CalendarConfig(mode="24/7"),
        "sla": sla or fast_sla(),
        "escalation_chats": {"higher": ChatRef(telegram_chat=int(HIGHER_CHAT))},
    })


class World:
    """A database, a hand-moved clock and a DeadlineWatch over them, with helpers to make appeals."""

    def __init__(self, url: str, config: OtklikConfig, clock: ManualClock) -> None:
        self.url = url
        self.config = config
        self.clock = clock
        self.db = Database(url)
        self.sla = SlaClock(config.sla, WorkingCalendar(config.calendar))
        self.watch = DeadlineWatch(self.db, config, self.sla, clock)
        self.citizen_id = 0

    def another(self, *, batch_size: int = 200) -> DeadlineWatch:
        """A second process: its own engine and pool on the same database."""
        return DeadlineWatch(Database(self.url), self.config, self.sla, self.clock, batch_size=batch_size)

    async def appeal(self, *, account: str | None = "adm_town", status: str = "routed", urgent: bool = False,
                     created: datetime | None = None) -> int:
        created = created or self.clock.now()
        async with self.db.transaction() as s:
            if not self.citizen_id:
                citizen = Citizen(platform="tg", platform_user_id="1001", chat_id="1001", display_name="Мария",
                                  created_at=created)
                s.add(citizen)
                await s.flush()
                self.citizen_id = citizen.id
            appeal = Appeal(
                citizen_id=self.citizen_id, platform="tg", status=status, text="яма", photos=[],
                category="roads", municipality="town", account_code=account, urgent=urgent,
                created_at=created, updated_at=created, registered_at=created, source_message_id="7",
            )
            deadlines = self.sla.deadlines("roads", created, urgent=urgent)
            appeal.first_answer_due = deadlines.first_answer
            appeal.resolution_due = deadlines.resolution
            self.watch.start_term(appeal, "first_answer", created)
            s.add(appeal)
            await s.flush()
            return appeal.id

    async def outbox(self) -> list[tuple[str, str, int | None, str]]:
        async with self.db.transaction() as s:
            rows = await s.execute(
                select(OutboxMessage.chat_id, OutboxMessage.purpose, OutboxMessage.appeal_id, OutboxMessage.payload)
                .order_by(OutboxMessage.id)
            )
            return [(r[0], r[1], r[2], r[3]["text"]) for r in rows]

    async def get(self, appeal_id: int) -> Appeal:
        async with self.db.transaction() as s:
            appeal = await s.get(Appeal, appeal_id)
            assert appeal is not None
            return appeal

    def at(self, seconds: float) -> None:
        self.clock.set(T0 + timedelta(seconds=seconds))


@pytest.fixture
async def world(database_url: str) -> AsyncIterator[World]:
    w = World(database_url, make_config(), ManualClock(T0))
    await w.db.upgrade()
    try:
        yield w
    finally:
        await w.db.dispose()


async def test_first_term_is_scheduled_at_registration(world: World) -> None:
    number = await world.appeal()
    appeal = await world.get(number)
    assert appeal.sla_term == "first_answer" and appeal.sla_started_at == T0
    assert appeal.next_alert_stage == "first_answer@0.5"
    assert appeal.next_alert_at == T0 + timedelta(seconds=50)
    assert running_due(appeal) == T0 + timedelta(seconds=100)


async def test_each_rung_once_to_its_chats(world: World) -> None:
    number = await world.appeal()
    world.at(49)
    assert (await world.watch.sweep()).alerts == 0
    world.at(50)
    assert (await world.watch.sweep()).alerts == 1
    assert (await world.watch.sweep()).alerts == 0  # the same moment again: already claimed
    [reminder] = await world.outbox()
    assert reminder[:3] == (ACCOUNT_CHAT, "sla_reminder", number) and "прошло 50%" in reminder[3]

    world.at(80)
    await world.watch.sweep()
    world.at(100)
    await world.watch.sweep()
    sent = await world.outbox()
    assert [(chat, purpose) for chat, purpose, _, _ in sent[1:]] == [
        (ACCOUNT_CHAT, "sla_reminder"),
        (ACCOUNT_CHAT, "sla_overdue"),
        (SUPERVISORS_CHAT, "sla_escalation"),
        ("1001", "sla_citizen_overdue"),
    ]
    supervisors = sent[3][3]
    assert f"№{number}" in supervisors and "Администрация Тауна" in supervisors and "Дороги · Таун" in supervisors

    world.at(199)
    assert (await world.watch.sweep()).alerts == 0
    world.at(230)
    await world.watch.sweep()
    later = (await world.outbox())[5:]
    assert [(chat, purpose) for chat, purpose, _, _ in later] == [
        (HIGHER_CHAT, "sla_escalation"),
        ("1001", "sla_citizen_escalated"),
    ]
    assert "Эскалация" in later[0][3] and "просрочка 2 мин 10 с" in later[0][3]
    appeal = await world.get(number)
    assert appeal.next_alert_at is None and appeal.next_alert_stage is None
    world.at(10_000)
    assert (await world.watch.sweep()).alerts == 0
    async with world.db.transaction() as s:
        events = (await s.execute(select(AppealEvent.detail).where(AppealEvent.action == "sla_alert"))).scalars()
        assert [e["step"] for e in events] == [0.5, 0.8, 1.0, 2.0]


async def test_back_after_downtime_one_alert_per_chat(world: World) -> None:
    await world.appeal()
    world.at(250)  # the bot was down through 50%, 80%, 100% and 200%
    assert (await world.watch.sweep()).alerts == 1
    sent = await world.outbox()
    assert [(chat, purpose) for chat, purpose, _, _ in sent] == [
        (ACCOUNT_CHAT, "sla_overdue"),
        (SUPERVISORS_CHAT, "sla_escalation"),
        (HIGHER_CHAT, "sla_escalation"),
        ("1001", "sla_citizen_escalated"),
    ]


async def test_no_alert_for_an_appeal_answered_meanwhile(world: World) -> None:
    number = await world.appeal()
    world.at(30)
    async with world.db.transaction() as s:  # what the desk does on an answer
        appeal = await s.get(Appeal, number)
        assert appeal is not None
        appeal.status = "answered"
        world.watch.stop(appeal)
    world.at(500)
    assert (await world.watch.sweep()).seen == 0
    assert await world.outbox() == []


async def test_answer_between_read_and_claim_wins(world: World) -> None:
    # the row was due when read but its status changed before the sweep got to it: nothing is said
    number = await world.appeal()
    async with world.db.transaction() as s:
        await s.execute(text("update appeals set status = 'answered' where id = :i"), {"i": number})
    world.at(120)
    result = await world.watch.sweep()
    assert result.alerts == 0 and await world.outbox() == []
    assert (await world.get(number)).next_alert_at is None


async def test_claim_fails_when_the_stage_moved_on(world: World) -> None:
    number = await world.appeal()
    appeal = await world.get(number)
    async with world.db.transaction() as s:
        claimed = await world.watch._claim(s, number, "first_answer@0.8", appeal.next_alert_at, None, None)
        assert not claimed
        claimed = await world.watch._claim(s, number, appeal.next_alert_stage, appeal.next_alert_at, None, None)
        assert claimed
        assert not await world.watch._claim(s, number, appeal.next_alert_stage, appeal.next_alert_at, None, None)


async def test_restart_sends_nothing_twice(world: World) -> None:
    await world.appeal()
    world.at(60)
    await world.watch.sweep()
    await world.db.dispose()
    # a new process: new engine, new watch, same database
    world.db = Database(world.url)
    world.watch = DeadlineWatch(world.db, world.config, world.sla, world.clock)
    assert (await world.watch.sweep()).alerts == 0
    world.at(85)
    assert (await world.watch.sweep()).alerts == 1
    assert [p for _, p, _, _ in await world.outbox()] == ["sla_reminder", "sla_reminder"]


async def test_account_alerts_go_to_triage_while_no_account_holds_it(world: World) -> None:
    await world.appeal(account=None, status="triage")
    world.at(55)
    await world.watch.sweep()
    [(chat, purpose, _, _)] = await world.outbox()
    assert (chat, purpose) == (TRIAGE_CHAT, "sla_reminder")
    async with world.db.transaction() as s:  # the appeal's history names the chat it really went to
        [detail] = (await s.execute(select(AppealEvent.detail).where(AppealEvent.action == "sla_alert"))).scalars()
    assert detail["targets"] == ["triage"]


async def test_a_config_change_recomputes_instead_of_replaying(world: World) -> None:
    # the stored stage names a reminder the new config no longer has: the sweep works it out again
    number = await world.appeal()
    changed = make_config(fast_sla(reminders=[0.6]))
    world.watch = DeadlineWatch(world.db, changed, SlaClock(changed.sla, world.sla.calendar), world.clock)
    world.at(50)
    result = await world.watch.sweep()
    assert result.alerts == 0 and result.seen == 1
    appeal = await world.get(number)
    assert appeal.next_alert_stage == "first_answer@0.6" and appeal.next_alert_at == T0 + timedelta(seconds=60)


async def test_sweep_reads_only_due_rows(world: World) -> None:
    for _ in range(30):
        await world.appeal()
    world.clock.set(T0 + timedelta(seconds=1000))
    due = await world.appeal()  # created later: its reminder is not due
    world.at(1000 + 10)
    result = await world.watch.sweep()
    assert result.seen == 30 and result.alerts == 30
    assert all(appeal_id != due for _, _, appeal_id, _ in await world.outbox())


async def test_overdue_appeals_and_the_digest(world: World) -> None:
    late = await world.appeal()
    other = await world.appeal(account="adm_district")
    answered = await world.appeal(account="adm_district")
    async with world.db.transaction() as s:
        appeal = await s.get(Appeal, answered)
        assert appeal is not None
        appeal.status = "answered"
        world.watch.stop(appeal)
        s.add(AppealEvent(appeal_id=answered, at=T0 + timedelta(seconds=5), actor="x", action="answered",
                          from_status="routed", to_status="answered", detail={}))
    world.at(120)
    async with world.db.transaction() as s:
        overdue = await world.watch.overdue_appeals(s, world.clock.now())
        assert [a.id for a in overdue] == [late, other]
        mine = await world.watch.overdue_appeals(s, world.clock.now(), "adm_district")
        assert [a.id for a in mine] == [other]
        rows = await world.watch.digest_rows(s, world.clock.now() - timedelta(days=1), world.clock.now())
    assert rows == [("Администрация Тауна", 1, 0, 1), ("Администрация Таунского округа", 2, 1, 1)]

    assert await world.watch.send_digest()
    assert not await world.watch.send_digest()  # the same local day: already sent, by whoever
    [(chat, purpose, _, body)] = await world.outbox()
    assert (chat, purpose) == (SUPERVISORS_CHAT, "digest")
    assert "Администрация Таунского округа: новых 2, отвечено 1, просрочено 1" in body
    assert "Всего: новых 3, отвечено 1, просрочено 2" in body
    world.at(86400)
    assert await world.watch.send_digest()


async def test_migration_gives_open_appeals_a_clock(tmp_path: Path) -> None:
    from storage.migrate import upgrade_connection

    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'old.sqlite3'}")
    try:
        async with db.engine.connect() as conn:
            await conn.run_sync(lambda c: upgrade_connection(c, "0001"))
            await conn.commit()
        async with db.engine.begin() as conn:
            await conn.execute(text(
                "insert into citizens (id, platform, platform_user_id, chat_id, created_at) "
                "values (1, 'tg', '1', '1', '2026-11-20 10:00:00.000000')"
            ))
            for number, status in ((1, "routed"), (2, "answered")):
                await conn.execute(text(
                    "insert into appeals (id, citizen_id, platform, status, text, photos, urgent, created_at, "
                    "updated_at, first_answer_due, resolution_due, category) values (:n, 1, 'tg', :s, 'x', '[]', "
                    "0, '2026-11-20 10:00:00.000000', '2026-11-20 10:00:00.000000', '2026-11-20 18:00:00.000000', "
                    "'2026-11-27 10:00:00.000000', 'roads')"
                ), {"n": number, "s": status})
        await db.upgrade()
        async with db.transaction() as s:
            rows = (await s.execute(select(Appeal).order_by(Appeal.id))).scalars().all()
        assert rows[0].sla_term == "first_answer" and rows[0].next_alert_stage == "first_answer@0"
        assert rows[0].next_alert_at == datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
        assert rows[1].sla_term is None and rows[1].next_alert_at is None
        async with db.engine.connect() as conn:
            plan_rows = (await conn.execute(text(
                "explain query plan select * from appeals where next_alert_at <= '2026-11-21' "
                "order by next_alert_at limit 200"
            ))).all()
        assert any("ix_appeals_next_alert_at" in str(r) for r in plan_rows), plan_rows
    finally:
        await db.dispose()


@pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL: set OTKLIK_TEST_DATABASE_URL")
async def test_two_sweepers_on_postgresql_never_send_one_alert_twice() -> None:
    assert PG_URL is not None
    await _reset_postgres(PG_URL)
    world = World(PG_URL, make_config(), ManualClock(T0))
    await world.db.upgrade()
    first, second = world.another(batch_size=50), world.another(batch_size=50)
    try:
        numbers = [await world.appeal() for _ in range(120)]
        # both processes read the same due rows before either claims one: the race is certain
        barrier = asyncio.Barrier(2)
        for watch in (first, second):
            original = watch._sweep_one
            state = {"waited": False}

            async def gated(s: Any, appeal: Appeal, now: datetime, _o: Any = original, _st: Any = state) -> str:
                if not _st["waited"]:
                    _st["waited"] = True
                    await barrier.wait()
                return await _o(s, appeal, now)

            watch._sweep_one = gated  # type: ignore[method-assign]
        for moment in (55, 85, 105, 210):
            world.at(moment)
            results = await asyncio.gather(first.sweep(), second.sweep())
            assert sum(r.alerts for r in results) == len(numbers), (moment, results)
            if moment == 55:
                assert sum(r.lost for r in results) > 0, results
        sent = await world.outbox()
        for number in numbers:
            purposes = [p for _, p, n, _ in sent if n == number]
            assert purposes == [
                "sla_reminder", "sla_reminder", "sla_overdue", "sla_escalation", "sla_citizen_overdue",
                "sla_escalation", "sla_citizen_escalated",
            ], (number, purposes)
    finally:
        for watch in (first, second):
            await watch.db.dispose()
        await world.db.dispose()


async def test_two_sweepers_on_sqlite_too(world: World) -> None:
    # SQLite serialises writers (BEGIN IMMEDIATE); the claim keeps it exactly-once all the same
    numbers = [await world.appeal() for _ in range(40)]
    first, second = world.another(batch_size=7), world.another(batch_size=7)
    try:
        world.at(55)
        results = await asyncio.gather(first.sweep(), second.sweep(), world.watch.sweep())
        assert sum(r.alerts for r in results) == len(numbers)
        assert len(await world.outbox()) == len(numbers)
    finally:
        await first.db.dispose()
        await second.db.dispose()


async def test_scheduler_registers_the_sweep_and_the_digest() -> None:
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    from bot.scheduler import DIGEST_JOB, SWEEP_JOB, DeadlineScheduler

    config = make_config()
    config = config.model_copy(update={"supervisors": config.supervisors.model_copy(update={"digest_at": time(8, 15)})})
    calls: list[str] = []

    class FakeWatch:
        async def sweep(self) -> None:
            calls.append("sweep")

        async def send_digest(self) -> None:
            calls.append("digest")

    scheduler = DeadlineScheduler(FakeWatch(), config)  # type: ignore[arg-type]
    scheduler.start()
    try:
        sweep = scheduler.scheduler.get_job(SWEEP_JOB)
        digest = scheduler.scheduler.get_job(DIGEST_JOB)
        assert isinstance(sweep.trigger, IntervalTrigger) and sweep.trigger.interval == timedelta(seconds=1)
        assert isinstance(digest.trigger, CronTrigger)
        assert str(digest.trigger) == "cron[hour='8', minute='15', second='0']"
        assert str(digest.trigger.timezone) == "Europe/Moscow"
        for _ in range(100):  # the first sweep runs at start, not a whole interval later
            if calls:
                break
            await asyncio.sleep(0.02)
        assert calls[:1] == ["sweep"]
    finally:
        await scheduler.stop()
