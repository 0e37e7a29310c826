"""Asked «где это?», a citizen may press a button, type the town or share a location: all three
settle the place and route the appeal; a reply that names no place gets the buttons again."""
from __future__ import annotations

from routing.lifecycle import Status
from tests.conftest import CITIZEN, Stand, appeal_number, body

NO_PLACE = "Во дворе третий день не вывозят мусор, контейнеры переполнены"


async def _asked(stand: Stand) -> int:
    stand.citizen_says(NO_PLACE)
    ack = await stand.wait(CITIZEN, "Уточните")
    assert "напишите название или отправьте геопозицию" in body(ack)
    [appeal] = await stand.appeals()
    assert appeal.status == Status.AWAITING_PLACE
    return appeal_number(ack)


def _place_buttons_left(stand: Stand) -> list[int]:
    """Messages in the citizen's chat whose place buttons still show."""
    return [m["message_id"] for m in stand.tg.bot_messages(CITIZEN)
            if "place:" in str(stand.current(CITIZEN, m["message_id"]).get("reply_markup") or "")]


async def test_a_typed_town_settles_the_place(stand: Stand) -> None:
    number = await _asked(stand)
    assert len(_place_buttons_left(stand)) == 1
    stand.citizen_says("в Угличе, улица Победы")
    reply = await stand.wait(CITIZEN, "Место: Углич")
    assert f"Обращение №{number} передали" in body(reply)
    # the question's 19 buttons go once the place is typed (they stayed, stale, before)
    await stand.tg.wait_for(lambda: not _place_buttons_left(stand))
    [appeal] = await stand.appeals()
    assert (appeal.municipality, appeal.municipality_source) == ("uglichsky", "citizen")
    assert appeal.status in (Status.ROUTED, Status.TRIAGE)
    if appeal.status == Status.ROUTED:
        card = await stand.wait(stand.chat(appeal.account_code or ""), f"№{number}")
        assert NO_PLACE in body(card) and "в Угличе, улица Победы" in body(card)  # the answer is on the card
    [event] = await stand.query("SELECT detail FROM appeal_events WHERE appeal_id = :a AND action = 'place_chosen'",
                                a=number)
    assert "text" in str(event[0])


async def test_a_shared_location_settles_the_place(stand: Stand) -> None:
    number = await _asked(stand)
    stand.citizen_says(location=(58.0481, 38.8584))  # central Рыбинск
    reply = await stand.wait(CITIZEN, "Место: Рыбинск")
    assert f"Обращение №{number} передали" in body(reply)
    [appeal] = await stand.appeals()
    assert (appeal.municipality, appeal.municipality_source) == ("rybinsk", "location")
    assert (appeal.latitude, appeal.longitude) == (58.0481, 38.8584)


async def test_words_without_a_place_get_the_buttons_again(stand: Stand) -> None:
    number = await _asked(stand)
    stand.citizen_says("и ещё там крысы бегают")
    again = await stand.wait(CITIZEN, "Чтобы передать его исполнителю, уточните")
    assert f"Добавили к обращению №{number}" in body(again)
    [appeal] = await stand.appeals()
    assert appeal.status == Status.AWAITING_PLACE and appeal.municipality is None
    # the buttons under the new message work like those under the acknowledgement
    stand.press(CITIZEN, again, f"place:{number}:tutaevsky", user=CITIZEN)
    await stand.wait(CITIZEN, "передали")
    await stand.tg.wait_for(lambda: not _place_buttons_left(stand))  # the first question's buttons too
    [appeal] = await stand.appeals()
    assert (appeal.municipality, appeal.municipality_source) == ("tutaevsky", "citizen")
    assert appeal.status in (Status.ROUTED, Status.TRIAGE)


async def test_the_places_the_text_hinted_at_come_first(stand: Stand) -> None:
    stand.citizen_says("На проспекте Ленина огромная яма у остановки")  # a street of Ярославль and of Рыбинск
    ack = await stand.wait(CITIZEN, "Уточните")
    number = appeal_number(ack)
    rows = ack["reply_markup"]["inline_keyboard"]
    assert sorted(b["callback_data"] for b in rows[0]) == [f"place:{number}:rybinsk", f"place:{number}:yaroslavl"]
    every = [b["callback_data"] for row in rows for b in row]
    assert len(every) == len(set(every)) == len(stand.config.municipalities)  # each once
    stand.citizen_says("не знаю как точнее")
    again = await stand.wait(CITIZEN, "Чтобы передать его исполнителю")
    assert sorted(b["callback_data"] for b in again["reply_markup"]["inline_keyboard"][0]) == \
        [f"place:{number}:rybinsk", f"place:{number}:yaroslavl"]
