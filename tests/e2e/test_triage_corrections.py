"""An operator's choice of account corrects what it implies on the live appeal: the topic (an
account of one category) and the place (an account of another municipality), as the card and the
reports then show; the "rerouted" event keeps what the classifier had, for training."""
from __future__ import annotations

import json

from tests.conftest import CITIZEN, OPERATOR, Stand, appeal_number, body
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
