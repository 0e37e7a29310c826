"""Personal data end to end: `otklik forget` and the citizen's /forget erase a citizen — name, ids,
chat, texts, photos, locations — everywhere the database keeps them, drop what was still to be sent
to them, and leave every figure the supervisors see exactly as it was."""
from __future__ import annotations

import asyncio
import dataclasses
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.cli import main as cli_main
from bot.config import OtklikConfig
from routing import texts
from routing.periods import Period
from storage import repository as repo
from storage.db import Database
from storage.models import Base, Citizen
from tests.conftest import CITIZEN, CITIZEN2, OFFICIAL, VK_ACCOUNT_PEER, Stand, appeal_number, body

POTHOLE = "В Рыбинске на улице Крестовой огромная яма на дороге, машины бьют колёса"
SECOND = "В Рыбинске на улице Ломоносова огромная яма на дороге у дома 7, квартира 12 рядом"
PHOTO_NOTE = "Вот фото ямы у моего подъезда"
OTHER = "В Рыбинске на проспекте Ленина огромная яма на дороге, колесо пробил"
ANSWER = "Яму заделаем до пятницы, бригада выехала."
NAME = "Мария"  # the sandbox's citizen (bot.sandbox.CITIZEN)
PLACE = (58.0481, 38.8584)


def quick_config(config: OtklikConfig) -> OtklikConfig:
    # the outbox's rate limits are tested on their own; here they would only slow the chats down
    return config.model_copy(update={"delivery": config.delivery.model_copy(update={"rate_limits": False})})


@pytest.fixture
def config(config: OtklikConfig) -> OtklikConfig:
    return quick_config(config)


async def with_db(stand: Stand, work: Any) -> Any:
    db = Database(stand.database_url)
    try:
        async with db.transaction() as s:
            return await work(s)
    finally:
        await db.dispose()


async def everything(stand: Stand) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, as plain values."""
    async def read(s: Any) -> dict[str, list[dict[str, Any]]]:
        out = {}
        for table in Base.metadata.sorted_tables:
            rows = (await s.execute(select(table))).mappings().all()
            out[table.name] = [dict(r) for r in rows]
        return out
    return await with_db(stand, read)


def cells(rows: dict[str, list[dict[str, Any]]]) -> list[tuple[str, str, str]]:
    """(table, column, text) for every text and JSON cell."""
    found = []
    for table, items in rows.items():
        for row in items:
            for column, value in row.items():
                if isinstance(value, str):
                    found.append((table, column, value))
                elif isinstance(value, dict | list):
                    found.append((table, column, json.dumps(value, ensure_ascii=False)))
    return found


async def figures(stand: Stand) -> dict[str, Any]:
    """What statistics read: per-appeal facts (less the place, which is erased), grouped counts, and
    the supervisors' ratings and category tables for the week."""
    from bot.reports import collect

    appeals = await stand.query(
        "select id, citizen_id, status, category, municipality, account_code, rating, urgent, created_at, "
        "registered_at, routed_at, taken_at, first_answered_at, resolved_at, first_answer_due, resolution_due, "
        "duplicate_of from appeals order by id"
    )
    grouped = await stand.query(
        "select status, category, municipality, account_code, rating, count(*) from appeals "
        "group by status, category, municipality, account_code, rating order by 1, 2, 3, 4, 5"
    )
    messages = await stand.query(
        "select appeal_id, direction, author_role, kind, count(*) from appeal_messages "
        "group by appeal_id, direction, author_role, kind order by 1, 2, 3, 4"
    )
    events = await stand.query(
        "select appeal_id, action, from_status, to_status, count(*) from appeal_events "
        "where action != 'personal_data_erased' group by appeal_id, action, from_status, to_status order by 1, 2, 3, 4"
    )
    tz = ZoneInfo(stand.config.region.timezone)
    today = datetime.now(tz).date()
    db = Database(stand.database_url)
    try:
        data = await collect(db, stand.config, Period("range", today - timedelta(days=6), today, tz),
                             datetime.now(UTC) + timedelta(minutes=1))
    finally:
        await db.dispose()
    facts = [dataclasses.replace(f, latitude=None, longitude=None) for f in data.facts]
    return {"appeals": appeals, "grouped": grouped, "messages": messages, "events": events, "facts": facts,
            "accounts": repr(data.accounts.rows), "municipalities": repr(data.municipalities.rows),
            "region": repr(data.region), "top": repr(data.top)}


async def two_citizens(stand: Stand) -> dict[str, Any]:
    """CITIZEN: one appeal answered and rated, one open with a photo and a location added; CITIZEN2:
    one open appeal. Returns the numbers and the cards."""
    chat = stand.chat("adm_rybinsk")
    stand.citizen_says(POTHOLE)
    first = appeal_number(await stand.wait(CITIZEN, "принято"))
    card1 = await stand.wait(chat, f"№{first}")
    stand.official_replies(chat, card1["message_id"], ANSWER)
    answer = await stand.wait(CITIZEN, "Ответ по обращению")
    stand.press(CITIZEN, answer, f"rate:{first}:yes", user=CITIZEN)
    await stand.wait(CITIZEN, "закрыто")
    stand.citizen_says("/new")
    await stand.wait(CITIZEN, "новую проблему")
    stand.citizen_says(SECOND)
    second = appeal_number(await stand.wait(CITIZEN, "принято", count=2))
    card2 = await stand.wait(chat, f"№{second}")
    stand.citizen_says(PHOTO_NOTE, photo=True)
    await stand.wait(chat, "Дополнение к обращению")
    stand.citizen_says(location=PLACE)
    await stand.wait(chat, "Дополнение к обращению", count=2)
    stand.tg.user_sends(CITIZEN2, CITIZEN2, OTHER)
    third = appeal_number(await stand.wait(CITIZEN2, "принято"))
    await stand.wait(chat, f"№{third}")
    return {"first": first, "second": second, "third": third, "card1": card1, "card2": card2, "chat": chat}


async def test_forget_from_the_cli_erases_the_citizen_and_keeps_every_figure(stand: Stand) -> None:
    made = await two_citizens(stand)
    [photo] = [a.photos for a in await stand.appeals() if a.id == made["second"]][0]
    before = await figures(stand)
    await stand.stop()

    # a message still waiting to go to the citizen (as after a crash), and one to the other citizen
    async def queue(s: Any) -> None:
        now = datetime.now(UTC)
        repo.enqueue(s, "tg", str(CITIZEN), "test_pending", {"type": "text", "text": "ждёт отправки"}, now=now)
        repo.enqueue(s, "tg", str(CITIZEN2), "test_pending", {"type": "text", "text": "тоже ждёт"}, now=now)
    await with_db(stand, queue)

    env = {"OTKLIK_DATABASE_URL": stand.database_url}
    code = await asyncio.to_thread(run_cli, ["forget", f"tg:{CITIZEN}", "--yes"], env)
    assert code == 0
    # a second run finds nothing left to erase; an unknown citizen is an error
    assert await asyncio.to_thread(run_cli, ["forget", f"#{made['first']}", "--yes"], env) == 0
    assert await asyncio.to_thread(run_cli, ["forget", "tg:999999", "--yes"], env) == 1
    assert await asyncio.to_thread(run_cli, ["forget", "someone", "--yes"], env) == 2

    rows = await everything(stand)
    [erased] = [c for c in rows["citizens"] if c["anonymised_at"] is not None]
    marker = f"forgotten:{erased['id']}"
    assert (erased["display_name"], erased["platform_user_id"], erased["chat_id"]) == (None, marker, marker)
    # nothing anywhere still holds the citizen's words, name, photo or chat
    secrets = (POTHOLE, SECOND, PHOTO_NOTE, NAME, photo, "ждёт отправки")
    leaks = [(t, c, v[:80]) for t, c, v in cells(rows) if any(x in v for x in secrets)]
    assert leaks == []
    assert not [r for r in rows["outbox"] if r["chat_id"] == str(CITIZEN)]
    assert not [r for r in rows["message_links"] if r["chat_id"] == str(CITIZEN)]
    assert not [r for r in rows["appeal_messages"] if r["chat_id"] == str(CITIZEN) or r["author_id"] == str(CITIZEN)]
    assert not [r for r in rows["processed_updates"] if r["key"].startswith(f"msg:{CITIZEN}:")]
    assert not [r for r in rows["appeal_events"] if str(CITIZEN) in r["actor"]]
    mine = [a for a in rows["appeals"] if a["citizen_id"] == erased["id"]]
    assert {a["id"] for a in mine} == {made["first"], made["second"]}
    assert all(a["text"] == texts.FORGOTTEN_TEXT and a["photos"] == [] and a["latitude"] is None for a in mine)
    assert all(a["next_alert_at"] is None for a in mine)  # no reminders about an erased appeal
    # the officials' answer is theirs and stays; the other citizen is untouched
    assert any(r["text"] == ANSWER for r in rows["appeal_messages"])
    assert any(OTHER in v for _, _, v in cells(rows))
    [dropped] = [r for r in rows["outbox"] if r["purpose"] == "test_pending" and r["status"] == "dropped"]
    assert dropped["chat_id"] == marker and "erased" in dropped["error"]
    assert [r["status"] for r in rows["outbox"] if r["chat_id"] == str(CITIZEN2) and r["purpose"] == "test_pending"
            ] == ["pending"]

    # every figure the supervisors see is as it was
    after = await figures(stand)
    for key in before:
        assert after[key] == before[key], key

    # the cards in the officials' chat now show the placeholder instead of the citizen's words
    await stand.start()
    chat = made["chat"]
    for card in (made["card1"], made["card2"]):
        await stand.tg.wait_for(lambda card=card: "удалил свои персональные данные" in body(
            stand.current(chat, card["message_id"])))
        assert NAME not in body(stand.current(chat, card["message_id"]))
    await stand.idle()

    # the officials can still close the open one; nothing is queued for the erased citizen
    to_erased = "select count(*) from outbox where chat_id = :c"
    rows_before = await stand.query(to_erased, c=marker)
    stand.official_replies(chat, made["card2"]["message_id"], "Сделано.", user=OFFICIAL)
    await stand.idle()
    statuses = dict((n, s) for n, s in await stand.query("select id, status from appeals"))
    assert statuses[made["second"]] == "answered"
    assert await stand.query(to_erased, c=marker) == rows_before

    # writing again starts afresh: a new citizen, greeted, with a new appeal
    stand.citizen_says(POTHOLE)
    ack = await stand.wait(CITIZEN, "принято", count=3)
    assert "Здравствуйте" in body(ack) and appeal_number(ack) > made["third"]
    citizens = await stand.query("select id from citizens where platform_user_id = :u", u=str(CITIZEN))
    assert len(citizens) == 1 and citizens[0][0] != erased["id"]
    assert await stand.query("select status from outbox where status = 'failed'") == []


def run_cli(args: list[str], env: dict[str, str]) -> int:
    import os

    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return cli_main(args)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


async def test_the_citizen_forgets_themselves_with_the_button(stand: Stand) -> None:
    stand.tg.user_sends(CITIZEN2, CITIZEN2, OTHER)
    number = appeal_number(await stand.wait(CITIZEN2, "принято"))
    chat = stand.chat("adm_rybinsk")
    card = await stand.wait(chat, f"№{number}")

    stand.tg.user_sends(CITIZEN2, CITIZEN2, "/forget")
    prompt = await stand.wait(CITIZEN2, "Удалить ваши данные?")
    labels = [b["text"] for row in prompt["reply_markup"]["inline_keyboard"] for b in row]
    assert labels == [texts.FORGET_CONFIRM, texts.FORGET_CANCEL]
    cancel = stand.press(CITIZEN2, prompt, "forget:no", user=CITIZEN2)
    assert (await stand.tg.wait_for(lambda: stand.tg.callback_answers.get(cancel)))["text"] == texts.FORGET_CANCELLED
    await stand.idle()
    assert any(OTHER in a.text for a in await stand.appeals())
    # the cancelled prompt says so and keeps no live «Да, удалить»
    await stand.tg.wait_for(lambda: body(stand.current(CITIZEN2, prompt["message_id"])) == texts.FORGET_PROMPT_CANCELLED)
    assert not (stand.current(CITIZEN2, prompt["message_id"]).get("reply_markup") or {}).get("inline_keyboard")

    stand.tg.user_sends(CITIZEN2, CITIZEN2, "/forget")
    first_prompt = prompt["message_id"]
    prompt = await stand.wait(CITIZEN2, "Удалить ваши данные?")  # the first one no longer asks
    assert prompt["message_id"] > first_prompt
    confirm = stand.press(CITIZEN2, prompt, "forget:yes", user=CITIZEN2)
    answered = await stand.tg.wait_for(lambda: stand.tg.callback_answers.get(confirm))
    assert answered["text"] == texts.FORGET_DONE and answered.get("show_alert")
    await stand.idle()  # the toast is answered inside the batch, before its transaction commits
    [appeal] = await stand.appeals()
    assert appeal.text == texts.FORGOTTEN_TEXT and appeal.status == "routed" and appeal.account_code == "adm_rybinsk"

    async def citizen(s: Any) -> Citizen:
        return (await s.execute(select(Citizen))).scalar_one()
    erased = await with_db(stand, citizen)
    assert erased.anonymised_at is not None and erased.display_name is None and erased.chat_id.startswith("forgotten:")
    await stand.tg.wait_for(lambda: "удалил" in body(stand.current(chat, card["message_id"])))
    # the toast is the only word after the erasure: no message to the citizen's chat was queued
    later = await stand.query("select purpose, chat_id from outbox where created_at >= "
                              "(select anonymised_at from citizens where id = :i)", i=erased.id)
    assert later == [("card_erased", str(chat))]

    # the official who answers it after all is told there is no one to send it to (before: silence)
    stand.official_replies(chat, card["message_id"], "Яму заделали 20 ноября.")
    told = await stand.wait(chat, "ответ сохранён, но не отправлен")
    assert f"№{number}" in body(told)
    [appeal] = await stand.appeals()
    assert appeal.status == "answered"
    assert not [m for m in stand.tg.bot_messages(CITIZEN2) if "Яму заделали" in body(m)]

    # pressing again, or /forget with nothing kept, says there is nothing
    again = stand.press(CITIZEN2, prompt, "forget:yes", user=CITIZEN2)
    assert (await stand.tg.wait_for(lambda: stand.tg.callback_answers.get(again)))["text"] == texts.FORGET_NOTHING
    stand.citizen_says("/forget")
    await stand.wait(CITIZEN, texts.FORGET_NOTHING)


async def test_forget_by_appeal_number_in_process(stand: Stand) -> None:
    """forget_citizen inside a running bot's database, found by an appeal number."""
    from routing.privacy import find_citizen, forget_citizen

    stand.citizen_says(POTHOLE)
    number = appeal_number(await stand.wait(CITIZEN, "принято"))
    await stand.wait(stand.chat("adm_rybinsk"), f"№{number}")

    async def erase(s: Any) -> Any:
        citizen = await find_citizen(s, f"№{number}")
        assert citizen is not None
        return await forget_citizen(s, citizen, datetime.now(UTC), by="test")
    report = await with_db(stand, erase)
    assert report.appeals == 1 and report.messages == 1 and report.cards_edited == 1 and not report.already
    assert "erased 1 appeal(s)" in report.summary()
    counts = await stand.query("select count(*) from appeal_events where action = 'personal_data_erased'")
    assert counts == [(1,)]
    assert (await stand.query("select count(*) from citizens where anonymised_at is not null")) == [(1,)]


async def test_every_copy_of_the_card_and_its_continuation_is_erased(stand: Stand) -> None:
    long_text = POTHOLE + ". " + "Подробности: " + "яма глубокая, вода стоит, " * 200
    stand.citizen_says(long_text)
    number = appeal_number(await stand.wait(CITIZEN, "принято"))
    chat = stand.chat("adm_rybinsk")
    first = await stand.wait(chat, f"№{number}")
    more = await stand.wait(chat, "продолжение:")
    stand.tg.user_sends(chat, OFFICIAL, f"/card {number}")
    again = await stand.wait(chat, f"№{number}", count=3)  # card, its continuation, the card again
    assert again["message_id"] != first["message_id"] and NAME in body(again)

    stand.citizen_says("/forget")
    prompt = await stand.wait(CITIZEN, "Удалить ваши данные?")
    stand.press(CITIZEN, prompt, "forget:yes", user=CITIZEN)
    await stand.idle()
    # before the fix only the latest card was edited: the first one kept the name and the words
    await stand.tg.wait_for(lambda: all(
        "удалил" in body(stand.current(chat, m["message_id"])) for m in (first, again)))
    for m in stand.tg.bot_messages(chat):
        text = body(stand.current(chat, m["message_id"]))
        assert NAME not in text and "яма глубокая" not in text, text
    assert "удалил" in body(stand.current(chat, more["message_id"]))


async def forget_with_the_button(stand: Stand) -> None:
    stand.citizen_says("/forget")
    prompt = await stand.wait(CITIZEN, "Удалить ваши данные?")
    stand.press(CITIZEN, prompt, "forget:yes", user=CITIZEN)
    await stand.idle()


async def photos_place_and_followup(stand: Stand) -> tuple[int, int]:
    """An appeal sent with a photo and a place, then a follow-up with a photo: the official's chat
    gets the card, its photo and place, and the follow-up."""
    chat = stand.chat("adm_rybinsk")
    stand.citizen_says(photo=True, caption=POTHOLE)
    number = appeal_number(await stand.wait(CITIZEN, "принято"))
    await stand.wait(chat, f"№{number}")
    stand.citizen_says(location=PLACE)
    header = await stand.wait(chat, "Дополнение к обращению")
    assert texts.FOLLOWUP_PLACE in body(header)  # says what follows (it was a bare «…№N:»)
    stand.citizen_says(PHOTO_NOTE, photo=True)
    await stand.wait(chat, "Дополнение к обращению", count=2)
    await stand.idle()
    return number, chat


def personal(message: dict) -> bool:
    """Does an official's-chat message still carry the citizen's photo, place or words?"""
    text = body(message) or ""
    return bool(message.get("photo") or message.get("location") or PHOTO_NOTE in text or "Крестовой" in text)


async def test_the_cards_photos_place_and_the_followups_leave_the_officials_chat(stand: Stand) -> None:
    number, chat = await photos_place_and_followup(stand)
    before = stand.tg.bot_messages(chat)
    assert sum(1 for m in before if m.get("photo")) == 2 and any(m.get("location") for m in before)
    await forget_with_the_button(stand)
    # before the fix the card's text was erased, its photo and every follow-up stayed in the chat
    await stand.tg.wait_for(lambda: not any(personal(m) for m in stand.tg.bot_messages(chat)))
    left = stand.tg.bot_messages(chat)
    assert len(left) < len(before)
    assert all(texts.FORGOTTEN_CARD.format(number=number).split("\n")[0] in body(m) or "удалил" in body(m)
               for m in left), [body(m) for m in left]
    failed = await stand.query("select count(*) from outbox where purpose = 'part_erased' and status != 'sent'")
    assert failed == [(0,)]


async def test_messages_too_old_to_delete_are_overwritten(stand: Stand) -> None:
    number, chat = await photos_place_and_followup(stand)
    places = {str(m["message_id"]) for m in stand.tg.bot_messages(chat) if m.get("location")}
    assert len(places) == 1  # the place the citizen sent after the card
    stand.tg.age_messages(chat, 3 * 24 * 3600)  # past the 48 hours in which a bot may delete
    await forget_with_the_button(stand)
    placeholder = texts.FORGOTTEN_PART.format(number=number)
    await stand.tg.wait_for(lambda: sum(placeholder in body(m) for m in stand.tg.bot_messages(chat)) >= 2)
    for m in stand.tg.bot_messages(chat):
        text = body(m) or ""
        assert PHOTO_NOTE not in text and "Крестовой" not in text and NAME not in text, text
        if m.get("photo"):
            assert placeholder in text  # the caption, the most Telegram still lets a bot change
    # a place message can be neither deleted nor edited any more: their rows say so, nothing else failed
    failed = await stand.query("select payload from outbox where purpose = 'part_erased' and status != 'sent'")
    assert {str((json.loads(p) if isinstance(p, str) else p)["message_id"]) for (p,) in failed} == places


LIGHTS = "В Угличе не работает уличное освещение на улице Ярославской"  # the VK account's


@pytest.mark.parametrize("days", [0, 3])
async def test_a_vk_chats_copies_are_deleted_or_overwritten(vk_stand: Stand, days: int) -> None:
    stand, vk = vk_stand, vk_stand.vk_side
    stand.citizen_says(photo=True, caption=LIGHTS)
    number = appeal_number(await stand.wait(CITIZEN, "принято"))
    await stand.vk_wait(VK_ACCOUNT_PEER, f"№{number}")
    stand.citizen_says(PHOTO_NOTE)
    await stand.vk_wait(VK_ACCOUNT_PEER, PHOTO_NOTE)
    photos = [m["conversation_message_id"] for m in vk.bot_messages(VK_ACCOUNT_PEER) if m.get("attachments")]
    assert len(photos) == 1
    if days:
        vk.age_messages(VK_ACCOUNT_PEER, days * 24 * 3600)  # VK deletes for everybody within a day only
    await forget_with_the_button(stand)
    await vk.wait_for(lambda: not any(PHOTO_NOTE in m["text"] or "Ярославской" in m["text"]
                                      for m in vk.bot_messages(VK_ACCOUNT_PEER)))
    left = {m["conversation_message_id"]: m for m in vk.bot_messages(VK_ACCOUNT_PEER)}
    placeholder = texts.FORGOTTEN_PART.format(number=number)  # no markup in it: the same on VK
    if days:
        # too old: the texts are overwritten; the photo stays (VK keeps an edit's attachments)
        assert placeholder in left[photos[0]]["text"]
        assert sum(placeholder in m["text"] for m in left.values()) == 2
    else:
        assert photos[0] not in left and not any(placeholder in m["text"] for m in left.values())
    assert all("удалил" in m["text"] for m in left.values()), [m["text"] for m in left.values()]
    failed = await stand.query("select count(*) from outbox where purpose = 'part_erased' and status != 'sent'")
    assert failed == [(0,)]
