"""Invite codes on VK end to end: someone in a VK chat (беседа) the community was added to writes
`/bind <code>` (the line `otklik invite ACCOUNT --vk` prints), and the chat becomes the account's —
cards arrive there and replies there answer, across platforms. Refusals are explained there and
the community stays, so a mistyped code can be written again."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from routing.invites import create_invite
from tests.conftest import CITIZEN, VK_ACCOUNT_PEER, Stand, appeal_number, body

POTHOLE = "В Рыбинске на улице Крестовой огромная яма на дороге, машины бьют колёса"
NEW_CHAT = 2000000007
OFFICIAL = 6101
COLLEAGUE = 6102


async def invite(stand: Stand, account: str = "adm_rybinsk", *, age: timedelta = timedelta(0),
                 ttl: timedelta = timedelta(hours=24)) -> str:
    assert stand.app is not None
    code, _ = await create_invite(stand.app.db, account, datetime.now(UTC) - age, ttl)
    return code


async def test_a_vk_chat_bound_by_code_gets_cards_and_answers_a_telegram_citizen(vk_stand: Stand) -> None:
    stand, vk = vk_stand, vk_stand.vk_side
    assert stand.app is not None
    code = await invite(stand)
    vk.add_chat(NEW_CHAT, "Рыбинск: обращения жителей", members=(OFFICIAL, COLLEAGUE))
    # VK puts the community's mention in front when it is picked from the list
    sent = vk.user_sends(NEW_CHAT, OFFICIAL, f"[club{vk.group_id}|@otklik] /bind {code}")
    welcome = await stand.vk_wait(NEW_CHAT, "подключён")
    assert "Рыбинск" in welcome["text"] and "<b>" not in welcome["text"]
    assert welcome["reply_message"]["conversation_message_id"] == sent["conversation_message_id"]
    assert stand.app.desk.chat_role("vk", str(NEW_CHAT)).kind == "account"
    [(platform, chat, account, by)] = await stand.query(
        "select platform, chat_id, account_code, bound_by from chat_bindings")
    assert (platform, chat, account) == ("vk", str(NEW_CHAT), "adm_rybinsk") and by.startswith(f"vk:{OFFICIAL} ")

    # the account's new cards go to the bound VK chat, not to its Telegram group from the config
    stand.citizen_says(POTHOLE)
    number = appeal_number(await stand.wait(CITIZEN, "принято"))
    card = await stand.vk_wait(NEW_CHAT, f"№{number}")
    assert POTHOLE in card["text"]
    assert not [m for m in stand.tg.bot_messages(stand.chat("adm_rybinsk")) if f"№{number}" in body(m)]
    vk.user_sends(NEW_CHAT, COLLEAGUE, "Яму на Крестовой заделаем завтра утром.",
                  reply_to=card["conversation_message_id"])
    answer = await stand.wait(CITIZEN, "Ответ по обращению")
    assert "Яму на Крестовой заделаем завтра утром." in body(answer)

    # the binding outlives a restart
    await stand.stop()
    await stand.start()
    assert stand.app.desk.chat_role("vk", str(NEW_CHAT)).kind == "account"


async def test_refused_codes_are_explained_and_the_community_stays(vk_stand: Stand) -> None:
    stand, vk = vk_stand, vk_stand.vk_side
    assert stand.app is not None
    vk.add_chat(NEW_CHAT, "Новая беседа", members=(OFFICIAL,))
    vk.user_sends(NEW_CHAT, OFFICIAL, "/bind " + "X" * 22)
    assert "не найден" in (await stand.vk_wait(NEW_CHAT, "Код приглашения"))["text"]
    stale = await invite(stand, age=timedelta(days=2), ttl=timedelta(hours=1))
    vk.user_sends(NEW_CHAT, OFFICIAL, f"/bind {stale}")
    await stand.vk_wait(NEW_CHAT, "истёк")
    assert not [n for n, _ in vk.calls if n == "messages.removeChatUser"]  # stays: the admin may try again
    assert stand.app.desk.chat_role("vk", str(NEW_CHAT)).kind == "unknown"

    # a code written in a chat that already has a role is refused there and not spent
    good = await invite(stand)
    vk.user_sends(VK_ACCOUNT_PEER, OFFICIAL, f"/bind {good}")
    await stand.vk_wait(VK_ACCOUNT_PEER, "другой роли")
    # a bare /bind asks for nothing: the unknown chat stays ignored
    vk.user_sends(NEW_CHAT, OFFICIAL, "/bind")
    vk.user_sends(NEW_CHAT, OFFICIAL, f"/start {good}")  # the Telegram habit works too
    await stand.vk_wait(NEW_CHAT, "подключён")
    assert len(vk.bot_messages(NEW_CHAT)) == 3  # two refusals and the welcome, nothing for the bare /bind
    [(used_chat,)] = await stand.query("select used_chat_id from invite_codes where used_at is not null")
    assert used_chat == str(NEW_CHAT)
