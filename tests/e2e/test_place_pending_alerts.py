"""An appeal whose place the citizen has not named yet has no card anywhere: its deadline alerts go
to the triage chat saying so, and the operators may answer the citizen by replying to them."""
from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from routing.lifecycle import Status
from tests.conftest import CITIZEN, OPERATOR, appeal_number, body, buttons
from tests.e2e.test_deadlines_e2e import ClockStand, _stand, fast_config

NO_PLACE = "Около дома 3 на улице Ленина не работает светофор"


@pytest.fixture
async def fast_stand(database_url: str) -> AsyncIterator[ClockStand]:
    async for stand in _stand(fast_config(), database_url):
        yield stand


async def test_the_reminder_says_there_is_no_card_and_a_reply_to_it_answers(fast_stand: ClockStand) -> None:
    stand = fast_stand
    stand.citizen_says(NO_PLACE)
    ask = await stand.wait(CITIZEN, "Уточните")
    number = appeal_number(ask)
    [appeal] = await stand.appeals()
    assert appeal.status == Status.AWAITING_PLACE
    await stand.at(6, appeal.created_at)  # past half of the 10 s term
    [reminder] = stand.said(stand.triage, "Напоминание")
    assert f"№{number}" in body(reminder)
    assert "житель ещё не указал место" in body(reminder) and "на карточку" not in body(reminder)

    stand.official_replies(stand.triage, reminder["message_id"], "Подскажите, в каком городе светофор?",
                           user=OPERATOR)
    answer = await stand.wait(CITIZEN, "Подскажите, в каком городе светофор?")
    assert "Центр управления регионом" in body(answer)
    [appeal] = await stand.appeals()
    assert appeal.status == Status.ANSWERED and appeal.account_code is None
    # the place buttons under the question are gone, and stale: a press changes nothing
    await stand.tg.wait_for(lambda: not stand.current(CITIZEN, ask["message_id"]).get("reply_markup"))
    pressed = stand.press(CITIZEN, ask, f"place:{number}:", user=CITIZEN)
    toast = await stand.tg.wait_for(lambda: stand.tg.callback_answers.get(pressed))
    assert toast["text"] == "Эта кнопка уже не действует."
    await stand.idle()
    [appeal] = await stand.appeals()
    assert appeal.status == Status.ANSWERED
    # the citizen's answer reaches the operators who asked (before, «Добавили к обращению» and no one saw it)
    stand.citizen_says("Это в Рыбинске, улица Крестовая")
    extra = await stand.wait(stand.triage, "Дополнение к обращению")
    assert "Крестовая" in body(extra)
    # and once answered it is not handed over for want of a place
    await stand.at(stand.config.routing.place_wait_minutes * 60 + 1, appeal.created_at)
    assert (await stand.appeals())[0].status == Status.ANSWERED


async def test_an_appeal_whose_place_never_comes_goes_to_the_operators(fast_stand: ClockStand) -> None:
    stand = fast_stand
    wait = stand.config.routing.place_wait_minutes
    assert wait == 60
    stand.citizen_says(NO_PLACE)
    ask = await stand.wait(CITIZEN, "Уточните")
    number = appeal_number(ask)
    [appeal] = await stand.appeals()
    await stand.at(11, appeal.created_at)  # its 10 s term ran out
    await stand.at(wait * 60 - 1, appeal.created_at)  # not yet handed over: still the citizen's to answer
    assert (await stand.appeals())[0].status == Status.AWAITING_PLACE
    assert not stand.said(stand.triage, "не указал место за")
    # the citizen hears what would move it — where it is — not that an account or the operators were reminded
    [overdue] = stand.said(CITIZEN, "истёк")
    assert "не знаем, где это" in body(overdue) and "напомнили" not in body(overdue)

    await stand.at(wait * 60, appeal.created_at)
    [appeal] = await stand.appeals()
    assert appeal.status == Status.TRIAGE
    [card] = [m for m in stand.said(stand.triage, f"№{number}") if m.get("reply_markup")]
    assert "житель не указал место за 1 ч" in body(card) and "светофор" in body(card)
    told = await stand.wait(CITIZEN, "передали его операторам центра")
    assert f"№{number}" in body(told)
    stand.tg.user_sends(stand.triage, OPERATOR, "/overdue")  # the operators' own overdue list
    overdue = await stand.wait(stand.triage, "Просрочено сейчас (1)")
    assert f"№{number}" in body(overdue)
    # the question's place buttons are gone; a place written now reaches the operators
    await stand.tg.wait_for(lambda: not stand.current(CITIZEN, ask["message_id"]).get("reply_markup"))
    # a button pressed just as they went (the citizen's screen still had them) is passed on, not refused
    pressed = stand.press(CITIZEN, ask, f"place:{number}:", user=CITIZEN)
    toast = await stand.tg.wait_for(lambda: stand.tg.callback_answers.get(pressed))
    late = await stand.wait(stand.triage, "житель выбрал место кнопкой")
    chosen = late["text"].rsplit(": ", 1)[1]
    assert toast["text"] == chosen and late.get("reply_to_message_id") == card["message_id"]
    await stand.tg.wait_for(lambda: "Передали операторам" in body(stand.current(CITIZEN, ask["message_id"])))
    assert chosen in body(stand.current(CITIZEN, ask["message_id"]))
    assert (await stand.appeals())[0].status == Status.TRIAGE  # the operators still decide
    stand.citizen_says("Это в Рыбинске")
    extra = await stand.wait(stand.triage, "Это в Рыбинске")
    assert "Дополнение к обращению" in body(extra)
    assert extra.get("reply_to_message_id") == card["message_id"]  # under the card
    # /card N in triage brings the card again, with the same reason
    stand.tg.user_sends(stand.triage, OPERATOR, f"/card {number}")
    again = await stand.wait(stand.triage, "житель не указал место за 1 ч", count=2)
    assert again["message_id"] != card["message_id"]
    # and the operators route it from the card
    stand.press(stand.triage, card, f"route:{number}:", user=OPERATOR)
    await stand.idle()
    [appeal] = await stand.appeals()
    assert appeal.status == Status.ROUTED
    # routed long after the citizen's 10 s term: the account gets its own term, the citizen's moved on
    # by the time before it had the appeal (as the ratings judge it), with its own reminders and alert
    assert appeal.account_code is not None and appeal.account_due is not None and appeal.routed_at is not None
    assert appeal.account_due - appeal.routed_at == appeal.first_answer_due - appeal.created_at  # 24/7 calendar
    account_chat = stand.chat(appeal.account_code)
    routed = await stand.wait(account_chat, f"№{number}")
    assert "срок продлён на время разбора в ЦУР" in body(routed) and "срок истёк" not in body(routed)
    assert "срок истёк" in body(card)  # the triage card was handed over after the citizen's term
    told = await stand.wait(CITIZEN, "Новый срок ответа")
    assert f"№{number} передали в" in body(told)
    since_routing = (appeal.routed_at - appeal.created_at).total_seconds()
    await stand.at(since_routing + 6, appeal.created_at)  # past half of the account's 10 s
    [reminder] = stand.said(account_chat, "Напоминание")
    assert f"№{number}" in body(reminder) and reminder.get("reply_to_message_id") == routed["message_id"]
    await stand.at(since_routing + 11, appeal.created_at)
    [late] = stand.said(account_chat, "просрочено")
    assert f"№{number}" in body(late)
    assert not stand.said(account_chat, "Напоминание")[1:]  # one reminder, not the citizen's ladder again
    # the triage card no longer asks for an account
    await stand.tg.wait_for(lambda: "Разобрано" in body(stand.current(stand.triage, card["message_id"])))
    assert "Нужен исполнитель" not in body(stand.current(stand.triage, card["message_id"]))
    # a later sweep moves nothing again
    await stand.at(wait * 120, appeal.created_at)
    assert (await stand.query("select count(*) from appeal_events where action = 'to_triage'")) == [(1,)]


async def test_the_operators_ask_the_citizen_and_the_appeal_stays_with_them(fast_stand: ClockStand) -> None:
    # QA: the operators' only way to ask «where is it?» was a reply to the card, which answered and closed
    # the appeal (rating buttons to the citizen, the card's route buttons gone, the place never kept)
    stand = fast_stand
    stand.citizen_says(NO_PLACE)
    number = appeal_number(await stand.wait(CITIZEN, "Уточните"))
    [appeal] = await stand.appeals()
    await stand.at(stand.config.routing.place_wait_minutes * 60, appeal.created_at)
    [card] = [m for m in stand.said(stand.triage, f"№{number}") if m.get("reply_markup")]
    assert "❓ Спросить жителя" in buttons(card)

    stand.press(stand.triage, card, f"ask:{number}", user=OPERATOR)
    prompt = await stand.wait(stand.triage, "напишите вопрос жителю")
    assert prompt["reply_to_message_id"] == card["message_id"]
    stand.official_replies(stand.triage, prompt["message_id"], "В каком городе этот светофор?", user=OPERATOR)
    question = await stand.wait(CITIZEN, "Вопрос по обращению")
    assert f"№{number}" in body(question) and "В каком городе этот светофор?" in body(question)
    assert not question.get("reply_markup")  # a question, not an answer to rate
    await stand.tg.wait_for(lambda: "вопрос жителю отправлен" in body(stand.current(stand.triage, prompt["message_id"])))
    [appeal] = await stand.appeals()
    assert appeal.status == Status.TRIAGE and appeal.first_answered_at is None
    assert buttons(stand.current(stand.triage, card["message_id"]))  # the card can still be routed

    # the citizen answers the question: it comes under the card, and the place is kept
    stand.citizen_says("Это в Рыбинске, на Крестовой", reply_to=question["message_id"])
    extra = await stand.wait(stand.triage, "на Крестовой")
    assert "(место: Рыбинск)" in body(extra) and extra.get("reply_to_message_id") == card["message_id"]
    [appeal] = await stand.appeals()
    assert appeal.municipality == "rybinsk" and appeal.status == Status.TRIAGE
    stand.press(stand.triage, card, "route:", user=OPERATOR)
    await stand.idle()
    [appeal] = await stand.appeals()
    assert appeal.status == Status.ROUTED
    # a second question, once it has gone to an account, is refused with the reason
    stand.official_replies(stand.triage, prompt["message_id"], "И ещё вопрос", user=OPERATOR)
    refusal = await stand.wait(stand.triage, "вопрос не отправлен")
    assert "передано исполнителю" in body(refusal)
