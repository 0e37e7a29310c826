"""The trained router live: the bot warms it up at start, an unsure appeal reaches the triage chat
with the classifier's suggestions first, a refused one without the refusing account first, and the
operator's choice becomes a training example for `otklik train --include-corrections`."""
from __future__ import annotations

import argparse
import asyncio
import logging
from pathlib import Path

import pytest

from bot import cli_routing
from routing.lifecycle import Status
from routing.smart import ModelClassifier
from tests.conftest import CITIZEN, OPERATOR, ROOT, Stand, appeal_number, body

# A village midwife's rare visits: health, but in words the seed examples barely use (the seeds now
# teach «фельдшер … раз в неделю» well enough to route it, so the unsure example names a midwife).
MIDWIFE = "в Мышкине акушерка приезжает раз в месяц, а больше некому"
POTHOLE = "В Рыбинске на улице Крестовой огромная яма на дороге, машины бьют колёса"


def buttons(message: dict) -> list[str]:
    """The callback data of a card's account buttons (route:…), in order; «Не обращение» is not one."""
    return [b["callback_data"] for row in (message.get("reply_markup") or {}).get("inline_keyboard", [])
            for b in row if b["callback_data"].startswith("route:")]


@pytest.fixture
def start_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """INFO records from the start on: ask for it before `stand`."""
    caplog.set_level(logging.INFO, logger="bot.app")
    return caplog


async def test_the_model_is_warmed_up_at_start(start_logs: pytest.LogCaptureFixture, stand: Stand) -> None:
    assert stand.app is not None
    classifier = stand.app.desk.classifier
    assert isinstance(classifier, ModelClassifier)
    assert classifier._ready is not None  # loaded before the first message, not on it
    started = [r.getMessage() for r in start_logs.get_records("setup") if r.name == "bot.app"]
    assert any("classifier: model (the seed model for the shipped rubric), ready in" in m for m in started)


async def test_unsure_appeal_goes_to_triage_with_suggestions_and_the_choice_is_learnt(
    stand: Stand, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stand.citizen_says(MIDWIFE)
    ack = await stand.wait(CITIZEN, "принято")
    number = appeal_number(ack)
    assert "операторам центра" in body(ack)  # not sure enough to route by itself
    [appeal] = await stand.appeals()
    assert appeal.category == "health" and appeal.municipality == "myshkinsky"
    assert appeal.category_confidence is not None
    assert appeal.category_confidence < stand.config.routing.min_confidence

    card = await stand.wait(stand.triage, f"№{number}")
    assert "🤖 Похоже на: Здравоохранение" in body(card)
    assert buttons(card)[0] == f"route:{number}:min_health"  # the likeliest account first
    assert len(buttons(card)) == len(stand.config.accounts)  # every account stays reachable

    stand.press(stand.triage, card, f"route:{number}:min_health", user=OPERATOR)
    await stand.wait(stand.chat("min_health"), f"№{number}")
    [appeal] = await stand.appeals()
    assert appeal.status == Status.ROUTED and appeal.account_code == "min_health"
    await stand.stop()

    # the operator's choice is a labelled example for the next training
    monkeypatch.setenv("OTKLIK_DATABASE_URL", stand.database_url)
    parser = argparse.ArgumentParser(prog="otklik")
    cli_routing.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["train", "--include-corrections", "--config", str(ROOT / "config.yaml"),
                              "--out", str(tmp_path / "router")])
    assert await asyncio.to_thread(args.func, args) == 0
    assert "added 1 corrections as examples (health 1)" in capsys.readouterr().out


async def test_an_unsure_appeal_goes_to_triage_after_the_citizen_names_the_place(stand: Stand) -> None:
    # No place in the text: the bot asks first; the chosen place settles the municipality, not the category.
    stand.citizen_says("помогите пожалуйста, никто не отвечает уже месяц")
    ack = await stand.wait(CITIZEN, "принято")
    number = appeal_number(ack)
    [appeal] = await stand.appeals()
    assert appeal.status == Status.AWAITING_PLACE
    assert appeal.category_confidence is not None
    assert appeal.category_confidence < stand.config.routing.min_confidence
    stand.press(CITIZEN, ack, f"place:{number}:myshkinsky", user=CITIZEN)
    card = await stand.wait(stand.triage, f"№{number}")
    assert "🤖 Похоже на:" in body(card)
    [appeal] = await stand.appeals()
    assert appeal.status == Status.TRIAGE and appeal.municipality == "myshkinsky"
    assert appeal.account_code is None


async def test_a_refused_appeal_comes_to_triage_with_the_refusing_account_last(stand: Stand) -> None:
    stand.citizen_says(POTHOLE)
    number = appeal_number(await stand.wait(CITIZEN, "принято"))
    triage_card = await stand.refuse("adm_rybinsk", number, "Это дорога за городом, в Рыбинском округе")
    assert "🤖 Похоже на: Дороги" in body(triage_card)  # from the classification at registration
    assert "за городом" in body(triage_card)
    options = buttons(triage_card)
    assert options[-1] == f"route:{number}:adm_rybinsk"  # it has just said it is not theirs
    assert f"route:{number}:adm_rybinsk" not in options[:-1]
    assert len(options) == len(stand.config.accounts)


async def test_an_intermunicipal_route_goes_to_the_regional_transport_ministry(stand: Stand) -> None:
    # «Ярославль - Тутаев» names no one municipality, and the route is the regional ministry's: the bot
    # does not ask where (the answer «Ярославль» would send it to the city's own transport department).
    stand.citizen_says("маршрутка Ярославль - Тутаев битком, водитель курит в салоне")
    ack = await stand.wait(CITIZEN, "принято")
    number = appeal_number(ack)
    assert "Министерство транспорта" in body(ack)
    card = await stand.wait(stand.chat("min_transport"), f"№{number}")
    assert "место не указано" in body(card)
    [appeal] = await stand.appeals()
    assert appeal.status == Status.ROUTED and appeal.account_code == "min_transport"
    assert appeal.municipality is None
    await stand.stop()
