"""Routing learnt from the region's history, live: the real bot with `classifier.account_model`
(a model trained on a made-up export, tests/learned_history.py) against the Bot API stand-in.

The routing table sends housing in Ярославль to the mayor's office; the history says a housing
company answered roofs and entrances there, and the bot follows the history when it is sure."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("sklearn", reason="the trained router needs scikit-learn")

from bot.config import OtklikConfig, load_config  # noqa: E402
from routing.lifecycle import Status  # noqa: E402
from routing.table import RoutingTable  # noqa: E402
from tests.conftest import CITIZEN, OPERATOR, Stand, appeal_number, body, stand_for  # noqa: E402
from tests.e2e.test_trained_router import MIDWIFE, buttons  # noqa: E402
from tests.learned_history import (  # noqa: E402
    CRB_CHAT,
    CRB_CODE,
    UK_CHAT,
    UK_CODE,
    UK_NAME,
    config_with_history,
    train_history_model,
)

ROOF = "В Ярославле течёт крыша в подъезде, на лестнице лужи"


@pytest.fixture(scope="module")
def history_config_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("history")
    return config_with_history(folder, train_history_model(folder))


@pytest.fixture
def config(history_config_path: Path) -> OtklikConfig:  # the `stand` fixture runs the bot with it
    return load_config(history_config_path)


async def test_the_history_sends_a_roof_to_the_housing_company_and_its_answer_comes_back(stand: Stand) -> None:
    assert stand.config.classifier.account_model
    # without the history the table would send it to the mayor's office
    assert RoutingTable(stand.config).account_for("housing", "yaroslavl") != UK_CODE

    stand.citizen_says(ROOF)
    ack = await stand.wait(CITIZEN, "принято")
    number = appeal_number(ack)
    assert UK_NAME in body(ack)
    card = await stand.wait(UK_CHAT, f"№{number}")
    assert ROOF in body(card)
    [appeal] = await stand.appeals()
    assert appeal.account_code == UK_CODE and appeal.status == Status.ROUTED
    [detail] = await stand.query("SELECT detail FROM appeal_events WHERE appeal_id = :a AND action = 'routed'",
                                 a=number)
    routed = detail[0] if isinstance(detail[0], dict) else json.loads(detail[0])  # JSON: a dict on PostgreSQL
    assert routed["account"] == UK_CODE and routed["learned"] >= 0.9  # the history model chose, this sure

    stand.official_replies(UK_CHAT, card["message_id"], "Кровлю над подъездом залатаем в четверг.")
    answer = await stand.wait(CITIZEN, "Ответ по обращению")
    assert "Кровлю над подъездом залатаем в четверг." in body(answer)


async def test_roads_there_still_go_to_the_mayors_office(stand: Stand) -> None:
    stand.citizen_says("Ярославль, огромная яма на дороге у дома, машины бьют колёса")
    ack = await stand.wait(CITIZEN, "принято")
    number = appeal_number(ack)
    await stand.wait(stand.chat("adm_yaroslavl"), f"№{number}")
    [appeal] = await stand.appeals()
    assert appeal.account_code == "adm_yaroslavl"


async def test_after_the_citizen_names_the_place_the_history_decides(stand: Stand) -> None:
    stand.citizen_says("Течёт крыша в подъезде, на лестнице лужи, третий день")
    ack = await stand.wait(CITIZEN, "Уточните")
    number = appeal_number(ack)
    stand.press(CITIZEN, ack, f"place:{number}:yaroslavl", user=CITIZEN)
    await stand.wait(CITIZEN, "передали в")
    await stand.wait(UK_CHAT, f"№{number}")
    [appeal] = await stand.appeals()
    assert (appeal.municipality, appeal.account_code) == ("yaroslavl", UK_CODE)


async def test_a_town_the_history_does_not_know_is_routed_by_the_table(stand: Stand) -> None:
    stand.citizen_says("В Угличе течёт крыша в подъезде, на лестнице лужи")
    ack = await stand.wait(CITIZEN, "принято")
    number = appeal_number(ack)
    [appeal] = await stand.appeals()
    assert appeal.municipality == "uglichsky"
    expected = RoutingTable(stand.config).account_for(appeal.category or "", "uglichsky")
    assert expected is not None and appeal.account_code == expected
    await stand.wait(stand.chat(expected), f"№{number}")


async def test_when_the_history_does_not_decide_its_account_is_the_first_button_in_triage(
    tmp_path: Path, database_url: str
) -> None:
    """The centre sends Мышкин's health appeals to triage on purpose (a `triage` rule); the history
    says the town's hospital answered such texts: the operators see it first."""
    path = config_with_history(tmp_path, train_history_model(tmp_path, health=True), edit=lambda data: data[
        "routing"]["rules"].append({"account": "triage", "categories": ["health"], "municipalities": ["myshkinsky"]}))
    async with stand_for(load_config(path), database_url) as stand:
        stand.citizen_says(MIDWIFE)
        number = appeal_number(await stand.wait(CITIZEN, "принято"))
        card = await stand.wait(stand.triage, f"№{number}")
        assert buttons(card)[0] == f"route:{number}:{CRB_CODE}"  # then the category's: the health ministry
        [detail] = await stand.query(
            "SELECT detail FROM appeal_events WHERE appeal_id = :a AND action = 'to_triage'", a=number)
        handed_over = detail[0] if isinstance(detail[0], dict) else json.loads(detail[0])
        assert handed_over["learned"][0] == CRB_CODE
        stand.press(stand.triage, card, f"route:{number}:{CRB_CODE}", user=OPERATOR)
        await stand.wait(CRB_CHAT, f"№{number}")
