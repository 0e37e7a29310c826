"""Greetings, thanks and «ок» are answered and start no appeal (routing/small_talk.py), end to end:
real aiogram (and vk-api) polling against the stand-ins, the real database."""
from __future__ import annotations

from routing.lifecycle import Status
from tests.conftest import CITIZEN, VK_CITIZEN, Stand, appeal_number, body, stand_for

POTHOLE = "В Рыбинске на улице Крестовой огромная яма на дороге, машины бьют колёса"


async def test_a_greeting_first_then_the_complaint_makes_one_classified_appeal(stand: Stand) -> None:
    stand.citizen_says("Здравствуйте!")
    greeting = await stand.wait(CITIZEN, "152-ФЗ")  # the first message ever: the greeting says what to write
    assert "Напишите, что случилось и где" in body(greeting)
    assert "принято" not in body(greeting)
    assert await stand.appeals() == []

    stand.citizen_says("Добрый день 🙂")
    prompt = await stand.wait(CITIZEN, "Опишите, пожалуйста, проблему одним сообщением")
    assert "152-ФЗ" not in body(prompt)
    assert await stand.appeals() == []

    # before the fix the greeting was appeal №1 (topic «Другое», in triage) and this its follow-up
    stand.citizen_says(POTHOLE)
    ack = await stand.wait(CITIZEN, "принято")
    assert appeal_number(ack) == 1 and "Дороги" in body(ack) and "Рыбинск" in body(ack)
    [appeal] = await stand.appeals()
    assert appeal.text == POTHOLE and appeal.account_code == "adm_rybinsk" and appeal.status == Status.ROUTED
    await stand.wait(stand.chat("adm_rybinsk"), "№1")
    assert [m for m in stand.tg.bot_messages(stand.triage) if "№" in body(m)] == []


async def test_thanks_and_emoji_alone_are_answered_without_a_number(stand: Stand) -> None:
    stand.citizen_says("/start")
    await stand.wait(CITIZEN, "152-ФЗ")
    sent = stand.citizen_says("Спасибо большое!")
    thanks = await stand.wait(CITIZEN, "Пожалуйста!")
    assert thanks["reply_to_message_id"] == sent["message_id"]
    stand.citizen_says("👍")
    await stand.wait(CITIZEN, "Опишите, пожалуйста, проблему словами")
    stand.citizen_says("тест")
    await stand.wait(CITIZEN, "Опишите, пожалуйста, проблему одним сообщением")
    await stand.idle()
    assert await stand.appeals() == []
    assert not any("принято" in body(m) for m in stand.tg.bot_messages(CITIZEN))
    # a courtesy word beside anything else is an appeal as before
    stand.citizen_says("Здравствуйте, в Рыбинске на Крестовой яма на дороге")
    ack = await stand.wait(CITIZEN, "принято")
    assert appeal_number(ack) == 1


async def test_a_greeting_does_not_fill_a_draft_the_words_do(stand: Stand) -> None:
    stand.citizen_says("/start")
    await stand.wait(CITIZEN, "152-ФЗ")
    stand.citizen_says(photo=True)
    await stand.wait(CITIZEN, "Фото получено")
    stand.citizen_says("Привет")
    await stand.wait(CITIZEN, "Фото получено", count=2)
    [draft] = await stand.appeals()
    assert draft.status == Status.DRAFT and draft.text == ""
    stand.citizen_says(POTHOLE)
    ack = await stand.wait(CITIZEN, "принято")
    [appeal] = await stand.appeals()
    assert appeal_number(ack) == appeal.id == draft.id
    assert appeal.text == POTHOLE and len(appeal.photos) == 1 and appeal.account_code == "adm_rybinsk"


async def test_thanks_after_the_answer_still_reaches_the_officials(stand: Stand) -> None:
    stand.citizen_says(POTHOLE)
    number = appeal_number(await stand.wait(CITIZEN, "принято"))
    chat = stand.chat("adm_rybinsk")
    card = await stand.wait(chat, f"№{number}")
    stand.official_replies(chat, card["message_id"], "Яму заделали асфальтом 20 ноября.")
    await stand.wait(CITIZEN, "Ответ по обращению")
    stand.citizen_says("Спасибо!")
    relayed = await stand.wait(chat, "Спасибо!")
    assert f"№{number}" in body(relayed)
    assert len(await stand.appeals()) == 1


async def test_with_small_talk_off_a_greeting_is_an_appeal(config, database_url: str) -> None:
    config = config.model_copy(update={"routing": config.routing.model_copy(update={"small_talk": False})})
    async with stand_for(config, database_url) as stand:
        stand.citizen_says("/start")
        await stand.wait(CITIZEN, "152-ФЗ")
        stand.citizen_says("Здравствуйте!")
        ack = await stand.wait(CITIZEN, "принято")
        assert appeal_number(ack) == 1
        [appeal] = await stand.appeals()
        assert appeal.text == "Здравствуйте!"


async def test_a_vk_greeting_starts_no_appeal(vk_stand: Stand) -> None:
    stand = vk_stand
    stand.vk_citizen_says("Здравствуйте")
    greeting = await stand.vk_wait(VK_CITIZEN, "152-ФЗ")
    assert "принято" not in greeting["text"]
    stand.vk_citizen_says("спасибо")
    await stand.vk_wait(VK_CITIZEN, "Пожалуйста!")
    await stand.idle()
    assert await stand.appeals() == []
    stand.vk_citizen_says(POTHOLE)
    ack = await stand.vk_wait(VK_CITIZEN, "принято")
    assert appeal_number(ack) == 1
