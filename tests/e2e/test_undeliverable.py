"""Messages the platform refuses for good, end to end: nobody who relies on them is left unaware.

A card the account's chat cannot take (the bot was removed from the group) sends the appeal back to
the ЦУР's triage instead of letting it wait unseen until its deadline; an answer the citizen cannot
be sent (they blocked the bot) is reported to the account under the card.
"""
from __future__ import annotations

import pytest

from bot.config import OtklikConfig
from routing import texts
from routing.lifecycle import Status
from tests.conftest import (
    CITIZEN,
    OFFICIAL,
    OPERATOR,
    VK_ACCOUNT,
    VK_ACCOUNT_PEER,
    VK_CITIZEN,
    Stand,
    appeal_number,
    body,
)
from tests.e2e.support import quick_config

POTHOLE = "В Рыбинске на улице Крестовой огромная яма на дороге, машины бьют колёса"
LIGHTS = "В Угличе не работает уличное освещение на улице Ярославской"  # to the VK account's chat


@pytest.fixture
def config(config: OtklikConfig) -> OtklikConfig:
    return quick_config(config)


async def test_a_card_the_accounts_chat_cannot_take_goes_to_triage(stand: Stand) -> None:
    chat = stand.chat("adm_rybinsk")
    stand.tg.set_member(chat, stand.tg.bot_id, "kicked")  # removed from the group; the config still names it

    stand.citizen_says(POTHOLE)
    number = appeal_number(await stand.wait(CITIZEN, "принято"))
    triage_card = await stand.wait(stand.triage, f"№{number}")
    assert "карточка не доставлена в чат «Администрация городского округа город Рыбинск»" in body(triage_card)
    assert "бота нет в чате" in body(triage_card) and "bot was kicked" in body(triage_card)
    assert not [m for m in stand.tg.bot_messages(chat) if f"№{number}" in body(m)]

    [appeal] = await stand.appeals()
    assert appeal.status == Status.TRIAGE and appeal.account_code is None
    events = await stand.query("select action, detail from appeal_events where appeal_id = :a order by id", a=number)
    assert [e[0] for e in events] == ["created", "registered", "routed", "delivery_failed", "card_undeliverable"]
    [failed] = await stand.query("select status, error, failed_at from outbox where purpose = 'card'")
    assert failed[0] == "failed" and "kicked" in failed[1] and failed[2] is not None

    # the account whose chat failed is offered last; the bot is back in the group, and the operator
    # sends the appeal there again from the triage card
    routes = [b["callback_data"] for row in triage_card["reply_markup"]["inline_keyboard"] for b in row
              if b["callback_data"].startswith("route:")]
    assert routes[-1] == f"route:{number}:adm_rybinsk"
    stand.tg.set_member(chat, stand.tg.bot_id, "member")
    stand.tg.user_presses(stand.triage, triage_card["message_id"], OPERATOR, routes[-1])
    card = await stand.wait(chat, f"№{number}")
    assert POTHOLE in body(card)
    [appeal] = await stand.appeals()
    assert appeal.status == Status.ROUTED and appeal.account_code == "adm_rybinsk"


async def test_an_answer_the_citizen_cannot_get_is_reported_to_the_account(stand: Stand) -> None:
    stand.citizen_says(POTHOLE)
    number = appeal_number(await stand.wait(CITIZEN, "принято"))
    chat = stand.chat("adm_rybinsk")
    card = await stand.wait(chat, f"№{number}")

    stand.tg.block_bot(CITIZEN)
    stand.official_replies(chat, card["message_id"], "Яму заделаем до пятницы, бригада выехала.")
    alert = await stand.wait(chat, "не доставлен")
    assert f"№{number}: ответ не доставлен заявителю" in body(alert)
    assert "бот заблокирован получателем" in body(alert) and "blocked by the user" in body(alert)
    assert alert["reply_to_message_id"] == card["message_id"]

    [appeal] = await stand.appeals()
    assert appeal.status == Status.ANSWERED  # the account did answer; the history says it did not arrive
    events = await stand.query(
        "select action from appeal_events where appeal_id = :a and action = 'delivery_failed'", a=number
    )
    assert len(events) == 1
    [failed] = await stand.query("select purpose, failed_at from outbox where status = 'failed'")
    assert failed[0] == "answer" and failed[1] is not None
    # only the one alert: the account's chat took it, nothing else failed
    await stand.idle()
    assert len([m for m in stand.tg.bot_messages(chat) if "не доставлен" in body(m)]) == 1


@pytest.mark.parametrize(("error", "why"), [
    ("TelegramForbiddenError: Forbidden: bot was blocked by the user", "бот заблокирован получателем"),
    ("VK error 901: Can't send messages for users without permission", "бот заблокирован получателем"),
    ("TelegramForbiddenError: Forbidden: bot is not a member of the supergroup chat", "бота нет в чате (удалён из группы, чат удалён или перенесён)"),
    ("VK error 917: You don't have access to this chat", "бота нет в чате (удалён из группы, чат удалён или перенесён)"),
    ("chat migrated to -1009; update the config", "бота нет в чате (удалён из группы, чат удалён или перенесён)"),
    ("gave up after 15 attempts: VK HTTP 502", "платформа отказала в доставке"),
])
def test_the_refusal_is_told_in_words_with_the_platforms_own_after_them(error: str, why: str) -> None:
    alert = texts.answer_undeliverable(7, error + " <b>")
    assert alert.startswith("⚠️ №7: ответ <b>не доставлен</b> заявителю: " + why + " — ")
    assert texts.esc(error + " <b>") in alert  # the platform's words, escaped for the HTML message
    reason = texts.card_undeliverable("Мэрия", error)
    assert reason.startswith(f"карточка не доставлена в чат «Мэрия»: {why} — {error}")  # plain: the card escapes


async def test_vk_a_citizen_who_blocked_the_community_and_a_vk_chat_without_it(vk_stand: Stand) -> None:
    stand, vk = vk_stand, vk_stand.vk_side
    # a VK citizen's answer, written in a Telegram chat, cannot reach them: the Telegram chat is told
    stand.vk_citizen_says(POTHOLE)
    number = appeal_number(await stand.vk_wait(VK_CITIZEN, "принято"))
    chat = stand.chat("adm_rybinsk")
    card = await stand.wait(chat, f"№{number}")
    vk.deny_messages(VK_CITIZEN)
    stand.official_replies(chat, card["message_id"], "Яму заделаем до пятницы, бригада выехала.")
    alert = await stand.wait(chat, "не доставлен")
    assert f"№{number}: ответ не доставлен заявителю: бот заблокирован получателем — VK error 901" in body(alert)
    assert alert["reply_to_message_id"] == card["message_id"]

    # the community was removed from the VK account's chat: its card goes to the ЦУР's triage instead
    vk.remove_bot(VK_ACCOUNT_PEER)
    stand.citizen_says(LIGHTS)
    second = appeal_number(await stand.wait(CITIZEN, "принято"))
    triage_card = await stand.wait(stand.triage, f"№{second}")
    name = stand.config.account(VK_ACCOUNT).name
    assert f"карточка не доставлена в чат «{name}»: бота нет в чате" in body(triage_card)
    assert "VK error 917" in body(triage_card)
    [appeal] = [a for a in await stand.appeals() if a.id == second]
    assert appeal.status == Status.TRIAGE and appeal.account_code is None


async def test_the_centre_hears_at_once_when_the_bot_is_removed_from_a_staff_chat(stand: Stand) -> None:
    stand.citizen_says(POTHOLE)
    number = appeal_number(await stand.wait(CITIZEN, "принято"))
    chat = stand.chat("adm_rybinsk")
    await stand.wait(chat, f"№{number}")

    stand.tg.remove_bot_from_group(chat, OFFICIAL)
    alert = await stand.wait(stand.triage, "Бота удалили")
    assert body(alert) == (
        "⚠️ Бота удалили из чата «Администрация городского округа город Рыбинск» (удалил: Иван Петрович). "
        "Новые обращения туда не дойдут: их карточки вернутся сюда, на разбор. Открытых обращений у "
        "исполнителя: 1. Верните бота в чат или привяжите другой: otklik invite adm_rybinsk."
    )

    # and losing the triage chat itself is told to the supervisors
    supervisors = stand.config.supervisors.telegram_chat
    assert supervisors is not None
    stand.tg.remove_bot_from_group(stand.triage, OPERATOR)
    lost = await stand.wait(supervisors, "Бота удалили")
    assert "из чата разбора обращений (ЦУР)" in body(lost) and "Верните бота в чат" in body(lost)
    await stand.idle()
    assert len([m for m in stand.tg.bot_messages(stand.triage) if "Бота удалили" in body(m)]) == 1


async def test_a_triage_card_the_triage_chat_cannot_take_is_told_to_the_supervisors(stand: Stand) -> None:
    stand.citizen_says(POTHOLE)
    number = appeal_number(await stand.wait(CITIZEN, "принято"))
    chat = stand.chat("adm_rybinsk")
    card = await stand.wait(chat, f"№{number}")
    stand.tg.set_member(stand.triage, stand.tg.bot_id, "kicked")  # silently: no update about it

    stand.press(chat, card, "reject:", user=OFFICIAL)
    prompt = await stand.wait(chat, "укажите, пожалуйста, причину")
    stand.official_replies(chat, prompt["message_id"], "Это дорога регионального значения")
    supervisors = stand.config.supervisors.telegram_chat
    assert supervisors is not None
    alert = await stand.wait(supervisors, f"№{number} ждёт исполнителя")
    assert "не доставлена в чат разбора (ЦУР): бота нет в чате" in body(alert) and "bot was kicked" in body(alert)
    [appeal] = await stand.appeals()
    assert appeal.status == Status.TRIAGE
