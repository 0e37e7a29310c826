"""Problem analytics: top categories and trends, the spike rule against hand-computed Poisson tails,
spike alerts from the database with their cooldown, and near-duplicate places."""
from __future__ import annotations

import math
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.config import OtklikConfig
from routing.analytics_config import SpikeSettings
from routing.appeal_facts import AppealFacts
from routing.clock import ManualClock
from routing.problems import (
    PlaceKey,
    ProblemWatch,
    category_counts,
    close_places,
    place_key,
    poisson_tail,
    spike_test,
    top_by_municipality,
)
from storage.db import Database
from storage.models import OutboxMessage
from tests.supervision_history import Spec, add, at, citizen


def f(number: int, municipality: str, category: str) -> AppealFacts:
    moment = at(16, 10)
    return AppealFacts(number, "acc", municipality, category, "routed", moment, moment, moment, None, None, None,
                       False, 0, False)


def test_top_categories_and_trends() -> None:
    now = [f(1, "rybinsk", "roads"), f(2, "rybinsk", "roads"), f(3, "rybinsk", "waste"), f(4, "uglichsky", "power")]
    before = [f(10, "rybinsk", "roads"), f(11, "rybinsk", "housing"), f(12, "rybinsk", "housing")]
    region = category_counts(now, before)
    assert [(c.category, c.count, c.previous, c.change) for c in region] == [
        ("roads", 2, 1, 1), ("power", 1, 0, 1), ("waste", 1, 0, 1), ("housing", 0, 2, -2)]
    assert region[0].share == pytest.approx(0.5) and region[0].change_pct == pytest.approx(100.0)
    assert region[0].appeal_ids == (1, 2)
    top = top_by_municipality(now, before, n=1)
    assert list(top) == ["rybinsk", "uglichsky"]
    assert [(c.category, c.count, c.share) for c in top["rybinsk"]] == [("roads", 2, pytest.approx(2 / 3))]


def test_poisson_tail_by_hand() -> None:
    # P(X ≥ 5 | λ = 1) = 1 − e⁻¹(1 + 1 + 1/2 + 1/6 + 1/24)
    assert poisson_tail(5, 1.0) == pytest.approx(1 - math.exp(-1) * (1 + 1 + 0.5 + 1 / 6 + 1 / 24))
    assert poisson_tail(5, 1.0) == pytest.approx(0.00366, abs=1e-5)
    assert poisson_tail(6, 1.0) == pytest.approx(0.000594, abs=1e-6)
    assert poisson_tail(0, 3.0) == 1.0


def test_spike_rule() -> None:
    settings = SpikeSettings()  # 1 h window, 28-day baseline, at least 5, p < 0.001, rate ≥ 0.05
    # 672 appeals in 28 days = 1 an hour: 5 in an hour is not a spike (p = 0.0037), 6 is (p = 0.00059)
    assert not spike_test(5, 672, settings).spike
    six = spike_test(6, 672, settings)
    assert six.spike and six.rate == pytest.approx(1.0) and six.p_value == pytest.approx(0.000594, abs=1e-6)
    # no history: the rate floor 0.05 stands in; 4 is below the minimum count, 5 is a spike
    assert not spike_test(4, 0, settings).spike
    five = spike_test(5, 0, settings)
    assert five.spike and five.rate == pytest.approx(0.05)
    assert five.p_value == pytest.approx(0.05**5 / 120 * math.exp(-0.05), rel=0.01)


def test_place_keys_and_closeness() -> None:
    assert place_key("Яма на улице Крестовой, дом 12") == place_key("ул. Крестовая д. 12 яма")
    assert place_key("яма на ул. Крестовая, 12").house == "12"  # type: ignore[union-attr]
    assert place_key("Крестовая улица, 12") is not None
    assert place_key("нет света во всём районе") is None
    assert close_places(None, "ул. Крестовая, 12", None, "улица Крестовой, дом 12", 300)
    assert not close_places(None, "ул. Крестовая, 12", None, "ул. Крестовая, 40", 300)
    assert not close_places(None, "ул. Крестовая, 12", None, "ул. Ленина, 12", 300)
    # coordinates decide when both have them: ~222 m apart is close, ~1.1 km is not
    assert close_places((58.0500, 38.8300), "", (58.0520, 38.8300), "", 300)
    assert not close_places((58.0500, 38.8300), "", (58.0600, 38.8300), "", 300)


SOVETSKAYA_5 = (
    "В Ярославле на улице Советской у дома 5 огромная яма",
    "у дома 5 на улице Советской",
    "Ярославль, ул. Советская, д. 5 — глубокая яма",
    "улица Советская 5",
    "по улице Советской, дом 5",
    "Советская ул., д.5",
    "советская улица, 5",
    "дом 5 по Советской улице",
    "дома №5 по ул. Советской",
    "ул.Советская,5",
    "на улице Советской 3 дня нет воды, дом 5",
    "ул. Советская, 5, кв. 12",
)


@pytest.mark.parametrize("text", SOVETSKAYA_5)
def test_place_key_same_place_in_every_spelling(text: str) -> None:
    assert place_key(text) == place_key("Ярославль, ул. Советская, д. 5 — глубокая яма") == PlaceKey("советский", "5")


@pytest.mark.parametrize("texts", [
    ("на проспекте Ленина у дома 10", "пр-т Ленина, 10", "пр. Ленина д. 10", "проспект Ленина, дом 10"),
    ("Ленинградский пр-т 10", "на Ленинградском проспекте у дома 10", "проспект Ленинградский, 10"),
    ("Комсомольский переулок 3", "в Комсомольском переулке дом 3", "пер. Комсомольский, 3"),
    ("Московское шоссе 12", "на Московском шоссе, д. 12", "ш. Московское 12"),
    ("Первомайский бульвар 4", "на бульваре Первомайском 4", "б-р Первомайский, д 4"),
    ("Волжская набережная 7", "на Волжской набережной у дома 7", "наб. Волжская, 7", "по набережной Волжской, 7"),
    ("Красная площадь 1", "на Красной площади, д. 1", "пл. Красная 1"),
    ("улица Карла Маркса 5", "на улице Карла Маркса у дома 5", "ул. Карла Маркса, д. 5"),
    ("на главной улице Мира 8", "ул. Мира, 8"),
])
def test_place_key_street_types_and_cases(texts: tuple[str, ...]) -> None:
    keys = {place_key(t) for t in texts}
    assert len(keys) == 1 and None not in keys, keys
    [key] = keys
    assert key is not None and key.house is not None


@pytest.mark.parametrize(("text", "house"), [
    ("ул. Советская 5а", "5а"), ("ул. Советская, 5-а", "5а"), ("ул. Советская, д. 5А", "5а"),
    ("ул. Советская 5к1", "5к1"), ("ул. Советская, 5 корпус 1", "5к1"), ("ул. Советская д. 5 к. 1", "5к1"),
    ("у дома 5 корп. 1 на улице Советской", "5к1"), ("ул. Советская, 5/2", "5/2"), ("Советская ул. д. 5 / 2", "5/2"),
    ("ул. Советская, д. 5, стр. 2", "5с2"), ("ул. Советская, 5 подъезд 2", "5"), ("ул. Советская, 12", "12"),
])
def test_place_key_house_forms(text: str, house: str) -> None:
    assert place_key(text) == PlaceKey("советский", house)


def test_place_key_keeps_different_places_apart() -> None:
    five = place_key("на улице Советской у дома 5")
    assert five != place_key("на улице Советской у дома 7")
    assert five != place_key("у дома 5 на улице Садовой")
    assert five != place_key("ул. Советская 5а") and five != place_key("ул. Советская 5к1")
    assert five != place_key("ул. Советская 5/2")
    # «Ленинградский» and «Ленина» share their first five letters but are different streets
    assert place_key("пр. Ленина, 10") != place_key("Ленинградский пр-т, 10")
    assert place_key("ул. Ленина, 10") != place_key("ул. Ленинская, 10")
    assert not close_places(None, "на улице Советской у дома 5", None, "ул. Советская, д. 7", 300)
    assert close_places(None, "у дома 5 на улице Советской", None, "Ярославль, ул. Советская, д. 5 — яма", 300)


@pytest.mark.parametrize("text", [
    "В Ярославле на улице Советской огромная яма",
    "на улице Советской 3 дня нет воды",
    "на улице Советской яма 2 метра",
    "ул. Советская, 10 человек ждут автобус",
    "Советская улица яма 5",
])
def test_place_key_invents_no_house(text: str) -> None:
    key = place_key(text)
    assert key is not None and key.street == "советский" and key.house is None


@pytest.mark.parametrize("text", [
    "нет света во всём районе", "на нашей улице нет света", "ремонт дорог и пр. проблемы", "у дома 5 яма",
])
def test_place_key_none_without_a_street(text: str) -> None:
    assert place_key(text) is None


async def test_spike_alert_goes_to_supervisors_once(database_url: str, config: OtklikConfig) -> None:
    db = Database(database_url)
    await db.upgrade()
    clock = ManualClock(at(24, 15, 0))
    try:
        async with db.transaction() as s:
            person = await citizen(s)
            # usual: 2 «power» appeals in Rybinsk over the past weeks; now 5 within the hour, and 4 roads
            for day in (3, 10):
                await add(s, person, Spec("power_grid", at(day, 10), at(day + 1, 10), category="power"))
            for minute in (5, 15, 25, 35, 50):
                await add(s, person, Spec("power_grid", at(24, 14, minute), at(25, 14), category="power",
                                          text="Нет электричества"))
            for minute in (10, 20, 30, 40):
                await add(s, person, Spec("adm_rybinsk", at(24, 14, minute), at(25, 14)))
        watch = ProblemWatch(db, config, clock)
        [spike] = await watch.check_spikes()
        assert (spike.municipality, spike.category, spike.test.count, spike.test.baseline_count) == (
            "rybinsk", "power", 5, 2)
        # λ = max(2 / 672, 0.05) = 0.05 appeals an hour
        assert spike.test.rate == pytest.approx(0.05)
        async with db.transaction() as s:
            [alert] = (await s.execute(select(OutboxMessage).where(OutboxMessage.purpose == "spike_alert"))).scalars()
        assert alert.chat_id == str(config.supervisors.telegram_chat)
        text = alert.payload["text"]
        assert "Всплеск" in text and "Электроснабжение" in text and "5 обращений за 1 ч" in text
        assert all(f"№{i}" in text for i in spike.appeal_ids)
        # within the cooldown the same pair stays quiet; after it, a still-running spike is told again
        clock.advance(timedelta(minutes=10))
        assert await watch.check_spikes() == []
        async with db.transaction() as s:
            person = await citizen(s, 2)
            for minute in range(5):
                await add(s, person, Spec("power_grid", at(24, 21, minute * 10), at(25, 21), category="power"))
        clock.set(at(24, 21, 55))
        assert len(await watch.check_spikes()) == 1
    finally:
        await db.dispose()
