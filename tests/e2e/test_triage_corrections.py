"""An operator's choice of account corrects what it implies on the live appeal: the topic (an
account of one category) and the place (an account of another municipality), as the card and the
reports then show; the "rerouted" event keeps what the classifier had, for training."""
from __future__ import annotations

import json

from tests.conftest import CITIZEN, OFFICIAL, OPERATOR, Stand, appeal_number, body
from tests.e2e.test_trained_router import MIDWIFE

POTHOLE = "В Рыбинске на улице Крестовой огромная яма на дороге, машины бьют колёса"


def _detail(value: object) -> dict:
    return value if isinstance(value, dict) else json.loads(str(value))


async def test_an_account_of_one_topic_sets_the_topic(stand: Stand) -> None:
    stand.citizen_says(MIDWIFE)  # unsure: health, but not sure enough
    number = appeal_number(await stand.wait(CITIZEN, "принято"))
    card = await stand.wait(stand.triage, f"№{number}")
    stand.press(stand.triage, card, f"route:{number}:gas_operator", user=OPERATOR)  # the operator says: gas
    new_card = await stand.wait(stand.chat("gas_operator"), f"№{number}")
    gas = stand.config.category("gas").name
    assert f"· {gas}" in body(new_card)
    [appeal] = await stand.appeals()
    assert appeal.category == "gas" and appeal.municipality == "myshkinsky"
    [[rerouted]] = await stand.query(
        "SELECT detail FROM appeal_events WHERE appeal_id = :a AND action = 'rerouted'", a=number)
    assert _detail(rerouted)["category"] == "health"  # what the classifier had, for training
    [[corrected]] = await stand.query(
        "SELECT detail FROM appeal_events WHERE appeal_id = :a AND action = 'corrected'", a=number)
    assert _detail(corrected) == {"category": ["health", "gas"]}


async def test_another_municipalitys_account_sets_the_place(stand: Stand) -> None:
    stand.citizen_says(POTHOLE)
    number = appeal_number(await stand.wait(CITIZEN, "принято"))
    triage_card = await stand.refuse("adm_rybinsk", number, "Это за городом, Рыбинский округ")
    stand.press(stand.triage, triage_card, f"route:{number}:adm_rybinsky", user=OPERATOR)
    new_card = await stand.wait(stand.chat("adm_rybinsky"), f"№{number}")
    assert stand.config.municipality("rybinsky").name in body(new_card)
    [appeal] = await stand.appeals()
    assert (appeal.category, appeal.municipality, appeal.municipality_source) == ("roads", "rybinsky", "operator")


def _routes(card: dict) -> list[str]:
    return [b["callback_data"].rsplit(":", 1)[1] for row in card["reply_markup"]["inline_keyboard"] for b in row
            if b["callback_data"].startswith("route:")]


async def test_the_account_a_refusal_names_comes_first(stand: Stand) -> None:
    stand.citizen_says("В Ярославле на улице Свободы не горят фонари уличного освещения, темно вечером")
    number = appeal_number(await stand.wait(CITIZEN, "принято"))
    [appeal] = await stand.appeals()
    assert appeal.account_code == "adm_yaroslavl"
    card = await stand.refuse("adm_yaroslavl", number,
                              "Опоры и провода на этой улице принадлежат Россетям, это электросети Ярэнерго")
    routes = _routes(card)
    # before, the power grid's button was 26th: the refused account had been the only guess
    assert routes[0] == "power_grid"
    assert routes[-1] == "adm_yaroslavl" and len(routes) == len(stand.config.accounts)


async def test_a_refusal_that_names_another_place_puts_that_places_account_first(stand: Stand) -> None:
    stand.citizen_says(POTHOLE)
    number = appeal_number(await stand.wait(CITIZEN, "принято"))
    card = await stand.refuse("adm_rybinsk", number, "Это дорога за городом, в Рыбинском районе, не городская")
    routes = _routes(card)
    assert routes[0] == "adm_rybinsky" and routes[-1] == "adm_rybinsk"


async def test_a_refusal_that_names_nothing_changes_no_order(stand: Stand) -> None:
    stand.citizen_says(POTHOLE)
    number = appeal_number(await stand.wait(CITIZEN, "принято"))
    card = await stand.refuse("adm_rybinsk", number, "Не наше")
    routes = _routes(card)
    assert routes[-1] == "adm_rybinsk" and "power_grid" not in routes[:3]


async def test_after_two_refusals_both_refusers_go_last_and_the_card_names_them(stand: Stand) -> None:
    # QA: after a second refusal the first refuser came back at the top, and the card forgot it
    stand.citizen_says("В Ярославле на улице Свободы не горят фонари уличного освещения, темно вечером")
    number = appeal_number(await stand.wait(CITIZEN, "принято"))
    first = await stand.refuse("adm_yaroslavl", number, "Опоры и провода на этой улице принадлежат Россетям")
    stand.press(stand.triage, first, f"route:{number}:power_grid", user=OPERATOR)
    await stand.wait(stand.chat("power_grid"), f"№{number}")
    chat = stand.chat("power_grid")
    card = await stand.wait(chat, f"№{number}")
    stand.press(chat, card, "reject:", user=OFFICIAL)
    prompt = await stand.wait(chat, "укажите, пожалуйста, причину")
    stand.official_replies(chat, prompt["message_id"], "Уличное освещение Ярославля обслуживает мэрия, не сети")
    second = await stand.wait(stand.triage, f"№{number}", count=2)
    routes = _routes(second)
    assert routes[-2:] == ["adm_yaroslavl", "power_grid"] and len(routes) == len(stand.config.accounts)
    text = body(second)
    assert "↩️ Отказался: Мэрия города Ярославля — «Опоры и провода" in text
    assert "↩️ Отказался: Россети Центр — Ярэнерго — «Уличное освещение" in text
