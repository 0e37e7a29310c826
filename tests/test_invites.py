"""Invite codes and chat bindings without the bot: codes, lifetimes, links, the in-memory map, and
every outcome of redeeming a code against a real database."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.cli import main as cli_main
from bot.config import Account, OtklikConfig
from routing.clock import Clock
from routing.inbound import InboundMessage, Sender
from routing.invites import (
    ChatBindings,
    ChatInvites,
    code_hash,
    create_invite,
    deep_link,
    looks_like_code,
    new_code,
    parse_ttl,
)
from storage.db import Database
from storage.models import ChatBinding, InviteCode, OutboxMessage
from tests.conftest import SHIPPED_CONFIG

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


class FixedClock(Clock):
    def __init__(self, now: datetime) -> None:
        self.at = now

    def now(self) -> datetime:
        return self.at


@dataclass(frozen=True)
class Role:
    kind: str
    account: Account | None = None


def test_codes_are_random_url_safe_and_stored_as_a_hash() -> None:
    codes = {new_code() for _ in range(200)}
    assert len(codes) == 200
    assert all(looks_like_code(c) and 16 <= len(c) <= 64 for c in codes)
    code = next(iter(codes))
    assert len(code_hash(code)) == 64 and code not in code_hash(code)
    assert code_hash(code) == code_hash(code) != code_hash(code + "x")
    assert not looks_like_code("short") and not looks_like_code("a b" * 10) and not looks_like_code("x" * 65)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("24h", timedelta(hours=24)), ("30m", timedelta(minutes=30)), ("7d", timedelta(days=7)),
     ("1w", timedelta(weeks=1)), ("90s", timedelta(seconds=90)), (" 2 h ", timedelta(hours=2))],
)
def test_ttl(text: str, expected: timedelta) -> None:
    assert parse_ttl(text) == expected


@pytest.mark.parametrize("text", ["", "24", "h", "0h", "-1h", "1y", "1.5h", "24hours"])
def test_bad_ttl(text: str) -> None:
    with pytest.raises(ValueError):
        parse_ttl(text)


def test_deep_link() -> None:
    assert deep_link("@otklik_bot", "abc_DEF-123") == "https://t.me/otklik_bot?startgroup=abc_DEF-123"


def test_bindings_map() -> None:
    bindings = ChatBindings()
    assert bindings.chat_of("a") is None and bindings.account_of("tg", "-1") is None
    bindings.add("tg", "-1", "a")
    bindings.add("tg", "-2", "a")
    assert bindings.chat_of("a") == ("tg", "-2")  # the newest binding gets new cards
    assert bindings.chats_of("a") == [("tg", "-1"), ("tg", "-2")]
    bindings.add("tg", "-2", "b")  # a chat moves: it leaves its old account
    assert bindings.chat_of("a") == ("tg", "-1") and bindings.chat_of("b") == ("tg", "-2")
    assert bindings.account_of("tg", "-2") == "b" and bindings.account_of("vk", "-2") is None
    assert len(bindings) == 2


def message(chat_id: str, key: str, user: str = "77") -> InboundMessage:
    return InboundMessage(key=key, platform="tg", chat_id=chat_id, message_id="5",
                          sender=Sender("tg", user, "Админ"), at=NOW, text="/start")


@pytest.fixture
async def db(database_url: str) -> Database:
    database = Database(database_url)
    await database.upgrade()
    yield database  # type: ignore[misc]
    await database.dispose()


def invites_for(db: Database, config: OtklikConfig, roles: dict[str, Role], clock: FixedClock) -> ChatInvites:
    bindings = ChatBindings()
    return ChatInvites(db, config, clock, bindings, lambda _p, chat: roles.get(chat, Role("unknown")))


async def test_every_outcome_of_a_code(db: Database, config: OtklikConfig) -> None:
    clock = FixedClock(NOW)
    rybinsk = config.account("adm_rybinsk")
    roles = {"-100": Role("triage"), "-200": Role("account", rybinsk)}
    invites = invites_for(db, config, roles, clock)
    good, _ = await create_invite(db, "adm_rybinsk", NOW)
    stale, expires = await create_invite(db, "adm_rybinsk", NOW - timedelta(days=2), timedelta(hours=1))
    assert expires == NOW - timedelta(days=2) + timedelta(hours=1)
    gone, _ = await create_invite(db, "adm_rybinsk", NOW)
    async with db.transaction() as s:
        row = (await s.execute(select(InviteCode).where(InviteCode.code_hash == code_hash(gone)))).scalar_one()
        row.account_code = "removed_account"

    assert (await invites.bind(message("-1", "k1"), "A" * 22)).outcome == "unknown"
    assert (await invites.bind(message("-1", "k2"), stale)).outcome == "expired"
    assert (await invites.bind(message("-1", "k3"), gone)).outcome == "no_account"
    assert (await invites.bind(message("-100", "k4"), good)).outcome == "taken"
    assert (await invites.bind(message("-200", "k5"), good)).outcome == "already"
    assert invites.bindings.account_of("tg", "-1") is None
    result = await invites.bind(message("-1", "k6"), good)
    assert result.bound and result.account_code == "adm_rybinsk"
    assert invites.bindings.account_of("tg", "-1") == "adm_rybinsk"
    assert (await invites.bind(message("-1", "k6"), good)).outcome == "duplicate"  # the same update again
    assert (await invites.bind(message("-2", "k7"), good)).outcome == "used"

    async with db.transaction() as s:
        [binding] = (await s.execute(select(ChatBinding))).scalars().all()
        assert (binding.chat_id, binding.account_code, binding.bound_by) == ("-1", "adm_rybinsk", "tg:77 (Админ)")
        replies = (await s.execute(select(OutboxMessage).order_by(OutboxMessage.id))).scalars().all()
    # every attempt is answered in its chat; the bot leaves only groups it has no role in
    by_chat = [(r.chat_id, r.payload["type"]) for r in replies]
    assert ("-100", "leave") not in by_chat and ("-200", "leave") not in by_chat and ("-1", "leave") in by_chat
    assert ("-2", "text") in by_chat and ("-2", "leave") in by_chat

    # the map is rebuilt from the table at start
    fresh = ChatBindings()
    await fresh.load(db)
    assert fresh.account_of("tg", "-1") == "adm_rybinsk" and fresh.chat_of("adm_rybinsk") == ("tg", "-1")


async def test_one_code_binds_one_chat_even_when_two_race(db: Database, config: OtklikConfig) -> None:
    invites = invites_for(db, config, {}, FixedClock(NOW))
    code, _ = await create_invite(db, "adm_rybinsk", NOW)
    results = await asyncio.gather(*(invites.bind(message(f"-{i}", f"race{i}"), code) for i in range(1, 6)))
    assert sorted(r.outcome for r in results) == ["bound", "used", "used", "used", "used"]
    async with db.transaction() as s:
        assert len((await s.execute(select(ChatBinding))).scalars().all()) == 1


async def test_expecting_codes(db: Database, config: OtklikConfig) -> None:
    clock = FixedClock(NOW)
    invites = invites_for(db, config, {}, clock)
    assert not await invites.expecting_codes()
    await create_invite(db, "adm_rybinsk", NOW, timedelta(hours=1))
    assert await invites.expecting_codes()
    clock.at = NOW + timedelta(days=3)  # expired lately: a click on it still deserves words
    assert await invites.expecting_codes()
    clock.at = NOW + timedelta(days=30)
    assert not await invites.expecting_codes()


def test_cli_prints_a_deep_link(tmp_path: object, monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/cli.sqlite3"
    monkeypatch.setenv("OTKLIK_DATABASE_URL", url)
    monkeypatch.delenv("OTKLIK_TELEGRAM_TOKEN", raising=False)
    args = ["invite", "adm_rybinsk", "--config", str(SHIPPED_CONFIG), "--ttl", "2h", "--bot-username", "otklik_bot"]
    assert cli_main(args) == 0
    link = capsys.readouterr().out.strip()
    prefix = "https://t.me/otklik_bot?startgroup="
    assert link.startswith(prefix) and looks_like_code(link[len(prefix):])

    async def stored() -> list[InviteCode]:
        database = Database(url)
        async with database.transaction() as s:
            rows = list((await s.execute(select(InviteCode))).scalars())
        await database.dispose()
        return rows

    [row] = asyncio.run(stored())
    assert row.code_hash == code_hash(link[len(prefix):]) and row.account_code == "adm_rybinsk"
    assert timedelta(hours=1, minutes=59) < row.expires_at - row.created_at <= timedelta(hours=2)
    assert cli_main(["invite", "nope", "--config", str(SHIPPED_CONFIG), "--bot-username", "b"]) == 2
    assert cli_main(["invite", "adm_rybinsk", "--config", str(SHIPPED_CONFIG), "--ttl", "soon",
                     "--bot-username", "b"]) == 2
    assert cli_main(["invite", "adm_rybinsk", "--config", str(SHIPPED_CONFIG)]) == 2  # no token, no username
    capsys.readouterr()

    # for a VK chat: the line to write there, no token or username needed
    assert cli_main(["invite", "adm_uglichsky", "--config", str(SHIPPED_CONFIG), "--vk"]) == 0
    printed = capsys.readouterr()
    command, vk_code = printed.out.split()
    assert command == "/bind" and looks_like_code(vk_code) and "VK" in printed.err
    rows = asyncio.run(stored())
    assert [r.account_code for r in rows if r.code_hash == code_hash(vk_code)] == ["adm_uglichsky"]


def test_check_config_shows_the_chats_bound_by_invite(tmp_path: object, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    path = f"{tmp_path}/bindings.sqlite3"
    monkeypatch.setenv("OTKLIK_DATABASE_URL", f"sqlite+aiosqlite:///{path}")
    # before the bot ever ran: said so, and no database is created by looking
    assert cli_main(["check-config", "--config", str(SHIPPED_CONFIG)]) == 0
    out = capsys.readouterr().out
    assert "Chats bound by invite: not read (no database yet)" in out
    assert "WARNING: 30 of 30 chats are placeholders" in out
    assert not Path(path).exists()

    async def bind() -> None:
        database = Database(f"sqlite+aiosqlite:///{path}")
        await database.upgrade()
        async with database.transaction() as s:
            s.add_all([
                ChatBinding(platform="tg", chat_id="-100777", account_code="adm_rybinsk", bound_at=NOW, bound_by="t"),
                ChatBinding(platform="tg", chat_id="-100778", account_code="adm_rybinsk",
                            bound_at=NOW + timedelta(hours=1), bound_by="t"),
                ChatBinding(platform="vk", chat_id="2000000005", account_code="closed_office", bound_at=NOW,
                            bound_by="t"),
            ])
        await database.dispose()

    asyncio.run(bind())
    assert cli_main(["check-config", "--config", str(SHIPPED_CONFIG)]) == 0
    out = capsys.readouterr().out
    [line] = [x for x in out.splitlines() if x.strip().startswith("adm_rybinsk ")]
    assert "bound by invite: telegram -100778" in line  # the newest binding, where new cards go
    assert "Chats bound by invite (in the database): 3" in out
    # the bound account's placeholder no longer counts; a binding to an unknown account is named
    assert "WARNING: 29 of 30 chats are placeholders" in out
    assert "accounts this config does not have: closed_office" in out
    assert "not read" not in out
