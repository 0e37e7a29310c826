"""`otklik status`: the figures an admin's monitor reads, the PROBLEM / WARNING lines and the exit code
(0 healthy, 1 a problem, 2 nothing to check) — and that it only ever reads the database."""
from __future__ import annotations

import asyncio
import json
import re
import sqlite3
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cli import main as cli_main
from bot.config import OtklikConfig
from routing.calendar import WorkingCalendar
from routing.clock import SystemClock
from routing.deadlines import DeadlineWatch
from routing.sla import SlaClock
from storage.db import Database
from storage.migrate import upgrade_connection
from storage.models import Appeal, ChatBinding, Citizen, InviteCode, OutboxMessage, ProcessedUpdate

ROOT = Path(__file__).resolve().parents[1]
CONFIG = str(ROOT / "config.yaml")
NEWEST = "0007_account_due"
BLOCKED = "Forbidden: bot was blocked by the user"


@pytest.fixture(autouse=True)
def _no_config_around(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No ./config.yaml and no $OTKLIK_CONFIG: times print in UTC unless a test names the config."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OTKLIK_CONFIG", raising=False)


def status(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli_main(["status", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def status_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code, out, _ = status(capsys, "--json", *args)
    return code, json.loads(out)


def prepare(url: str, fill: Callable[[AsyncSession, datetime], Awaitable[None]] | None = None,
            revision: str = "head") -> datetime:
    """The schema at `revision`, then `fill(session, now)`; returns that now."""
    now = datetime.now(UTC)

    async def main() -> None:
        db = Database(url)
        try:
            async with db.engine.connect() as conn:
                await conn.run_sync(upgrade_connection, revision)
                await conn.commit()
            if fill is not None:
                async with db.transaction() as s:
                    await fill(s, now)
        finally:
            await db.dispose()

    asyncio.run(main())
    return now


def sql(url: str, statement: str) -> list[Any]:
    async def main() -> list[Any]:
        db = Database(url)
        try:
            async with db.transaction() as s:
                result = await s.execute(text(statement))
                return list(result.all()) if result.returns_rows else []
        finally:
            await db.dispose()

    return asyncio.run(main())


def version(url: str) -> list[str]:
    return [row[0] for row in sql(url, "SELECT version_num FROM alembic_version")]


# ---- a database with work in every state -----------------------------------------------------------


def appeal(citizen: Citizen, status: str, created: datetime, **columns: Any) -> Appeal:
    return Appeal(citizen_id=citizen.id, platform="tg", status=status, text="яма во дворе", created_at=created,
                  updated_at=created, **columns)


def outbox(status: str, not_before: datetime, **columns: Any) -> OutboxMessage:
    columns.setdefault("purpose", "answer")
    return OutboxMessage(platform="tg", chat_id="1001", payload={"type": "text", "text": "…"}, status=status,
                         not_before=not_before, created_at=not_before - timedelta(minutes=1), **columns)


async def busy(s: AsyncSession, now: datetime) -> None:
    h = timedelta(hours=1)
    citizen = Citizen(platform="tg", platform_user_id="1001", chat_id="1001", created_at=now - 100 * h)
    s.add(citizen)
    await s.flush()
    s.add_all([
        # open (awaiting_place, triage, routed, in_work, reopened): 5, of them in triage: 1
        appeal(citizen, "triage", now - h, sla_term="first_answer", first_answer_due=now + 2 * h),
        appeal(citizen, "routed", now - 30 * h, sla_term="first_answer", first_answer_due=now - 2 * h),  # overdue
        # overdue on its resolution term (its first-answer due, also past, no longer runs)
        appeal(citizen, "in_work", now - 72 * h, sla_term="resolution", first_answer_due=now - 50 * h,
               resolution_due=now - h),
        appeal(citizen, "reopened", now - 2 * h, sla_term="resolution", resolution_due=now + 24 * h),
        appeal(citizen, "awaiting_place", now - h / 3),
        # not open: answered (no clock runs), closed (a stale clock left on it is not /overdue's either), draft
        appeal(citizen, "answered", now - 10 * h, first_answer_due=now - 5 * h),
        appeal(citizen, "closed", now - 120 * h, sla_term="first_answer", first_answer_due=now - 100 * h),
        appeal(citizen, "draft", now - h / 12),
    ])
    s.add_all([
        outbox("pending", now - timedelta(minutes=30)),  # due for half an hour: nobody is sending
        outbox("pending", now - timedelta(minutes=2)),
        outbox("pending", now + h),  # a retry that is not due yet
        outbox("sending", now - timedelta(minutes=1), claimed_until=now + timedelta(minutes=9), claimed_by="bot-1"),
        # counted by when it was given up on, not by when its last attempt was due
        outbox("failed", now - 30 * h, failed_at=now - h, error=BLOCKED, attempts=1, purpose="sla_citizen_overdue"),
        outbox("failed", now - 73 * h, failed_at=now - 72 * h, error="gave up after 15 attempts"),  # not in 24 h
        outbox("sent", now - 2 * h, sent_at=now - 2 * h, sent_message_ids=["77"]),
    ])
    s.add_all([
        ProcessedUpdate(platform="tg", key="msg:1001:1", processed_at=now - 26 * h),
        ProcessedUpdate(platform="tg", key="msg:1001:2", processed_at=now - 3 * h),
        ProcessedUpdate(platform="vk", key="msg:2000000001:5", processed_at=now - h),
        # the bot's own bookkeeping is not inbound activity
        ProcessedUpdate(platform="job", key="digest:2026-12-06", processed_at=now - timedelta(minutes=1)),
        ProcessedUpdate(platform="vk-lp", key="g1:00000000000000000042", processed_at=now),
    ])
    s.add(ChatBinding(platform="tg", chat_id="-100500", account_code="adm_rybinsk", bound_at=now - h,
                      bound_by="tg:2001 (Иван)"))
    s.add_all([
        InviteCode(code_hash="a" * 64, account_code="adm_rybinsk", created_at=now - h, expires_at=now + 23 * h),
        InviteCode(code_hash="b" * 64, account_code="adm_rybinsk", created_at=now - 2 * h, expires_at=now + 22 * h,
                   used_at=now - h, used_platform="tg", used_chat_id="-100500", used_by="tg:2001 (Иван)"),
        InviteCode(code_hash="c" * 64, account_code="adm_uglich", created_at=now - 30 * h, expires_at=now - 6 * h),
    ])


def failed_id(url: str) -> int:
    [(number,)] = sql(url, "SELECT id FROM outbox WHERE status = 'failed' AND attempts = 1")
    return int(number)


# ---- tests ----------------------------------------------------------------------------------------------


def test_a_healthy_empty_database_is_ok_with_every_figure_zero(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    prepare(database_url)
    monkeypatch.setenv("OTKLIK_DATABASE_URL", database_url)
    code, out, err = status(capsys)
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0].startswith("database: ") and lines[0].endswith(Database(database_url).describe()[-20:])
    assert lines[1:] == [
        f"schema: {NEWEST}, newest {NEWEST}",
        "appeals: 0 open, 0 in triage, 0 overdue (0 first answer, 0 resolution), 0 created in the last 24 h",
        "outbox: 0 pending (0 due), 0 sending, 0 failed in the last 24 h (0 in all)",
        "last update: tg never, vk never",
        "chats: 0 bound through invite codes, 0 invite codes open",
        "status: ok",
    ]
    assert err == ""  # quiet for cron: no migration chatter on stderr

    code, report = status_json(capsys)
    assert code == 0
    assert report["healthy"] is True and report["problems"] == [] and report["warnings"] == []
    assert report["schema"] == {"current": NEWEST, "newest": NEWEST, "state": "current", "up_to_date": True}
    assert report["appeals"] == {"open": 0, "triage": 0, "overdue": 0, "overdue_first_answer": 0,
                                 "overdue_resolution": 0, "created_24h": 0, "by_status": {}}
    assert {k: report["outbox"][k] for k in ("pending", "due", "sending", "failed_24h", "oldest_due_age_seconds")} \
        == {"pending": 0, "due": 0, "sending": 0, "failed_24h": 0, "oldest_due_age_seconds": None}
    assert report["inbound"]["last_update_at"] is None
    assert report["chats"] == {"bound": 0, "open_invites": 0}


def test_old_failures_and_a_retry_not_yet_due_are_not_problems(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async def fill(s: AsyncSession, now: datetime) -> None:
        s.add_all([outbox("pending", now + timedelta(hours=2), attempts=3, error="Too Many Requests"),
                   outbox("failed", now - timedelta(hours=25), failed_at=now - timedelta(hours=25), error=BLOCKED)])

    prepare(database_url, fill)
    monkeypatch.setenv("OTKLIK_DATABASE_URL", database_url)
    code, out, _ = status(capsys)
    assert code == 0, out
    assert "outbox: 1 pending (0 due), 0 sending, 0 failed in the last 24 h (1 in all)" in out.splitlines()
    assert "PROBLEM" not in out and "WARNING" not in out


def test_a_busy_database_with_a_stuck_outbox(
    database_url: str, config: OtklikConfig, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    now = prepare(database_url, busy)
    monkeypatch.setenv("OTKLIK_DATABASE_URL", database_url)
    number = failed_id(database_url)

    code, out, err = status(capsys)
    assert code == 1
    assert err == ""
    lines = out.splitlines()
    assert lines[1] == f"schema: {NEWEST}, newest {NEWEST}"
    assert lines[2] == "appeals: 5 open, 1 in triage, 2 overdue (1 first answer, 1 resolution), " \
                       "5 created in the last 24 h"
    assert lines[3] == "outbox: 3 pending (2 due, the oldest waiting 30 min), 1 sending, " \
                       "1 failed in the last 24 h (2 in all)"
    assert re.fullmatch(r"last update: tg \d{4}-\d\d-\d\d \d\d:\d\d UTC \(3\.0 h ago\), "
                        r"vk \d{4}-\d\d-\d\d \d\d:\d\d UTC \(60 min ago\)", lines[4]), lines[4]
    assert lines[5] == "chats: 1 bound through invite codes, 1 invite code open"
    assert [line for line in lines if line.startswith(("PROBLEM:", "WARNING:"))] == [
        "PROBLEM: the oldest due outbox message has waited 30 min (limit 10 min), 2 due in all: "
        "is the bot running, and can it reach Telegram/VK?",
        f"WARNING: 1 outbox message failed in the last 24 h (latest: #{number} sla_citizen_overdue: {BLOCKED})",
    ]
    assert lines[-1] == "status: PROBLEM"

    code, report = status_json(capsys)
    assert code == 1
    assert report["healthy"] is False
    assert [p["code"] for p in report["problems"]] == ["outbox_stale"]
    assert [w["code"] for w in report["warnings"]] == ["outbox_failed"]
    assert report["problems"][0]["message"] in out and report["warnings"][0]["message"] in out
    assert report["appeals"] == {
        "open": 5, "triage": 1, "overdue": 2, "overdue_first_answer": 1, "overdue_resolution": 1, "created_24h": 5,
        "by_status": {"answered": 1, "awaiting_place": 1, "closed": 1, "draft": 1, "in_work": 1, "reopened": 1,
                      "routed": 1, "triage": 1},
    }
    box = report["outbox"]
    assert {k: box[k] for k in ("pending", "due", "sending", "lapsed_claims", "failed_24h", "failed_total",
                                "sent_total")} == {"pending": 3, "due": 2, "sending": 1, "lapsed_claims": 0,
                                                   "failed_24h": 1, "failed_total": 2, "sent_total": 1}
    assert 30 * 60 <= box["oldest_due_age_seconds"] < 30 * 60 + 120
    assert datetime.fromisoformat(box["oldest_due_since"]) == (now - timedelta(minutes=30)).replace(microsecond=0)
    assert box["latest_failure"] == {"id": number, "purpose": "sla_citizen_overdue", "error": BLOCKED}
    inbound = report["inbound"]
    assert datetime.fromisoformat(inbound["last_update_at"]) == (now - timedelta(hours=1)).replace(microsecond=0)
    assert 3600 <= inbound["last_update_age_seconds"] < 3600 + 120
    assert datetime.fromisoformat(inbound["by_platform"]["tg"]) == (now - timedelta(hours=3)).replace(microsecond=0)
    assert report["chats"] == {"bound": 1, "open_invites": 1}
    assert report["stale_minutes"] == 10

    # the overdue figure is what `/overdue` lists in the supervisors' chat
    async def listed() -> int:
        db = Database(database_url)
        try:
            watch = DeadlineWatch(db, config, SlaClock(config.sla, WorkingCalendar(config.calendar)), SystemClock())
            async with db.transaction() as s:
                return len(await watch.overdue_appeals(s, datetime.now(UTC)))
        finally:
            await db.dispose()

    assert asyncio.run(listed()) == report["appeals"]["overdue"]


def test_stale_minutes_moves_the_line_and_failures_stay_a_warning(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    prepare(database_url, busy)
    monkeypatch.setenv("OTKLIK_DATABASE_URL", database_url)
    code, out, _ = status(capsys, "--stale-minutes", "45")
    assert code == 0, out
    assert "PROBLEM" not in out
    assert [line for line in out.splitlines() if line.startswith("WARNING: 1 outbox message failed")]
    assert out.splitlines()[-1] == "status: ok"
    code, report = status_json(capsys, "--stale-minutes", "29.5")
    assert code == 1 and [p["code"] for p in report["problems"]] == ["outbox_stale"]
    for bad in ("0", "-3", "soon"):
        with pytest.raises(SystemExit) as exited:
            cli_main(["status", "--stale-minutes", bad])
        assert exited.value.code == 2


def test_a_claim_whose_lease_ran_out_is_due_and_counts_from_the_lease_end(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async def fill(s: AsyncSession, now: datetime) -> None:
        # a process died mid-send 20 minutes ago; no other process has taken the row over
        s.add(outbox("sending", now - timedelta(hours=1), claimed_until=now - timedelta(minutes=20),
                     claimed_by="bot-2"))

    prepare(database_url, fill)
    monkeypatch.setenv("OTKLIK_DATABASE_URL", database_url)
    code, report = status_json(capsys)
    assert code == 1
    assert (report["outbox"]["due"], report["outbox"]["lapsed_claims"], report["outbox"]["pending"]) == (1, 1, 0)
    assert 20 * 60 <= report["outbox"]["oldest_due_age_seconds"] < 20 * 60 + 120
    assert [p["code"] for p in report["problems"]] == ["outbox_stale"]


def test_times_print_in_the_regions_zone_with_a_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'otklik.sqlite3'}"

    async def fill(s: AsyncSession, now: datetime) -> None:
        s.add(ProcessedUpdate(platform="tg", key="msg:1:1", processed_at=datetime(2026, 12, 6, 9, 30, tzinfo=UTC)))

    prepare(url, fill)
    monkeypatch.setenv("OTKLIK_DATABASE_URL", url)
    code, out, _ = status(capsys, "--config", CONFIG)
    assert code == 0, out
    assert "last update: tg 2026-12-06 12:30 MSK (" in out  # Europe/Moscow, the shipped config's region
    monkeypatch.setenv("OTKLIK_CONFIG", str(tmp_path / "absent.yaml"))  # named but not there: exit 2
    assert cli_main(["status"]) == 2
    assert "config error" in capsys.readouterr().err


@pytest.mark.parametrize("json_out", [False, True])
def test_a_missing_sqlite_database_is_exit_2_and_nothing_is_created(
    json_out: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "data" / "otklik.sqlite3"
    monkeypatch.setenv("OTKLIK_DATABASE_URL", f"sqlite+aiosqlite:///{missing}")
    code, out, err = status(capsys, *(["--json"] if json_out else []))
    assert code == 2
    assert out == ""
    assert err.startswith(f"error: no database at {missing} — ")
    assert list(tmp_path.iterdir()) == []


def test_an_older_schema_is_a_problem_and_is_left_as_it_is(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async def fill(s: AsyncSession, now: datetime) -> None:  # what 0004 has: no invite tables yet
        citizen = Citizen(platform="tg", platform_user_id="7", chat_id="7", created_at=now)
        s.add(citizen)
        await s.flush()
        # a Core insert of the columns 0004 has: the model's newer columns are not in its table
        await s.execute(insert(Appeal.__table__).values(
            citizen_id=citizen.id, platform="tg", status="triage", text="яма во дворе", photos=[],
            urgent=False, created_at=now - timedelta(hours=1), updated_at=now - timedelta(hours=1)))

    prepare(database_url, fill, revision="0004_outbox_claims")
    monkeypatch.setenv("OTKLIK_DATABASE_URL", database_url)
    code, out, _ = status(capsys)
    assert code == 1
    lines = out.splitlines()
    assert lines[1] == f"schema: 0004_outbox_claims, newest {NEWEST} (behind)"
    assert lines[2].startswith("appeals: 1 open, 1 in triage, 0 overdue")  # what can be read still is
    assert "chats: not readable" in lines
    assert [line for line in lines if line.startswith("PROBLEM:")] == [
        f"PROBLEM: the schema is at 0004_outbox_claims, the newest is {NEWEST}: "
        "run `otklik db upgrade` or start the bot"
    ]
    code, report = status_json(capsys)
    assert code == 1 and report["chats"] is None and report["appeals"]["open"] == 1
    assert report["schema"]["state"] == "behind" and [p["code"] for p in report["problems"]] == ["schema_behind"]
    # only read: not migrated
    assert version(database_url) == ["0004_outbox_claims"]
    assert "invite_codes" not in {row[0] for row in sql(database_url, _TABLES[_backend(database_url)])}


@pytest.mark.parametrize(("damage", "state", "problem"), [
    ("UPDATE alembic_version SET version_num = '0003_supervision'", "behind", "schema_behind"),
    ("DROP TABLE alembic_version", "unstamped", "schema_unstamped"),
    ("UPDATE alembic_version SET version_num = '0099_from_the_future'", "unknown", "schema_unknown"),
])
def test_a_schema_stamp_that_is_not_the_newest_is_a_problem(
    damage: str, state: str, problem: str,
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    prepare(database_url)
    sql(database_url, damage)
    monkeypatch.setenv("OTKLIK_DATABASE_URL", database_url)
    code, report = status_json(capsys)
    assert code == 1
    assert report["schema"]["state"] == state and report["schema"]["up_to_date"] is False
    assert [p["code"] for p in report["problems"]] == [problem]  # the tables themselves read fine
    assert report["appeals"]["open"] == 0 and report["chats"] == {"bound": 0, "open_invites": 0}
    code, out, _ = status(capsys)
    assert code == 1
    [line] = [line for line in out.splitlines() if line.startswith("PROBLEM:")]
    assert line == f"PROBLEM: {report['problems'][0]['message']}"
    assert ("otklik db upgrade" in line) == (state != "unknown")
    assert "0099_from_the_future" in line or state != "unknown"


def test_a_database_without_the_schema_is_a_problem(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    if _backend(database_url) == "sqlite":  # an existing, empty file (PostgreSQL: the fixture's empty schema)
        sqlite3.connect(database_url.split("///", 1)[1]).close()
    monkeypatch.setenv("OTKLIK_DATABASE_URL", database_url)
    code, out, _ = status(capsys)
    assert code == 1
    assert f"schema: none, newest {NEWEST} (empty)" in out.splitlines()
    assert [line for line in out.splitlines() if line.startswith("PROBLEM:")] == [
        "PROBLEM: the database has no Otklik tables: run `otklik db upgrade` or start the bot"
    ]
    code, report = status_json(capsys)
    assert code == 1 and report["appeals"] is None and report["outbox"] is None
    assert sql(database_url, _TABLES[_backend(database_url)]) == []  # still nothing created


_TABLES = {
    "sqlite": "SELECT name FROM sqlite_master WHERE type = 'table'",
    "postgresql": "SELECT tablename FROM pg_tables WHERE schemaname = 'public'",
}


def _backend(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgresql"


def test_failures_of_a_schema_before_0006_count_by_their_last_attempt_and_keep_that_time_on_upgrade(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A database one revision behind (the package upgraded, the bot not yet restarted) still shows its
    outbox figures; the upgrade gives the old failures the time their last attempt was due."""
    async def fill(s: AsyncSession, now: datetime) -> None:  # only 0005's columns, stored as the model stores them
        for n, hours in enumerate((2, 30)):
            await s.execute(insert(OutboxMessage.__table__).values(
                platform="tg", chat_id="1001", purpose="answer", payload={}, status="failed", attempts=1,
                not_before=now - timedelta(hours=hours), created_at=now - timedelta(hours=hours), error=f"e{n}",
            ))

    prepare(database_url, fill, revision="0005_invites")
    monkeypatch.setenv("OTKLIK_DATABASE_URL", database_url)
    code, report = status_json(capsys)
    assert code == 1 and [p["code"] for p in report["problems"]] == ["schema_behind"]
    assert report["outbox"]["failed_24h"] == 1 and report["outbox"]["failed_total"] == 2
    assert report["outbox"]["latest_failure"]["error"] == "e0"

    assert cli_main(["db", "upgrade"]) == 0
    capsys.readouterr()
    rows = sql(database_url, "SELECT error, not_before, failed_at FROM outbox ORDER BY id")
    assert [(r[0], r[1] == r[2]) for r in rows] == [("e0", True), ("e1", True)]
    code, report = status_json(capsys)
    assert report["schema"]["state"] == "current" and report["outbox"]["failed_24h"] == 1
