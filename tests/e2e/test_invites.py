"""Invite codes end to end: an admin adds the bot to a new group through the deep link, Telegram
sends `/start@bot <code>` there, and the group becomes the account's chat — cards arrive there and
replies there answer. Refused codes are explained and the bot leaves a group nobody bound."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.config import OtklikConfig
from routing import texts
from routing.invites import create_invite
from tests.conftest import CITIZEN, Stand, appeal_number, body

POTHOLE = "В Рыбинске на улице Крестовой огромная яма на дороге, машины бьют колёса"
ADMIN = 5001
NEW_OFFICIAL = 5002
GROUP = -1009990000001
OTHER_GROUP = -1009990000002


def quick_config(config: OtklikConfig) -> OtklikConfig:
    # the outbox's rate limits are tested on their own; here they would only slow the chats down
    return config.model_copy(update={"delivery": config.delivery.model_copy(update={"rate_limits": False})})


@pytest.fixture
def config(config: OtklikConfig) -> OtklikConfig:
    return quick_config(config)


async def invite(stand: Stand, account: str = "adm_rybinsk", *, age: timedelta = timedelta(0),
                 ttl: timedelta = timedelta(hours=24)) -> str:
    assert stand.app is not None
    code, _ = await create_invite(stand.app.db, account, datetime.now(UTC) - age, ttl)
    return code


def left(stand: Stand, chat_id: int) -> bool:
    return any(name == "leaveChat" and int(params.get("chat_id", 0)) == chat_id for name, params in stand.tg.calls)


async def test_a_group_bound_by_invite_gets_cards_and_answers(stand: Stand) -> None:
    code = await invite(stand)
    stand.tg.add_bot_to_group(GROUP, ADMIN, title="Рыбинск: обращения", start=code)
    welcome = await stand.wait(GROUP, "подключён")
    assert "Рыбинск" in body(welcome)
    assert stand.app is not None and stand.app.desk.chat_role("tg", str(GROUP)).kind == "account"
    [(platform, chat, account, by)] = await stand.query(
        "select platform, chat_id, account_code, bound_by from chat_bindings"
    )
    assert (platform, chat, account) == ("tg", str(GROUP), "adm_rybinsk") and by.startswith(f"tg:{ADMIN} ")
    [(used_at, used_chat, code_hash)] = await stand.query("select used_at, used_chat_id, code_hash from invite_codes")
    assert used_at is not None and used_chat == str(GROUP) and code not in code_hash  # only the hash is kept

    stand.citizen_says(POTHOLE)
    number = appeal_number(await stand.wait(CITIZEN, "принято"))
    card = await stand.wait(GROUP, f"№{number}")
    assert POTHOLE in body(card)
    stand.tg.set_member(GROUP, NEW_OFFICIAL)
    # /open in the bound group lists the account's appeals
    stand.tg.user_sends(GROUP, NEW_OFFICIAL, "/open")
    assert f"№{number}" in body(await stand.wait(GROUP, "Открытые обращения"))
    # the card's buttons work there for its members
    stand.press(GROUP, card, "take:", user=NEW_OFFICIAL)
    await stand.wait(CITIZEN, "взято в работу")
    stand.official_replies(GROUP, card["message_id"], "Бригада выехала, яму заделают сегодня.", user=NEW_OFFICIAL)
    answer = await stand.wait(CITIZEN, "Ответ по обращению")
    assert "Бригада выехала" in body(answer)
    assert not left(stand, GROUP)

    # the binding outlives a restart: loaded at start
    await stand.stop()
    await stand.start()
    assert stand.app.desk.chat_role("tg", str(GROUP)).kind == "account"
    stand.citizen_says("/new")
    await stand.wait(CITIZEN, "новую проблему")
    stand.citizen_says("В Рыбинске на улице Ломоносова огромная яма на дороге, машины бьют колёса")
    second = appeal_number(await stand.wait(CITIZEN, "принято", count=2))
    await stand.wait(GROUP, f"№{second}")


async def test_a_used_code_is_refused_and_the_bot_leaves(stand: Stand) -> None:
    code = await invite(stand)
    stand.tg.add_bot_to_group(GROUP, ADMIN, start=code)
    await stand.wait(GROUP, "подключён")
    stand.tg.add_bot_to_group(OTHER_GROUP, ADMIN, start=code)
    refusal = await stand.wait(OTHER_GROUP, "уже использован")
    assert refusal["reply_to_message_id"]
    await stand.tg.wait_for(lambda: left(stand, OTHER_GROUP))
    assert not left(stand, GROUP)
    assert stand.app is not None and stand.app.desk.chat_role("tg", str(OTHER_GROUP)).kind == "unknown"
    assert len(await stand.query("select id from chat_bindings")) == 1


@pytest.mark.parametrize(
    ("case", "expected"),
    [("unknown", texts.INVITE_UNKNOWN), ("expired", texts.INVITE_EXPIRED), ("garbage", texts.INVITE_UNKNOWN)],
)
async def test_unknown_and_expired_codes_are_refused_and_the_bot_leaves(
    stand: Stand, case: str, expected: str
) -> None:
    await invite(stand)  # codes are about: the bot waits for /start instead of leaving at once
    if case == "expired":
        code = await invite(stand, age=timedelta(hours=2), ttl=timedelta(hours=1))
    elif case == "unknown":
        code = "A" * 22  # the right shape, never issued
    else:
        code = "'; drop table invite_codes; --"
    stand.tg.add_bot_to_group(GROUP, ADMIN, start=code)
    refusal = await stand.wait(GROUP, expected[:30])
    assert body(refusal) == expected
    await stand.tg.wait_for(lambda: left(stand, GROUP))
    assert await stand.query("select id from chat_bindings") == []
    assert len(await stand.query("select id from invite_codes where used_at is null")) >= 1


async def test_a_code_sent_in_a_chat_with_another_role_is_not_spent(stand: Stand) -> None:
    code = await invite(stand)
    triage = stand.triage
    stand.tg.user_sends(triage, ADMIN, f"/start@{stand.tg.bot_username} {code}")
    await stand.wait(triage, "другой роли")
    assert not left(stand, triage)
    # the same code still binds a new group afterwards
    stand.tg.add_bot_to_group(GROUP, ADMIN, start=code)
    await stand.wait(GROUP, "подключён")


async def test_added_without_a_code_and_no_invite_about_leaves_at_once(stand: Stand) -> None:
    stand.tg.add_bot_to_group(GROUP, ADMIN)
    await stand.tg.wait_for(lambda: left(stand, GROUP))


async def test_added_without_a_code_while_an_invite_is_open_leaves_after_the_grace(stand: Stand) -> None:
    await invite(stand)
    assert stand.app is not None
    stand.app.desk.invites.join_grace = 0.5
    stand.tg.add_bot_to_group(GROUP, ADMIN)
    await stand.idle()
    assert not left(stand, GROUP)
    await stand.tg.wait_for(lambda: left(stand, GROUP), timeout=5)


async def test_the_link_then_start_in_two_steps_binds(stand: Stand) -> None:
    """The join and the /start may come in separate batches: the grace keeps the bot there."""
    code = await invite(stand)
    stand.tg.add_bot_to_group(GROUP, ADMIN)
    await stand.idle()
    stand.tg.user_sends(GROUP, ADMIN, f"/start {code}")  # without the mention, as some clients send it
    await stand.wait(GROUP, "подключён")
    assert stand.app is not None
    stand.app.desk.invites.join_grace = 0.1
    assert not left(stand, GROUP)


async def test_bind_typed_in_a_group_the_bot_was_added_to_by_hand_binds(stand: Stand) -> None:
    """Added without the link (while a code is open, so the bot waits), an admin types the code."""
    code = await invite(stand)
    stand.tg.add_bot_to_group(GROUP, ADMIN)
    await stand.idle()
    stand.tg.user_sends(GROUP, ADMIN, "/bind")  # no code: nothing to answer
    stand.tg.user_sends(GROUP, ADMIN, f"/bind@{stand.tg.bot_username} {code}")
    await stand.wait(GROUP, "подключён")
    assert stand.app is not None and stand.app.desk.chat_role("tg", str(GROUP)).kind == "account"
    assert len(stand.tg.bot_messages(GROUP)) == 1 and not left(stand, GROUP)
