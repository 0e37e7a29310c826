"""The spine end to end: real aiogram polling + outbox + database against the Bot API stand-in."""
from __future__ import annotations

import re

import pytest

from routing.lifecycle import Status
from tests.conftest import CITIZEN, CITIZEN2, OFFICIAL, OPERATOR, STRANGER, Stand, appeal_number, body

POTHOLE = "В Рыбинске на улице Крестовой огромная яма на дороге, машины бьют колёса"


async def test_citizen_reaches_official_and_gets_the_answer(stand: Stand) -> None:
    stand.citizen_says("/start")
    greeting = await stand.wait(CITIZEN, "152-ФЗ")
    assert "Здравствуйте" in body(greeting)

    sent = stand.citizen_says(POTHOLE)
    ack = await stand.wait(CITIZEN, "принято")
    number = appeal_number(ack)
    assert f"Обращение №{number} принято" in body(ack)
    assert "Дороги" in body(ack) and "Рыбинск" in body(ack)
    assert "Ответ придёт сюда до" in body(ack)
    assert ack["reply_to_message_id"] == sent["message_id"]

    chat = stand.chat("adm_rybinsk")
    card = await stand.wait(chat, f"№{number}")
    assert POTHOLE in body(card)
    assert "Дороги" in body(card) and "Ответить до" in body(card)
    buttons = [b["text"] for row in card["reply_markup"]["inline_keyboard"] for b in row]
    assert buttons == ["Взять в работу", "Не наша компетенция"]

    stand.press(chat, card, "take:", user=OFFICIAL)
    await stand.wait(CITIZEN, "взято в работу")

    stand.official_replies(chat, card["message_id"], "Яму заделаем до пятницы, бригада выехала.")
    answer = await stand.wait(CITIZEN, "Ответ по обращению")
    assert "Яму заделаем до пятницы, бригада выехала." in body(answer)
    assert "Администрация" in body(answer)
    rate_buttons = [b["text"] for row in answer["reply_markup"]["inline_keyboard"] for b in row]
    assert rate_buttons == ["Решено", "Частично", "Не решено"]

    await stand.tg.wait_for(lambda: "ответ отправлен" in body(stand.current(chat, card["message_id"])))
    answered_card = stand.current(chat, card["message_id"])
    # no dead «Не наша компетенция» under an answered card, no deadline still asked for
    assert not (answered_card.get("reply_markup") or {}).get("inline_keyboard") and "Ответить до" not in body(answered_card)

    stand.press(CITIZEN, answer, "rate:", user=CITIZEN)
    await stand.wait(CITIZEN, "закрыто")
    await stand.tg.wait_for(lambda: "решено ✅" in body(stand.current(chat, card["message_id"])))
    assert stand.current(chat, card["message_id"]).get("reply_markup") in (None, {}, {"inline_keyboard": []})
    # the answer keeps one button showing the choice; pressing it only says it again
    await stand.tg.wait_for(lambda: len(stand.current(CITIZEN, answer["message_id"])["reply_markup"]["inline_keyboard"]
                                        [0]) == 1)
    rated = stand.current(CITIZEN, answer["message_id"])
    [[chosen]] = rated["reply_markup"]["inline_keyboard"]
    assert chosen["text"] == "✅ Ваша оценка: решено" and chosen["callback_data"] == f"rated:{number}:yes"
    pressed = stand.press(CITIZEN, rated, "rated:", user=CITIZEN)
    assert (await stand.tg.wait_for(lambda: stand.tg.callback_answers.get(pressed)))["text"] == "Вы отметили: решено."

    [appeal] = await stand.appeals()
    assert appeal.status == Status.RESOLVED and appeal.rating == "solved"
    assert appeal.account_code == "adm_rybinsk" and appeal.first_answered_at is not None
    history = await stand.query(
        "select action, to_status from appeal_events where appeal_id = :a order by id", a=number
    )
    assert [h[0] for h in history] == ["created", "registered", "routed", "taken", "answered", "rated_solved"]
    messages = await stand.query(
        "select direction, author_role, kind, message_id from appeal_messages where appeal_id = :a order by id",
        a=number,
    )
    assert [(m[1], m[2]) for m in messages] == [("citizen", "appeal"), ("official", "answer")]
    assert all(m[3] for m in messages)


async def _pothole_answered(stand: Stand, answer: str) -> tuple[dict, dict, dict]:
    """The pothole in Rybinsk, its card, and Rybinsk's answer to it: (acknowledgement, card, answer)."""
    stand.citizen_says(POTHOLE)
    ack = await stand.wait(CITIZEN, "принято")
    card = await stand.wait(stand.chat("adm_rybinsk"), f"№{appeal_number(ack)}")
    stand.official_replies(stand.chat("adm_rybinsk"), card["message_id"], answer)
    return ack, card, await stand.wait(CITIZEN, "Ответ по обращению")


async def _street_lights_too(stand: Stand) -> int:
    """/new and a second appeal, Uglich's street lights, delivered to its chat; returns its number."""
    stand.citizen_says("/new")
    await stand.wait(CITIZEN, "отдельное обращение")
    stand.citizen_says("В Угличе не работает уличное освещение на улице Ярославской")
    second = appeal_number(await stand.wait(CITIZEN, "принято", count=2))
    await stand.wait(stand.chat("adm_uglichsky"), f"№{second}")
    return second


async def test_not_solved_reopens_and_tells_the_account(stand: Stand) -> None:
    ack, card, answer = await _pothole_answered(stand, "Яму засыпали щебнем и заасфальтировали 21 ноября.")
    number = appeal_number(ack)
    chat = stand.chat("adm_rybinsk")
    stand.press(CITIZEN, answer, f"rate:{number}:no", user=CITIZEN)
    await stand.wait(CITIZEN, "снова открыто")
    alert = await stand.wait(chat, "не решена")
    assert alert["reply_to_message_id"] == card["message_id"]
    [appeal] = await stand.appeals()
    assert appeal.status == Status.REOPENED
    # the rating buttons give way to the choice: a second press can't rate twice
    await stand.tg.wait_for(lambda: [b["callback_data"] for row in (stand.current(CITIZEN, answer["message_id"])
                                     .get("reply_markup") or {}).get("inline_keyboard", []) for b in row]
                            == [f"rated:{number}:no"])
    assert "❌ Ваша оценка: не решено" in str(stand.current(CITIZEN, answer["message_id"])["reply_markup"])


async def test_unknown_municipality_is_asked_with_buttons(stand: Stand) -> None:
    stand.citizen_says("Во дворе не вывозят мусор уже неделю, контейнеры переполнены")
    ack = await stand.wait(CITIZEN, "принято")
    number = appeal_number(ack)
    assert "Уточните" in body(ack)
    labels = [b["text"] for row in ack["reply_markup"]["inline_keyboard"] for b in row]
    assert len(labels) == len(stand.config.municipalities) and "Углич" in labels
    [appeal] = await stand.appeals()
    assert appeal.status == Status.AWAITING_PLACE

    # a forged press by another citizen, on a message of their own, changes nothing
    stand.tg.user_sends(CITIZEN2, CITIZEN2, "/my")
    theirs = await stand.wait(CITIZEN2, "нет обращений")
    forged = stand.tg.user_presses(CITIZEN2, theirs["message_id"], CITIZEN2, f"place:{number}:uglichsky")
    assert (await stand.tg.wait_for(lambda: stand.tg.callback_answers.get(forged)))["text"] == "Это действие недоступно."
    assert (await stand.appeals())[0].municipality is None
    stand.press(CITIZEN, ack, f"place:{number}:uglichsky", user=CITIZEN)
    routed = await stand.wait(CITIZEN, "передали в")
    assert "Тема: " in body(routed) and "Углич" in body(routed)  # the edited question no longer says it
    [appeal] = await stand.appeals()
    assert appeal.municipality == "uglichsky" and appeal.municipality_source == "citizen"
    assert appeal.status in (Status.ROUTED, Status.TRIAGE)
    if appeal.status == Status.ROUTED:
        card = await stand.wait(stand.chat(appeal.account_code or ""), f"№{number}")
        assert "мусор" in body(card)


async def test_followup_attaches_to_the_open_appeal(stand: Stand) -> None:
    stand.citizen_says(POTHOLE)
    ack = await stand.wait(CITIZEN, "принято")
    number = appeal_number(ack)
    chat = stand.chat("adm_rybinsk")
    card = await stand.wait(chat, f"№{number}")

    stand.citizen_says("Вот фото ямы", photo=True)
    added = await stand.wait(CITIZEN, "Добавили к обращению")
    assert f"№{number}" in body(added)
    forwarded = await stand.wait(chat, "Дополнение к обращению")
    assert forwarded["reply_to_message_id"] == card["message_id"]
    assert forwarded.get("photo") and "Вот фото ямы" in body(forwarded)
    assert len(await stand.appeals()) == 1

    # answering the forwarded follow-up answers the appeal
    stand.official_replies(chat, forwarded["message_id"], "Спасибо за фото: бригада заделает яму до пятницы, 27 ноября.")
    answer = await stand.wait(CITIZEN, "Ответ по обращению")
    assert f"№{number}" in body(answer) and "бригада заделает яму до пятницы" in body(answer)

    # /new makes the next message a separate appeal
    stand.citizen_says("/new")
    await stand.wait(CITIZEN, "отдельное обращение")
    stand.citizen_says("В Угличе не работает уличное освещение на улице Ярославской")
    await stand.wait(CITIZEN, "принято", count=2)
    assert len(await stand.appeals()) == 2


async def test_a_reply_to_a_closed_appeal_is_a_new_one_not_another_appeals_followup(stand: Stand) -> None:
    first_ack, _, answer = await _pothole_answered(stand, "Яму заделали 20 ноября, бригада выезжала.")
    first = appeal_number(first_ack)
    rybinsk = stand.chat("adm_rybinsk")
    stand.press(CITIZEN, answer, "rate:", user=CITIZEN)
    await stand.wait(CITIZEN, "закрыто")
    second = await _street_lights_too(stand)
    uglich = stand.chat("adm_uglichsky")

    # the pothole is back: a reply to the closed appeal's acknowledgement, with another appeal open
    stand.citizen_says("В Рыбинске на Крестовой яма снова появилась!", reply_to=first_ack["message_id"])
    ack = await stand.wait(CITIZEN, "принято", count=3)
    assert f"Обращение №{first} уже закрыто" in body(ack)
    third = int(re.search(r"Обращение №(\d+) принято", body(ack)).group(1))  # type: ignore[union-attr]
    assert third not in (first, second)
    assert [a.id for a in await stand.appeals()] == [first, second, third]
    await stand.wait(rybinsk, f"№{third}")
    await stand.idle()
    # nothing of it reached Uglich's officials as a follow-up of the street lights
    assert not [m for m in stand.tg.chat_log(uglich) if "Дополнение" in body(m)]


async def test_with_several_open_the_ack_names_the_appeal_and_an_emergency_stands_alone(stand: Stand) -> None:
    stand.citizen_says(POTHOLE)
    first = appeal_number(await stand.wait(CITIZEN, "принято"))
    second = await _street_lights_too(stand)
    uglich = stand.chat("adm_uglichsky")

    # two open: the latest takes a plain follow-up, and the citizen is told which one and how to choose
    stand.citizen_says("Фонари не горят уже третью ночь")
    added = await stand.wait(CITIZEN, "Добавили к обращению")
    assert f"№{second}" in body(added) and "последнему из ваших открытых" in body(added)
    await stand.wait(uglich, "третью ночь")

    # an emergency is not the street lights' follow-up: an urgent appeal of its own
    stand.citizen_says("В Угличе на Ярославской газом пахнет в подъезде, приезжайте скорее!")
    ack = await stand.wait(CITIZEN, "принято", count=3)
    assert f"не на дополнение к обращению №{second}" in body(ack)
    appeals = await stand.appeals()
    assert [a.id for a in appeals][:2] == [first, second] and len(appeals) == 3 and appeals[2].urgent
    await stand.idle()
    assert not [m for m in stand.tg.chat_log(uglich) if "газом пахнет" in body(m) and "Дополнение" in body(m)]


async def test_not_our_competence_goes_through_triage(stand: Stand) -> None:
    stand.citizen_says(POTHOLE)
    number = appeal_number(await stand.wait(CITIZEN, "принято"))
    chat = stand.chat("adm_rybinsk")
    card = await stand.wait(chat, f"№{number}")

    stand.press(chat, card, "reject:", user=OFFICIAL)
    prompt = await stand.wait(chat, "укажите, пожалуйста, причину")
    assert prompt["reply_markup"].get("force_reply") is True
    stand.citizen_says("Яма глубиной сантиметров двадцать")  # reaches Rybinsk's chat, which has it now
    await stand.wait(chat, "сантиметров двадцать")
    stand.official_replies(chat, prompt["message_id"], "Это федеральная трасса, не наша дорога")

    triage_card = await stand.wait(stand.triage, f"№{number}")
    assert "федеральная трасса" in body(triage_card)
    assert "сантиметров двадцать" in body(triage_card)  # the operators see what the account saw
    await stand.wait(CITIZEN, "передаётся другому исполнителю")
    await stand.tg.wait_for(lambda: "передано в ЦУР" in body(stand.current(chat, card["message_id"])))
    [appeal] = await stand.appeals()
    assert appeal.status == Status.TRIAGE and appeal.account_code is None

    stand.press(stand.triage, triage_card, f"route:{number}:adm_rybinsky", user=OPERATOR)
    new_chat = stand.chat("adm_rybinsky")
    new_card = await stand.wait(new_chat, f"№{number}")
    assert POTHOLE in body(new_card) and "сантиметров двадцать" in body(new_card)
    # the new account sees who refused it before and why
    assert "Ранее отказался: Администрация городского округа город Рыбинск — «Это федеральная трасса" in body(new_card)
    await stand.wait(CITIZEN, "Рыбинского")
    [appeal] = await stand.appeals()
    assert appeal.status == Status.ROUTED and appeal.account_code == "adm_rybinsky"
    correction = await stand.query(
        "select actor from appeal_events where appeal_id = :a and action = 'rerouted'", a=number
    )
    assert correction and "3001" in correction[0][0]

    # the old account can no longer answer it
    stand.official_replies(chat, card["message_id"], "Запоздалый ответ")
    refusal = await stand.wait(chat, "передано другому исполнителю")
    assert refusal["reply_to_message_id"] is not None
    assert not any("Запоздалый" in body(m) for m in stand.tg.bot_messages(CITIZEN))


async def test_only_members_of_the_account_chat_can_answer(stand: Stand) -> None:
    stand.citizen_says(POTHOLE)
    number = appeal_number(await stand.wait(CITIZEN, "принято"))
    chat = stand.chat("adm_rybinsk")
    card = await stand.wait(chat, f"№{number}")

    # a user Telegram reports as no longer in the chat
    stand.tg.set_member(chat, STRANGER, "left")
    stand.stranger_replies(chat, card["message_id"], "Ответ постороннего", STRANGER)
    await stand.wait(chat, "только участники чата")
    # an anonymous admin (posting as the group) can't be held to account for an answer
    stand.official_replies(chat, card["message_id"], "Анонимный ответ", sender_chat={"id": chat, "type": "supergroup", "title": "x"})
    await stand.wait(chat, "от своего имени")
    # a reply in another account's chat that cites the card's message id reaches nothing
    other = stand.chat("adm_uglichsky")
    stand.tg.set_member(other, OFFICIAL)
    stand.stranger_replies(other, card["message_id"], "Чужой ответ", OFFICIAL)
    # a forged button press from another chat can't take it
    query_id = stand.tg.user_presses(other, card["message_id"], OFFICIAL, f"take:{number}")
    await stand.tg.wait_for(lambda: stand.tg.callback_answers.get(query_id))
    await stand.idle()
    assert not any("Ответ по обращению" in body(m) for m in stand.tg.bot_messages(CITIZEN))
    [appeal] = await stand.appeals()
    assert appeal.status == Status.ROUTED and appeal.first_answered_at is None


async def test_duplicate_update_creates_one_appeal(stand: Stand) -> None:
    sent = stand.citizen_says(POTHOLE)
    original = next(
        q.update for q in stand.tg._updates if q.update.get("message", {}).get("message_id") == sent["message_id"]
    )
    await stand.wait(CITIZEN, "принято")
    stand.tg.push_update(original)
    await stand.idle()
    assert len(await stand.appeals()) == 1
    assert len([m for m in stand.tg.bot_messages(CITIZEN) if "принято" in body(m)]) == 1
    assert len([m for m in stand.tg.bot_messages(stand.chat("adm_rybinsk")) if POTHOLE in body(m)]) == 1


async def test_html_like_text_reaches_the_official_intact(stand: Stand) -> None:
    nasty = 'В Рыбинске <b>нет</b> горячей воды & <script>alert("x")</script> 5 < 7 > 3 &amp; УК молчит'
    stand.citizen_says(nasty)
    number = appeal_number(await stand.wait(CITIZEN, "принято"))
    card = await stand.wait(stand.chat("adm_rybinsk"), f"№{number}")
    assert nasty in body(card)


async def test_text_over_the_limit_is_split_not_dropped(stand: Stand) -> None:
    long_text = "В Рыбинске во дворе яма. " + " ".join(f"подробность{i}" for i in range(900))
    assert len(long_text) > 9000
    stand.citizen_says(long_text)
    number = appeal_number(await stand.wait(CITIZEN, "принято"))
    chat = stand.chat("adm_rybinsk")
    await stand.wait(chat, "продолжение")
    await stand.idle()
    delivered = " ".join(body(m) for m in stand.tg.bot_messages(chat))
    assert all(f"подробность{i}" in delivered for i in (0, 450, 899))
    assert all(len(body(m)) <= 4096 for m in stand.tg.bot_messages(chat))
    assert f"№{number}" in delivered
    # the card and its continuation break between words, not inside one
    assert not re.search(r"подробность\d*$", body(stand.tg.bot_messages(chat)[0]).removesuffix(" …(продолжение ниже)")
                         .rstrip()) or body(stand.tg.bot_messages(chat)[0]).endswith(" …(продолжение ниже)")
    assert all(re.match(rf"№{number}, продолжение[^\n]*:\nподробность\d+ ", body(m))
               for m in stand.tg.bot_messages(chat)[1:])


async def test_unsupported_content_gets_a_polite_answer(stand: Stand) -> None:
    stand.citizen_says(sticker=True)
    answer = await stand.wait(CITIZEN, "не принимает")
    assert "стикер" in body(answer)
    stand.citizen_says(voice=True)
    assert "голосовое" in body(await stand.wait(CITIZEN, "не принимает", count=2))
    assert await stand.appeals() == []


async def test_photo_then_text_makes_one_appeal_with_the_photo(stand: Stand) -> None:
    stand.citizen_says(photo=True)
    await stand.wait(CITIZEN, "Фото получено")
    stand.citizen_says("Рыбинск, улица Ломоносова, сломана скамейка и урна во дворе")
    number = appeal_number(await stand.wait(CITIZEN, "принято"))
    [appeal] = await stand.appeals()
    assert len(appeal.photos) == 1
    chat = stand.chat(appeal.account_code or "")
    card = await stand.wait(chat, f"№{number}")
    photo = await stand.tg.wait_for(lambda: next((m for m in stand.tg.bot_messages(chat) if m.get("photo")), None))
    assert photo["reply_to_message_id"] == card["message_id"]


async def test_location_decides_the_municipality(stand: Stand) -> None:
    stand.citizen_says(location=(57.5260, 38.3320))  # Углич, the town centre
    await stand.wait(CITIZEN, "Геопозиция получена")
    stand.citizen_says("Здесь не горят фонари на улице, очень темно")
    await stand.wait(CITIZEN, "принято")
    [appeal] = await stand.appeals()
    assert appeal.municipality == "uglichsky" and appeal.latitude == pytest.approx(57.526)
    await stand.tg.wait_for(
        lambda: next((m for m in stand.tg.bot_messages(stand.chat("adm_uglichsky")) if m.get("location")), None)
    )


async def test_my_and_open_lists(stand: Stand) -> None:
    stand.citizen_says(POTHOLE)
    number = appeal_number(await stand.wait(CITIZEN, "принято"))
    stand.citizen_says("/my")
    mine = await stand.wait(CITIZEN, "Ваши обращения")
    assert f"№{number}" in body(mine) and "передано исполнителю" in body(mine)
    chat = stand.chat("adm_rybinsk")
    stand.tg.user_sends(chat, OFFICIAL, "/open")
    listing = await stand.wait(chat, "Открытые обращения")
    assert f"№{number}" in body(listing)
    stand.tg.user_sends(CITIZEN2, CITIZEN2, "/my")
    assert "нет обращений" in body(await stand.wait(CITIZEN2, "нет обращений"))
    assert "до " in body(listing)  # an open appeal's line has its deadline
    # rated «Частично»: the list says so, not «решено»
    card = await stand.wait(chat, f"№{number}")
    stand.official_replies(chat, card["message_id"], "Яму заделали 20 ноября, бригада выезжала.")
    answer = await stand.wait(CITIZEN, "Ответ по обращению")
    stand.press(CITIZEN, answer, f"rate:{number}:part", user=CITIZEN)
    await stand.wait(CITIZEN, "частично")
    stand.citizen_says("/my")
    mine = await stand.wait(CITIZEN, "Ваши обращения", count=2)
    assert f"№{number}" in body(mine) and "решено частично" in body(mine)
    # the supervisors' line of a closed appeal has no deadline any more
    supervisors = stand.config.supervisors.telegram_chat
    assert supervisors is not None
    stand.tg.user_sends(supervisors, OPERATOR, f"/card {number}")
    line = await stand.wait(supervisors, f"№{number}")
    assert body(line).startswith(f"№{number} · Дороги · Рыбинск — решено частично"), body(line)


async def test_restart_in_the_middle_loses_nothing(stand: Stand) -> None:
    # Telegram is down for sends: the appeal is stored, its messages wait in the outbox
    stand.tg.inject_faults(1.0, kinds=("500",), methods={"sendMessage", "sendPhoto", "sendLocation"})
    stand.citizen_says(POTHOLE)
    await stand.tg.wait_for(lambda: stand.tg.pending_updates() == 0)
    for _ in range(100):
        if await stand.appeals():
            break
        await __import__("asyncio").sleep(0.05)
    await stand.stop()
    [appeal] = await stand.appeals()
    pending = await stand.query("select purpose from outbox where status in ('pending', 'sending')")
    assert {p[0] for p in pending} >= {"ack", "card"}

    stand.tg.inject_faults(0.0)
    await stand.start()
    await stand.wait(CITIZEN, "принято")
    await stand.wait(stand.chat("adm_rybinsk"), f"№{appeal.id}")
    await stand.idle()
    assert len([m for m in stand.tg.bot_messages(CITIZEN) if "принято" in body(m)]) == 1
    assert len([m for m in stand.tg.bot_messages(stand.chat("adm_rybinsk")) if f"№{appeal.id}" in body(m)]) == 1
