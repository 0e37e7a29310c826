"""The router's production figures (routing/routing_quality.py): one appeal's way from its events,
and the sums per category and account."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from routing.routing_quality import format_quality, routing_facts, summarize

T0 = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def ev(action: str, minutes: float, **detail: Any) -> tuple[str, datetime, dict[str, Any]]:
    return action, at(minutes), detail


def test_a_bot_route_refused_by_its_account_is_the_routers_mistake() -> None:
    f = routing_facts(1, "roads", [
        ev("routed", 0, account="adm_rybinsk"),
        ev("rejected", 30, account="adm_rybinsk", reason="федеральная трасса"),
        ev("rerouted", 90, account="adm_rybinsky", by="operator"),
    ])
    assert (f.first, f.bot_account, f.refused_bot, f.refusals) == ("bot", "adm_rybinsk", True, ("adm_rybinsk",))
    assert f.operator_routes == 1 and f.triage_waits == (1.0,) and not f.waiting_in_triage


def test_a_refusal_after_an_operators_route_is_not_the_routers() -> None:
    f = routing_facts(2, "roads", [
        ev("routed", 0, account="adm_rybinsk"),
        ev("rejected", 10, account="adm_rybinsk"),
        ev("rerouted", 20, account="adm_rybinsky", by="operator"),
        ev("rejected", 40, account="adm_rybinsky"),
    ])
    assert f.refused_bot and f.refusals == ("adm_rybinsk", "adm_rybinsky")
    assert f.waiting_in_triage  # back with the operators since minute 40
    g = routing_facts(3, "roads", [
        ev("to_triage", 0, suggested="adm_rybinsk", unsure=True),
        ev("rerouted", 15, account="adm_rybinsk", by="operator"),
        ev("rejected", 60, account="adm_rybinsk"),
    ])
    assert (g.first, g.triage_unsure, g.bot_account, g.refused_bot) == ("triage", True, None, False)
    assert g.triage_waits == (0.25,)


def test_the_citizens_place_then_the_history_model() -> None:
    f = routing_facts(4, "housing", [
        ev("ask_place", 0), ev("place_chosen", 5, municipality="yaroslavl"),
        ev("routed", 5, account="uk_zavolzhye", learned=0.97),
    ])
    assert (f.first, f.asked_place, f.place_answered, f.bot_account) == ("learned", True, True, "uk_zavolzhye")
    waiting = routing_facts(5, "housing", [ev("ask_place", 0)])
    assert waiting.first is None and waiting.asked_place and not waiting.place_answered


def test_sums_per_category_and_account() -> None:
    facts = [
        routing_facts(1, "roads", [ev("routed", 0, account="adm_rybinsk"), ev("rejected", 30, account="adm_rybinsk"),
                                   ev("rerouted", 90, account="adm_rybinsky", by="operator")]),
        routing_facts(2, "roads", [ev("routed", 0, account="adm_rybinsk")]),
        routing_facts(3, "roads", [ev("to_triage", 0, unsure=True), ev("rerouted", 180, account="adm_rybinsk")]),
        routing_facts(4, "housing", [ev("ask_place", 0), ev("routed", 5, account="uk_zavolzhye", learned=0.97)]),
        routing_facts(5, "housing", [ev("to_triage", 0, unsure=False)]),
    ]
    quality = summarize(facts)
    t = quality.total
    assert (t.appeals, t.by_bot, t.learned, t.to_triage, t.triage_unsure, t.asked_place) == (5, 3, 1, 2, 1, 1)
    assert (t.refused_bot, t.refused, t.by_operator, t.waiting) == (1, 1, 2, 1)
    assert t.refused_bot_share == 1 / 3 and t.median_wait == 2.0 and t.p90_wait == 3.0
    roads, housing = quality.by_category
    assert (roads.key, roads.appeals, roads.by_bot, roads.refused_bot) == ("roads", 3, 2, 1)
    assert (housing.key, housing.appeals, housing.learned, housing.waiting) == ("housing", 2, 1, 1)
    by_account = {r.key: (r.by_bot, r.refused_bot, r.learned) for r in quality.by_account}
    assert by_account == {"adm_rybinsk": (2, 1, 0), "uk_zavolzhye": (1, 0, 1)}
    text = format_quality(quality, "неделя 2026-W47", {"roads": "Дороги", "adm_rybinsk": "Администрация Рыбинска"})
    assert "бот направил сам: 3 (60,0%), из них по истории ответов: 1" in text
    assert "после направления ботом: 1 (33,3% направленных ботом)" in text
    assert "медиана 2,0 ч, 90% — до 3,0 ч; ждут разбора сейчас: 1" in text
    assert "Дороги" in text and "Администрация Рыбинска" in text


def test_an_empty_period_says_so_without_dividing_by_zero() -> None:
    text = format_quality(summarize([]), "неделя 2026-W47")
    assert "Обращений: 0" in text and "бот направил сам: 0 (—)" in text


def test_the_chat_version_keeps_the_worst_accounts_and_says_how_many_more() -> None:
    facts = [routing_facts(i, f"cat{i % 12}", [ev("routed", 0, account=f"acc{i}")] +
                           ([ev("rejected", 5, account=f"acc{i}")] if i == 11 else []))
             for i in range(12)]
    text = format_quality(summarize(facts), "период", rows=3)
    assert "… и ещё тем: 9" in text and "… и ещё исполнителей: 9" in text
    accounts = text.split("исполнитель\n", 1)[1].splitlines()
    assert accounts[0].endswith("acc11")  # the one that refused the bot's route comes first


def test_what_the_operators_answered_or_dismissed_no_longer_waits_for_them() -> None:
    answered = routing_facts(6, "other", [ev("to_triage", 0, unsure=True), ev("answered", 30)])
    assert answered.operator_answered and not answered.dismissed and not answered.waiting_in_triage
    assert answered.triage_waits == (0.5,) and answered.operator_routes == 0
    dismissed = routing_facts(7, "other", [ev("to_triage", 0), ev("dismissed", 6, reason="spam")])
    assert dismissed.dismissed and not dismissed.operator_answered and not dismissed.waiting_in_triage
    # an account's own answer is not the operators' decision
    by_account = routing_facts(8, "roads", [ev("routed", 0, account="adm_rybinsk"), ev("answered", 60)])
    assert not by_account.operator_answered and by_account.triage_waits == ()
    t = summarize([answered, dismissed, by_account]).total
    assert (t.answered_in_triage, t.dismissed, t.waiting, t.by_operator) == (1, 1, 0, 0)
    text = format_quality(summarize([answered, dismissed, by_account]), "неделя")
    assert "\nОператоры ответили сами: 1; закрыли как не обращение: 1" in text
