"""Staff chats' own commands: `/card N`, the appeal's card again at the bottom of the chat (the first
one has scrolled far up in a busy group), and `/help`, what this chat can do. Real aiogram and vk-api
clients against the stand-ins."""
from __future__ import annotations

from routing import texts
from routing.lifecycle import Status
from tests.conftest import (
    CITIZEN,
    OFFICIAL,
    OPERATOR,
    VK_ACCOUNT_PEER,
    VK_OFFICIAL,
    Stand,
    appeal_number,
    body,
    buttons,
    vk_buttons,
)
from tests.e2e.test_trained_router import MIDWIFE

POTHOLE = "В Рыбинске на улице Крестовой огромная яма на дороге, машины бьют колёса"
LIGHTS = "В Угличе не работает уличное освещение на улице Ярославской"


async def test_the_card_again_is_a_live_card(stand: Stand) -> None:
    stand.citizen_says(POTHOLE)
    number = appeal_number(await stand.wait(CITIZEN, "принято"))
    chat = stand.chat("adm_rybinsk")
    first = await stand.wait(chat, f"№{number}")
    stand.tg.user_sends(chat, OFFICIAL, f"/card {number}")
    again = await stand.wait(chat, f"№{number}", count=2)
    assert again["message_id"] != first["message_id"]
    assert POTHOLE in body(again) and buttons(again) == ["Взять в работу", "Не наша компетенция"]
    # the first card says where the live one is and keeps no buttons that look live (QA)
    await stand.tg.wait_for(lambda: "Карточка повторена ниже" in body(stand.current(chat, first["message_id"])))
    assert buttons(stand.current(chat, first["message_id"])) == []

    stand.press(chat, again, "take:", user=OFFICIAL)  # its buttons act
    await stand.wait(CITIZEN, "взято в работу")
    await stand.tg.wait_for(lambda: buttons(stand.current(chat, again["message_id"]))[0] == "Промежуточный ответ")
    stand.official_replies(chat, again["message_id"], "Яму на Крестовой заделаем до пятницы.")  # a reply answers
    answer = await stand.wait(CITIZEN, "Ответ по обращению")
    assert "до пятницы" in body(answer)
    # status changes are shown on the newest card
    await stand.tg.wait_for(lambda: "ответ отправлен" in body(stand.current(chat, again["message_id"])))
    [appeal] = await stand.appeals()
    assert appeal.status == Status.ANSWERED


async def test_another_chats_appeal_and_a_missing_number_are_refused(stand: Stand) -> None:
    stand.citizen_says(POTHOLE)
    number = appeal_number(await stand.wait(CITIZEN, "принято"))
    await stand.wait(stand.chat("adm_rybinsk"), f"№{number}")
    other = stand.chat("adm_uglichsky")
    stand.tg.user_sends(other, OFFICIAL, f"/card {number}")
    await stand.wait(other, f"Обращение №{number} не относится к этому чату")
    stand.tg.user_sends(other, OFFICIAL, "/card 999")  # one that does not exist: told the same, nothing leaks
    await stand.wait(other, "Обращение №999 не относится к этому чату")
    stand.tg.user_sends(other, OFFICIAL, "/card")
    await stand.wait(other, "Укажите номер обращения: /card 123")
    assert not any(f"№{number}\n" in body(m) for m in stand.tg.bot_messages(other))


async def test_the_triage_chat_gets_a_waiting_appeals_triage_card_or_a_status_line(stand: Stand) -> None:
    stand.citizen_says(MIDWIFE)  # the router is unsure: it waits in triage
    waiting = appeal_number(await stand.wait(CITIZEN, "принято"))
    await stand.wait(stand.triage, f"№{waiting}")
    stand.tg.user_sends(stand.triage, OPERATOR, f"/card №{waiting}")
    again = await stand.wait(stand.triage, f"№{waiting}", count=2)
    assert any(b for b in buttons(again))
    stand.press(stand.triage, again, f"route:{waiting}:gas_operator", user=OPERATOR)
    await stand.wait(stand.chat("gas_operator"), f"№{waiting}")

    stand.tg.user_sends(stand.triage, OPERATOR, f"/card {waiting}")  # routed now: where it is
    line = await stand.wait(stand.triage, "Исполнитель:")
    assert f"№{waiting}" in body(line) and stand.config.account("gas_operator").name in body(line)
    stand.tg.user_sends(stand.triage, OPERATOR, "/card 999")
    await stand.wait(stand.triage, "Обращения №999 нет")


async def test_card_again_in_a_vk_chat(vk_stand: Stand) -> None:
    stand, vk = vk_stand, vk_stand.vk_side
    stand.citizen_says(LIGHTS)
    number = appeal_number(await stand.wait(CITIZEN, "принято"))
    first = await stand.vk_wait(VK_ACCOUNT_PEER, f"№{number}")
    vk.user_sends(VK_ACCOUNT_PEER, VK_OFFICIAL, f"/card {number}")
    await vk.wait_for(lambda: len([m for m in vk.bot_messages(VK_ACCOUNT_PEER) if f"№{number}\n" in m["text"]]) == 2)
    again = [m for m in vk.bot_messages(VK_ACCOUNT_PEER) if f"№{number}\n" in m["text"]][-1]
    assert again["conversation_message_id"] != first["conversation_message_id"]
    assert vk_buttons(again) == ["Взять в работу", "Не наша компетенция"]
    await stand.idle()
    vk.user_sends(VK_ACCOUNT_PEER, VK_OFFICIAL, "Фонари на Ярославской починим завтра.",
                  reply_to=again["conversation_message_id"])
    answer = await stand.wait(CITIZEN, "Ответ по обращению")
    assert "починим завтра" in body(answer)


async def test_help_in_each_staff_chat_says_what_that_chat_can_do(stand: Stand) -> None:
    chat = stand.chat("adm_rybinsk")
    stand.tg.user_sends(chat, OFFICIAL, "/help")
    account = await stand.wait(chat, "Сюда приходят обращения жителей")
    assert stand.config.account("adm_rybinsk").name in body(account)
    assert "/open" in body(account) and "/card N" in body(account) and "/rating" not in body(account)
    stand.tg.user_sends(stand.triage, OPERATOR, "/help")
    triage = await stand.wait(stand.triage, "чат разбора")
    assert "/card N" in body(triage) and "/overdue" in body(triage) and "Спросить жителя" in body(triage)
    # QA: /overdue in the triage chat and /open in the supervisors' chat got no answer at all
    stand.tg.user_sends(stand.triage, OPERATOR, "/overdue")
    assert "Просроченных обращений нет" in body(await stand.wait(stand.triage, "Просроч"))
    supervisors = stand.config.supervisors.telegram_chat
    assert supervisors is not None
    stand.tg.user_sends(supervisors, OPERATOR, "/help")
    charts = await stand.wait(supervisors, "Чат руководителей")
    assert all(c in body(charts) for c in ("/rating", "/problems", "/routing", "/overdue"))
    stand.tg.user_sends(supervisors, OPERATOR, "/open")
    assert "/open в чатах исполнителей и ЦУР" in body(await stand.wait(supervisors, "В чате кураторов"))
    # the citizens' /help is another text, and no staff chat got it
    assert not any("Напишите, что случилось" in body(m) for c in (chat, stand.triage, supervisors)
                   for m in stand.tg.bot_messages(c))


async def test_help_in_a_vk_staff_chat(vk_stand: Stand) -> None:
    stand, vk = vk_stand, vk_stand.vk_side
    vk.user_sends(VK_ACCOUNT_PEER, VK_OFFICIAL, "/help")
    text = (await stand.vk_wait(VK_ACCOUNT_PEER, "Сюда приходят обращения жителей"))["text"]
    assert "/card N" in text and "<b>" not in text and "&" not in text


async def test_a_refused_appeals_triage_card_again_keeps_the_reason_and_the_order(stand: Stand) -> None:
    stand.citizen_says(POTHOLE)
    number = appeal_number(await stand.wait(CITIZEN, "принято"))
    first = await stand.refuse("adm_rybinsk", number, "Это дорога области, не города")
    refused = texts.button_label(stand.config.account("adm_rybinsk").name)
    assert buttons(first)[-3] == refused  # the last account, before «Спросить жителя» and «Не обращение»
    stand.tg.user_sends(stand.triage, OPERATOR, f"/card {number}")
    again = await stand.wait(stand.triage, f"№{number}", count=2)
    assert again["message_id"] != first["message_id"]
    # before, the copy dropped the reason and put the account that refused first
    assert "Это дорога области, не города" in body(again)
    assert buttons(again) == buttons(first)
