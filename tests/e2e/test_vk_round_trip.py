"""VK end to end: the real vk-api client (VkApi, VkBotLongPoll, VkUpload, in threads) and aiogram,
the outbox and the database, against the VK and Bot API stand-ins. One appeal crosses platforms."""
from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from routing.lifecycle import Status
from storage import repository
from tests.conftest import (
    CITIZEN,
    VK_ACCOUNT,
    VK_ACCOUNT_PEER,
    VK_CITIZEN,
    VK_CITIZEN2,
    VK_OFFICIAL,
    Stand,
    appeal_number,
    body,
    vk_buttons,
)

POTHOLE = "В Рыбинске на улице Крестовой огромная яма на дороге, машины бьют колёса"
LIGHTS = "В Угличе не работает уличное освещение на улице Ярославской"
NO_PLACE = "Во дворе не вывозят мусор уже неделю, контейнеры переполнены"


def acks(stand: Stand, peer: int, contains: str) -> list[dict]:
    return [m for m in stand.vk_side.bot_messages(peer) if contains in m["text"]]


async def test_vk_citizen_is_answered_from_a_telegram_chat(vk_stand: Stand) -> None:
    stand, vk = vk_stand, vk_stand.vk_side
    stand.vk_citizen_says("Начать", payload=json.dumps({"command": "start"}))
    greeting = await stand.vk_wait(VK_CITIZEN, "152-ФЗ")
    assert "Здравствуйте" in greeting["text"] and "<b>" not in greeting["text"]  # VK shows plain text

    sent = stand.vk_citizen_says(POTHOLE)
    ack = await stand.vk_wait(VK_CITIZEN, "принято")
    number = appeal_number(ack)
    assert "Дороги" in ack["text"] and "Рыбинск" in ack["text"] and "Ответ придёт сюда" in ack["text"]
    assert ack["reply_message"]["conversation_message_id"] == sent["conversation_message_id"]

    chat = stand.chat("adm_rybinsk")
    card = await stand.wait(chat, f"№{number}")
    assert POTHOLE in body(card) and "Анна" in body(card)

    stand.official_replies(chat, card["message_id"], "Яму заделаем до пятницы, бригада выехала.")
    answer = await stand.vk_wait(VK_CITIZEN, "Ответ по обращению")
    assert "Яму заделаем до пятницы, бригада выехала." in answer["text"] and "Рыбинск" in answer["text"]
    assert {"Решено", "Не решено"} <= set(vk_buttons(answer))
    assert answer["keyboard"]["inline"] is True
    assert answer["reply_message"]["conversation_message_id"] == sent["conversation_message_id"]

    pressed = stand.vk_press(VK_CITIZEN, answer, "rate:", user=VK_CITIZEN)
    await stand.vk_wait(VK_CITIZEN, "закрыто")
    snackbar = await vk.wait_for(lambda: vk.event_answers.get(pressed))
    assert snackbar == {"type": "show_snackbar", "text": "Спасибо!"}
    # the three buttons give way to one that shows the choice; its press only says it again
    await vk.wait_for(lambda: vk_buttons(vk.current(VK_CITIZEN, answer["conversation_message_id"])) ==
                      ["✅ Ваша оценка: решено"])
    rated = vk.current(VK_CITIZEN, answer["conversation_message_id"])
    assert "Яму заделаем" in rated["text"]
    again = stand.vk_press(VK_CITIZEN, rated, "rated:", user=VK_CITIZEN)
    assert (await vk.wait_for(lambda: vk.event_answers.get(again)))["text"] == "Вы отметили: решено."
    await stand.tg.wait_for(lambda: "решено ✅" in body(stand.current(chat, card["message_id"])))

    [appeal] = await stand.appeals()
    assert appeal.platform == "vk" and appeal.status == Status.RESOLVED and appeal.rating == "solved"
    citizens = await stand.query("select platform, platform_user_id, chat_id, display_name from citizens")
    assert [tuple(c) for c in citizens] == [("vk", str(VK_CITIZEN), str(VK_CITIZEN), "Анна")]


async def test_vk_account_chat_answers_a_telegram_citizen(vk_stand: Stand) -> None:
    stand, vk = vk_stand, vk_stand.vk_side
    stand.citizen_says(LIGHTS)
    number = appeal_number(await stand.wait(CITIZEN, "принято"))
    card = await stand.vk_wait(VK_ACCOUNT_PEER, f"№{number}")
    assert LIGHTS in card["text"] and "<b>" not in card["text"]
    assert vk_buttons(card) == ["Взять в работу", "Не наша компетенция"]
    cmid = card["conversation_message_id"]

    pressed = stand.vk_press(VK_ACCOUNT_PEER, card, "take:", user=VK_OFFICIAL)
    await stand.wait(CITIZEN, "взято в работу")
    assert (await vk.wait_for(lambda: vk.event_answers.get(pressed)))["text"] == "Взято в работу"
    await vk.wait_for(lambda: "Ольга Сергеевна" in vk.current(VK_ACCOUNT_PEER, cmid)["text"])

    vk.user_sends(VK_ACCOUNT_PEER, VK_OFFICIAL, "Фонари на Ярославской починим завтра.", reply_to=cmid)
    answer = await stand.wait(CITIZEN, "Ответ по обращению")
    assert "Фонари на Ярославской починим завтра." in body(answer)
    assert stand.config.account(VK_ACCOUNT).name in body(answer)
    await vk.wait_for(lambda: "ответ отправлен (Ольга Сергеевна)" in vk.current(VK_ACCOUNT_PEER, cmid)["text"])

    stand.press(CITIZEN, answer, f"rate:{number}:no", user=CITIZEN)
    alert = await stand.vk_wait(VK_ACCOUNT_PEER, "не решена")
    assert alert["reply_message"]["conversation_message_id"] == cmid
    [appeal] = await stand.appeals()
    assert appeal.platform == "tg" and appeal.account_code == VK_ACCOUNT and appeal.status == Status.REOPENED
    messages = await stand.query(
        "select author_role, kind, platform, author_name from appeal_messages where appeal_id = :a order by id",
        a=number,
    )
    assert [tuple(m) for m in messages] == [
        ("citizen", "appeal", "tg", "Мария"), ("official", "answer", "vk", "Ольга Сергеевна"),
    ]


async def test_a_reply_that_is_not_to_an_appeal_is_the_staff_own_talk(vk_stand: Stand) -> None:
    stand, vk = vk_stand, vk_stand.vk_side
    stand.citizen_says(LIGHTS)
    number = appeal_number(await stand.wait(CITIZEN, "принято"))
    card = await stand.vk_wait(VK_ACCOUNT_PEER, f"№{number}")
    chatter = vk.user_sends(VK_ACCOUNT_PEER, VK_OFFICIAL, "Коллеги, кто на выезде?")
    vk.user_sends(VK_ACCOUNT_PEER, VK_OFFICIAL, "Я", reply_to=chatter["conversation_message_id"])
    # `/open` with the community's mention in front, as VK puts it when the bot is picked from a list
    vk.user_sends(VK_ACCOUNT_PEER, VK_OFFICIAL, f"[club{vk.group_id}|@otklik], /open")
    listing = await stand.vk_wait(VK_ACCOUNT_PEER, "Открытые обращения")
    assert f"№{number}" in listing["text"]
    assert (await stand.appeals())[0].status == Status.ROUTED
    assert len(vk.bot_messages(VK_ACCOUNT_PEER)) == 2  # the card and the list, nothing for the chatter
    assert card["conversation_message_id"] < listing["conversation_message_id"]


async def test_photos_and_places_cross_platforms(vk_stand: Stand) -> None:
    stand, vk = vk_stand, vk_stand.vk_side
    # a VK citizen's photo and location reach a Telegram account chat
    sent = stand.vk_citizen_says(POTHOLE, photo=True, location=(58.0486, 38.8584))
    number = appeal_number(await stand.vk_wait(VK_CITIZEN, "принято"))
    chat = stand.chat("adm_rybinsk")
    card_photo = await stand.tg.wait_for(
        lambda: next((m for m in stand.tg.bot_messages(chat) if m.get("photo")), None)
    )
    assert body(card_photo) == f"№{number}"
    vk_url = sent["attachments"][0]["photo"]["sizes"][-1]["url"]
    original = vk.photo_bytes(vk_url.rsplit("/", 1)[1])
    assert stand.tg.file_bytes(card_photo["photo"][-1]["file_id"]) == (original, "image/png")
    location = await stand.tg.wait_for(
        lambda: next((m for m in stand.tg.bot_messages(chat) if m.get("location")), None)
    )
    assert location["location"] == {"latitude": 58.0486, "longitude": 38.8584}

    # a Telegram citizen's photo is uploaded to VK for a VK account chat
    stand.citizen_says(LIGHTS, photo=True)
    number2 = appeal_number(await stand.wait(CITIZEN, "принято"))
    vk_photo = await vk.wait_for(
        lambda: next((m for m in vk.bot_messages(VK_ACCOUNT_PEER) if m["attachments"]), None)
    )
    assert vk_photo["text"] == f"№{number2}"
    card = next(m for m in vk.bot_messages(VK_ACCOUNT_PEER) if f"№{number2}" in m["text"] and not m["attachments"])
    assert vk_photo["reply_message"]["conversation_message_id"] == card["conversation_message_id"]
    [tg_photo] = [m for m in stand.tg.chat_log(CITIZEN) if m.get("photo")]
    uploaded = vk_photo["attachments"][0]["photo"]
    assert uploaded["owner_id"] == -vk.group_id
    assert vk.photo_bytes(uploaded["sizes"][-1]["url"].rsplit("/", 1)[1]) == stand.tg.file_bytes(
        tg_photo["photo"][-1]["file_id"]
    )[0]
    assert [name for name, _ in vk.calls].count("photos.saveMessagesPhoto") == 1

    # the VK official answers with a photo: it goes to the Telegram citizen
    vk.user_sends(VK_ACCOUNT_PEER, VK_OFFICIAL, "Вот что сделано", reply_to=card["conversation_message_id"],
                  photo=True)
    answer = await stand.wait(CITIZEN, "Ответ по обращению")
    assert "Вот что сделано" in body(answer)
    assert any(m.get("photo") and m["from"]["is_bot"] for m in stand.tg.chat_log(CITIZEN))


async def test_municipality_buttons_split_under_vk_limits_and_all_work(vk_stand: Stand) -> None:
    stand = vk_stand
    stand.vk_citizen_says(NO_PLACE)
    ack = await stand.vk_wait(VK_CITIZEN, "принято")
    number = appeal_number(ack)
    assert "Уточните" in ack["text"]
    await stand.vk_wait(VK_CITIZEN, "Ещё варианты")
    messages = [ack, *acks(stand, VK_CITIZEN, "Ещё варианты")]
    more = messages[-1]
    labels = [label for m in messages for label in vk_buttons(m)]
    assert len(labels) == len(stand.config.municipalities) and "Углич" in labels
    assert len(messages) >= 2 and all(len(vk_buttons(m)) <= 10 for m in messages)
    # the button sits under the last message, not the first: it still picks the place
    stand.vk_press(VK_CITIZEN, more, f"place:{number}:", user=VK_CITIZEN)
    await stand.vk_wait(VK_CITIZEN, "передали в")
    [appeal] = await stand.appeals()
    assert appeal.municipality_source == "citizen" and appeal.status in (Status.ROUTED, Status.TRIAGE)


async def test_a_place_pressed_in_the_first_message_takes_the_more_choices_messages_away(vk_stand: Stand) -> None:
    stand, vk = vk_stand, vk_stand.vk_side
    stand.vk_citizen_says(NO_PLACE)
    ack = await stand.vk_wait(VK_CITIZEN, "принято")
    number = appeal_number(ack)
    await stand.vk_wait(VK_CITIZEN, "Ещё варианты")
    more = [m["conversation_message_id"] for m in acks(stand, VK_CITIZEN, "Ещё варианты")]
    assert more
    stand.vk_press(VK_CITIZEN, ack, f"place:{number}:", user=VK_CITIZEN)
    await stand.vk_wait(VK_CITIZEN, "передали в")
    # before, each stayed as a bare «Ещё варианты:» heading with nothing under it
    await vk.wait_for(lambda: not acks(stand, VK_CITIZEN, "Ещё варианты"))
    assert all(cmid not in [m["conversation_message_id"] for m in vk.chat_log(VK_CITIZEN)] for cmid in more)
    assert "Спасибо! Место:" in vk.current(VK_CITIZEN, ack["conversation_message_id"])["text"]


async def test_forged_or_foreign_presses_change_nothing(vk_stand: Stand) -> None:
    stand, vk = vk_stand, vk_stand.vk_side
    stand.vk_citizen_says(NO_PLACE)
    number = appeal_number(await stand.vk_wait(VK_CITIZEN, "принято"))
    # another VK citizen presses a button they were never shown, with this appeal's payload
    vk.user_sends(VK_CITIZEN2, VK_CITIZEN2, "/my")
    theirs = await stand.vk_wait(VK_CITIZEN2, "нет обращений")
    payload = json.dumps({"a": f"place:{number}:uglichsky"})
    forged = vk.user_presses(VK_CITIZEN2, theirs["conversation_message_id"], VK_CITIZEN2, payload, forge=True)
    assert (await vk.wait_for(lambda: vk.event_answers.get(forged)))["text"] == "Это действие недоступно."
    assert (await stand.appeals())[0].municipality is None


async def test_unsupported_content_is_explained(vk_stand: Stand) -> None:
    stand = vk_stand
    stand.vk_citizen_says(sticker=True)
    refusal = await stand.vk_wait(VK_CITIZEN, "не принимает")
    assert "стикер" in refusal["text"]
    stand.vk_citizen_says(voice=True)
    assert "голосовое" in (await stand.vk_wait(VK_CITIZEN, "не принимает", count=2))["text"]
    stand.vk_citizen_says("/open")  # a staff command, or any unknown one: no appeal is filed from it
    assert "/my" in (await stand.vk_wait(VK_CITIZEN, "Такой команды нет"))["text"]
    assert await stand.appeals() == []


async def test_an_event_delivered_twice_makes_one_appeal(vk_stand: Stand) -> None:
    stand, vk = vk_stand, vk_stand.vk_side
    stand.vk_citizen_says(POTHOLE)
    await stand.vk_wait(VK_CITIZEN, "принято")
    [event] = [e for e in vk.event_log() if e["type"] == "message_new"]
    vk.push_event(event)
    vk.push_event(event)
    await stand.idle()
    assert len(await stand.appeals()) == 1
    assert len(acks(stand, VK_CITIZEN, "принято")) == 1

    # a press delivered twice rates once
    stand.official_replies(stand.chat("adm_rybinsk"), (await stand.wait(stand.chat("adm_rybinsk"), "№"))[
        "message_id"], "Сделано.")
    answer = await stand.vk_wait(VK_CITIZEN, "Ответ по обращению")
    stand.vk_press(VK_CITIZEN, answer, "rate:", user=VK_CITIZEN)
    await stand.vk_wait(VK_CITIZEN, "закрыто")
    [press] = [e for e in vk.event_log() if e["type"] == "message_event"]
    vk.push_event(press)
    await stand.idle()
    assert len(acks(stand, VK_CITIZEN, "закрыто")) == 1
    events = await stand.query("select action from appeal_events where action = 'rated_solved'")
    assert len(events) == 1


async def test_retried_sends_are_delivered_once(vk_stand: Stand) -> None:
    stand, vk = vk_stand, vk_stand.vk_side
    # half of the sends fail; some of them after VK has already posted the message ("lost")
    vk.inject_faults(0.4, kinds=("lost", "10", "http500"), methods={"messages.send"}, seed=1, hang_seconds=2.5)
    stand.vk_citizen_says(POTHOLE)
    stand.vk_citizen_says("Яма глубокая, в ней вода")
    stand.vk_citizen_says("Рядом остановка автобуса")
    await vk.wait_for(lambda: acks(stand, VK_CITIZEN, "Добавили к обращению"), timeout=40)
    await vk.wait_for(lambda: acks(stand, VK_CITIZEN, "принято"), timeout=40)
    await stand.idle(timeout=40)
    vk.inject_faults(0)
    kinds = {kind for _, kind in vk.faults}
    assert "lost" in kinds and len(vk.faults) >= 2
    texts = [m["text"] for m in vk.bot_messages(VK_CITIZEN)]
    # the ack and one follow-up note (two follow-ups in a row are acknowledged once), each once
    assert len(texts) == 2 and len(acks(stand, VK_CITIZEN, "принято")) == 1
    assert len(acks(stand, VK_CITIZEN, "Добавили к обращению")) == 1
    sends = [params for name, params in vk.calls if name == "messages.send"]
    assert len(sends) > 2  # retries happened, with the same random_id
    assert len({p["random_id"] for p in sends}) == 2


async def test_the_loop_is_never_blocked_by_vk(vk_stand: Stand) -> None:
    stand, vk = vk_stand, vk_stand.vk_side
    loop = asyncio.get_running_loop()
    # every messages.send hangs; the client gives up after its 2 s timeout and the outbox retries
    vk.inject_faults(1.0, kinds=("timeout",), methods={"messages.send"}, hang_seconds=60)
    stand.vk_citizen_says(POTHOLE)
    await vk.wait_for(lambda: vk.faults, timeout=5)

    worst = 0.0
    end = loop.time() + 3.0
    telegram_acked = None
    stand.citizen_says("В Угличе не работает уличное освещение на улице Ярославской")
    while loop.time() < end:
        before = loop.time()
        await asyncio.sleep(0.01)
        worst = max(worst, loop.time() - before - 0.01)
        if telegram_acked is None:
            telegram_acked = next((m for m in stand.tg.bot_messages(CITIZEN) if "принято" in body(m)), None)
    # the loop kept ticking while VK calls hung in their threads, and Telegram kept being served
    assert worst < 0.25, f"the loop stalled for {worst:.3f}s"
    assert telegram_acked is not None
    assert len([f for f in vk.faults if f[0] == "messages.send"]) >= 2  # a timeout, then a hung retry
    assert acks(stand, VK_CITIZEN, "принято") == []

    vk.inject_faults(0)
    await vk.wait_bot_message(VK_CITIZEN, "принято", timeout=20)
    await stand.idle(timeout=20)
    assert len(acks(stand, VK_CITIZEN, "принято")) == 1
    # the VK appeal's card went to the Telegram account chat meanwhile
    assert POTHOLE in body(await stand.wait(stand.chat("adm_rybinsk"), POTHOLE))


async def test_what_citizens_write_while_the_bot_is_down_is_taken_in_after_restart(vk_stand: Stand) -> None:
    stand = vk_stand
    stand.vk_citizen_says(POTHOLE)
    await stand.vk_wait(VK_CITIZEN, "принято")
    await stand.stop()
    # VK keeps the events; the bot asks from the position it stored with the last batch
    stand.vk_citizen_says("Яма глубокая, в ней вода")
    stand.vk_citizen_says(NO_PLACE, user=VK_CITIZEN2)
    await stand.start()
    await stand.vk_wait(VK_CITIZEN, "Добавили к обращению")
    await stand.vk_wait(VK_CITIZEN2, "принято")
    assert len(await stand.appeals()) == 2
    positions = await stand.query("select key from processed_updates where platform = 'vk-lp'")
    assert len(positions) == 1  # one row, moved forward with every batch


async def test_a_vk_account_refuses_an_appeal_with_a_reason_and_it_goes_to_triage(vk_stand: Stand) -> None:
    stand, vk = vk_stand, vk_stand.vk_side
    stand.citizen_says(LIGHTS)
    number = appeal_number(await stand.wait(CITIZEN, "принято"))
    card = await stand.vk_wait(VK_ACCOUNT_PEER, f"№{number}")
    stand.vk_press(VK_ACCOUNT_PEER, card, "reject:", user=VK_OFFICIAL)
    # VK has no "force reply": the prompt asks for VK's «Ответить», and the reply is the reason
    prompt = await stand.vk_wait(VK_ACCOUNT_PEER, "причину")
    assert prompt["reply_message"]["conversation_message_id"] == card["conversation_message_id"]
    vk.user_sends(VK_ACCOUNT_PEER, VK_OFFICIAL, "Освещение на этой улице — сетевая компания",
                  reply_to=prompt["conversation_message_id"])
    triage_card = await stand.wait(stand.triage, f"№{number}")
    assert "сетевая компания" in body(triage_card)
    await stand.wait(CITIZEN, "передаётся другому исполнителю")
    await vk.wait_for(lambda: "передано в ЦУР" in vk.current(VK_ACCOUNT_PEER, card["conversation_message_id"])["text"])
    assert "keyboard" not in vk.current(VK_ACCOUNT_PEER, card["conversation_message_id"])


async def test_a_database_outage_loses_no_vk_event(vk_stand: Stand, monkeypatch: pytest.MonkeyPatch) -> None:
    stand, vk = vk_stand, vk_stand.vk_side
    down = True
    real = repository.mark_processed

    async def flaky(*args: Any, **kwargs: Any) -> bool:
        if down:
            raise OperationalError("INSERT INTO processed_updates ...", {}, Exception("server closed the connection"))
        return await real(*args, **kwargs)

    monkeypatch.setattr(repository, "mark_processed", flaky)
    stand.vk_citizen_says(POTHOLE)
    stand.vk_citizen_says(NO_PLACE, user=VK_CITIZEN2)
    await asyncio.sleep(2.5)
    assert await stand.appeals() == []
    assert vk.pending_events() == 2  # asked for again and again, never moved past
    down = False
    await vk.wait_bot_message(VK_CITIZEN, "принято", timeout=30)
    await vk.wait_bot_message(VK_CITIZEN2, "принято", timeout=30)
    await stand.idle(timeout=30)
    assert len(await stand.appeals()) == 2


async def test_supervisors_commands_reach_the_supervision_desk_from_vk(vk_stand: Stand) -> None:
    stand, vk = vk_stand, vk_stand.vk_side
    vk.user_sends(VK_ACCOUNT_PEER, VK_OFFICIAL, "/rating 2026-11")
    refusal = await stand.vk_wait(VK_ACCOUNT_PEER)
    assert "кураторов" in refusal["text"]  # charts are for the supervisors' chat only


OTPISKA = "Ваше обращение рассмотрено. Информация принята к сведению, вопрос находится на контроле."


async def test_a_held_answer_in_a_vk_chat_is_sent_anyway_or_rewritten(vk_stand: Stand) -> None:
    # the answer check holds an отписка with two buttons; VK's chat must be able to press them too
    stand, vk = vk_stand, vk_stand.vk_side
    stand.citizen_says(LIGHTS)
    stand.citizen_says("/new")
    stand.citizen_says("В Угличе на улице Ленина не горят фонари во дворе")
    cards = [await stand.vk_wait(VK_ACCOUNT_PEER, f"№{n}") for n in (1, 2)]

    vk.user_sends(VK_ACCOUNT_PEER, VK_OFFICIAL, OTPISKA, reply_to=cards[0]["conversation_message_id"])
    hold = await stand.vk_wait(VK_ACCOUNT_PEER, "пока не отправлен")
    assert vk_buttons(hold) == ["Отправить как есть", "Переписать"]
    pressed = stand.vk_press(VK_ACCOUNT_PEER, hold, "qsend:", user=VK_OFFICIAL)
    answer = await stand.wait(CITIZEN, "Ответ по обращению №1")
    assert "принята к сведению" in body(answer)
    assert "действует" not in (await vk.wait_for(lambda: vk.event_answers.get(pressed)))["text"]

    vk.user_sends(VK_ACCOUNT_PEER, VK_OFFICIAL, OTPISKA, reply_to=cards[1]["conversation_message_id"])
    hold = await stand.vk_wait(VK_ACCOUNT_PEER, "№2: ответ пока не отправлен")
    stand.vk_press(VK_ACCOUNT_PEER, hold, "qredo:", user=VK_OFFICIAL)
    await vk.wait_for(lambda: "Напишите новый" in vk.current(VK_ACCOUNT_PEER, hold["conversation_message_id"])["text"])
    vk.user_sends(VK_ACCOUNT_PEER, VK_OFFICIAL, "Фонари на Ленина заменим в четверг, заявка подрядчику № 55.",
                  reply_to=hold["conversation_message_id"])
    second = await stand.wait(CITIZEN, "Ответ по обращению №2")
    assert "в четверг" in body(second) and "принята к сведению" not in body(second)
    appeals = {a.id: a for a in await stand.appeals()}
    assert appeals[1].answer_flag == "sent_flagged" and appeals[2].answer_flag is None
    assert appeals[1].status == appeals[2].status == Status.ANSWERED



@pytest.mark.parametrize(("verdict", "status", "rating", "told"), [
    ("part", Status.RESOLVED, "partly", "решена частично"),
    ("no", Status.REOPENED, "not_solved", "не решена"),
])
async def test_every_rating_button_works_for_a_vk_citizen(vk_stand: Stand, verdict: str, status: str,
                                                         rating: str, told: str) -> None:
    stand, vk = vk_stand, vk_stand.vk_side
    stand.vk_citizen_says(POTHOLE)
    number = appeal_number(await stand.vk_wait(VK_CITIZEN, "принято"))
    chat = stand.chat("adm_rybinsk")
    card = await stand.wait(chat, f"№{number}")
    stand.official_replies(chat, card["message_id"], "Яму заделаем до пятницы, бригада выехала.")
    answer = await stand.vk_wait(VK_CITIZEN, "Ответ по обращению")
    assert vk_buttons(answer) == ["Решено", "Частично", "Не решено"]
    pressed = stand.vk_press(VK_CITIZEN, answer, f"rate:{number}:{verdict}", user=VK_CITIZEN)
    snackbar = await vk.wait_for(lambda: vk.event_answers.get(pressed))
    assert snackbar["text"] != "Эта кнопка уже не действует"
    await stand.wait(chat, told)
    [appeal] = await stand.appeals()
    assert appeal.status == status and appeal.rating == rating
