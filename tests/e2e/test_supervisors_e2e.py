"""The supervisors' view end to end: the real bot against the Bot API stand-in (SQLite, and PostgreSQL when
configured). An отписка is held and shown to the account with its reasons, then sent anyway (marked) or
rewritten; near-duplicates get one answer; /rating and /problems answer with a chart in the supervisors'
chat only; a burst of «no electricity» appeals alerts the supervisors; the weekly report arrives."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from routing.lifecycle import Status
from tests.conftest import CITIZEN, CITIZEN2, OFFICIAL, OPERATOR, Stand, appeal_number, body, buttons

POTHOLE = "В Рыбинске на улице Крестовой, дом 12 огромная яма на дороге"
OTPISKA = "Ваше обращение рассмотрено. Информация принята к сведению, вопрос находится на контроле."
CONCRETE = "Яму на Крестовой заделаем до пятницы, работы ведёт подрядчик ООО «Дорстрой»."


def supervisors(stand: Stand) -> int:
    chat = stand.config.supervisors.telegram_chat
    assert chat is not None
    return chat


async def _appeal(stand: Stand, user: int = CITIZEN, text: str = POTHOLE, count: int = 1) -> tuple[int, dict]:
    stand.citizen_says(text, user=user)
    number = appeal_number(await stand.wait(user, "принято"))
    card = await stand.wait(stand.chat("adm_rybinsk"), f"№{number}", count=count)
    return number, card


async def test_an_otpiska_is_held_then_sent_anyway_and_marked(stand: Stand) -> None:
    number, card = await _appeal(stand)
    chat = stand.chat("adm_rybinsk")
    stand.official_replies(chat, card["message_id"], OTPISKA)
    hold = await stand.wait(chat, "пока не отправлен")
    assert f"№{number}" in body(hold) and "общие фразы" in body(hold) and "не видно, что сделано" in body(hold)
    assert buttons(hold) == ["Отправить как есть", "Переписать"]
    assert not any("Ответ по обращению" in body(m) for m in stand.tg.bot_messages(CITIZEN))
    assert "ответ задержан" in body(stand.current(chat, card["message_id"]))

    stand.press(chat, hold, "qsend:", user=OFFICIAL)
    answer = await stand.wait(CITIZEN, "Ответ по обращению")
    assert "принята к сведению" in body(answer)
    await stand.tg.wait_for(lambda: "возможная отписка" in body(stand.current(chat, card["message_id"])))
    assert not buttons(stand.current(chat, hold["message_id"]))
    [appeal] = await stand.appeals()
    assert appeal.status == Status.ANSWERED and appeal.answer_flag == "sent_flagged"
    actions = [a for (a,) in await stand.query(
        "select action from appeal_events where appeal_id = :a order by id", a=number)]
    assert actions[-3:] == ["answer_held", "answer_sent_flagged", "answered"]


async def test_rewrite_drops_the_held_answer_and_a_concrete_one_goes_out(stand: Stand) -> None:
    number, card = await _appeal(stand)
    chat = stand.chat("adm_rybinsk")
    stand.official_replies(chat, card["message_id"], "Обратитесь в управляющую компанию.")
    hold = await stand.wait(chat, "пока не отправлен")
    assert "отправляют в другую организацию" in body(hold)
    stand.press(chat, hold, "qredo:", user=OFFICIAL)
    await stand.tg.wait_for(lambda: "Напишите новый" in body(stand.current(chat, hold["message_id"])))
    # a reply to the (edited) notice is the new answer, checked afresh
    stand.official_replies(chat, hold["message_id"], CONCRETE)
    answer = await stand.wait(CITIZEN, "Ответ по обращению")
    assert "ООО «Дорстрой»" in body(answer) and "управляющую" not in body(answer)
    assert buttons(answer) == ["Решено", "Частично", "Не решено"]
    [appeal] = await stand.appeals()
    assert appeal.answer_flag is None
    assert "возможная отписка" not in body(stand.current(chat, card["message_id"]))

    stand.press(CITIZEN, answer, f"rate:{number}:part", user=CITIZEN)
    await stand.wait(CITIZEN, "решённое частично")
    await stand.wait(chat, "решена частично")
    [appeal] = await stand.appeals()
    assert appeal.status == Status.RESOLVED and appeal.rating == "partly"
    # the card does not say «решено — … решено частично»; a copy by /card N keeps the rating
    await stand.tg.wait_for(lambda: "Статус: закрыто — заявитель: решено частично" in body(
        stand.current(chat, card["message_id"])))
    stand.tg.user_sends(chat, OFFICIAL, f"/card {number}")
    again = await stand.wait(chat, "Статус: закрыто — заявитель: решено частично", count=2)
    assert again["message_id"] != card["message_id"]


async def test_near_duplicates_are_answered_once(stand: Stand) -> None:
    first, card = await _appeal(stand, CITIZEN)
    stand.citizen_says("Улица Крестовая, дом 12 — яма на дороге, Рыбинск", user=CITIZEN2)
    second = appeal_number(await stand.wait(CITIZEN2, "принято"))
    chat = stand.chat("adm_rybinsk")
    second_card = await stand.wait(chat, f"В группе с №{first}")
    assert body(second_card).startswith(f"№{second}")
    notice = await stand.wait(chat, "похоже на")
    assert f"№{second} похоже на №{first}" in body(notice)

    stand.official_replies(chat, card["message_id"], CONCRETE)
    mine = await stand.wait(CITIZEN, "Ответ по обращению")
    theirs = await stand.wait(CITIZEN2, "Ответ по обращению")
    assert f"№{first}" in body(mine) and f"№{second}" in body(theirs) and "Дорстрой" in body(theirs)
    assert buttons(theirs) == ["Решено", "Частично", "Не решено"]
    await stand.tg.wait_for(lambda: f"ответ по №{first} отправлен" in body(stand.current(chat, second_card["message_id"])))
    appeals = {a.id: a for a in await stand.appeals()}
    assert appeals[second].duplicate_of == first
    assert appeals[first].status == appeals[second].status == Status.ANSWERED
    # a different house on the same street is a different problem
    stand.citizen_says("/new")
    await stand.wait(CITIZEN, "отдельное обращение")
    third, third_card = await _appeal(stand, CITIZEN, "В Рыбинске яма на улице Крестовой, дом 40", count=1)
    assert "В группе" not in body(third_card)


async def test_rating_and_problems_answer_with_a_chart_in_the_supervisors_chat_only(stand: Stand) -> None:
    number, card = await _appeal(stand)
    stand.official_replies(stand.chat("adm_rybinsk"), card["message_id"], CONCRETE)
    await stand.wait(CITIZEN, "Ответ по обращению")
    chat = supervisors(stand)
    stand.tg.set_member(chat, OPERATOR)
    stand.tg.user_sends(chat, OPERATOR, "/rating")
    rating = await stand.wait(chat, "Рейтинг")
    assert rating.get("photo"), rating
    assert "Вне рейтинга (мало данных): Адм. г. Рыбинск" in body(rating)  # named, not counted
    stand.tg.user_sends(chat, OPERATOR, "/problems")
    problems = await stand.wait(chat, "Главные темы")
    assert problems.get("photo") and "Дороги: 1" in body(problems)
    stand.tg.user_sends(chat, OPERATOR, "/rating 2026-W99")
    refused = await stand.wait(chat, "Не понял период")
    assert "«2026-W99»" in body(refused) and not re.search("[a-z]{4}", body(refused).replace("rating", ""))
    stand.tg.user_sends(chat, OPERATOR, "/problems 2026-12-10..2026-12-01")
    reversed_range = await stand.wait(chat, "заканчивается раньше, чем начинается")
    assert "/problems 2026-11-01..2026-11-15" in body(reversed_range)  # the example names the command used
    # an account's chat gets a polite refusal, no figures
    stand.tg.user_sends(stand.chat("adm_rybinsk"), OFFICIAL, "/rating")
    await stand.wait(stand.chat("adm_rybinsk"), "только в чате кураторов")
    assert not any(m.get("photo") for m in stand.tg.bot_messages(stand.chat("adm_rybinsk")))


async def test_a_burst_of_no_power_appeals_alerts_the_supervisors(stand: Stand) -> None:
    for i in range(5):
        user = 5000 + i
        stand.tg.add_user(user, f"Житель {i}")
        stand.citizen_says("В Рыбинске нет света, отключили электричество", user=user)
        await stand.wait(user, "принято")
    assert stand.app is not None
    [spike] = await stand.app.supervision.check_spikes()
    alert = await stand.wait(supervisors(stand), "Всплеск")
    assert "Электроснабжение" in body(alert) and "5 обращений за 1 ч" in body(alert)
    assert all(f"№{n}" in body(alert) for n in spike.appeal_ids)
    assert await stand.app.supervision.check_spikes() == []  # cooldown


async def test_weekly_report_arrives_once(stand: Stand) -> None:
    await _appeal(stand)
    assert stand.app is not None
    next_week = datetime.now(UTC) + timedelta(days=7)
    assert await stand.app.supervision.send_weekly_report(next_week)
    assert not await stand.app.supervision.send_weekly_report(next_week)  # claimed: once per week
    chat = supervisors(stand)
    report = await stand.wait(chat, "Еженедельный отчёт")
    assert report.get("document", {}).get("file_name", "").endswith(".xlsx")
    await stand.wait(chat, "Главные темы")
    photos = [m for m in stand.tg.bot_messages(chat) if m.get("photo")]
    assert len(photos) == 2
