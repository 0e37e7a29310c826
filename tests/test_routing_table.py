"""routing/table.py: the most specific rule wins, file order breaks ties, no match means triage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.config import OtklikConfig, load_config
from routing.table import RoutingTable

SHIPPED = Path(__file__).resolve().parent.parent / "config.yaml"


def make_config(rules: list[dict[str, Any]]) -> OtklikConfig:
    """Two towns, three categories, five accounts, and the given rules followed by a triage catch-all."""
    accounts = ["any_cat_any_mun", "roads_body", "roads_body_2", "adm_a", "adm_a_roads", "adm_b"]
    return OtklikConfig.model_validate(
        {
            "region": {"name": "Тест"},
            "municipalities": [
                {"code": "a", "name": "A", "short_name": "A"},
                {"code": "b", "name": "B", "short_name": "B"},
            ],
            "categories": [{"code": c, "name": c} for c in ("roads", "housing", "other")],
            "accounts": [
                {"code": code, "name": code, "telegram_chat": -1001000000101 - i}
                for i, code in enumerate(accounts)
            ],
            "triage": {"telegram_chat": -1001000000001},
            "supervisors": {"telegram_chat": -1001000000002},
            "routing": {"rules": [*rules, {"account": "triage"}]},
        }
    )


# Written least specific first, so file order alone could never produce the expected winners.
PRECEDENCE_RULES: list[dict[str, Any]] = [
    {"account": "any_cat_any_mun"},
    {"account": "adm_a", "municipalities": ["a"]},
    {"account": "roads_body", "categories": ["roads"]},
    {"account": "adm_a_roads", "categories": ["roads"], "municipalities": ["a"]},
]


def test_category_and_municipality_beat_everything() -> None:
    table = RoutingTable(make_config(PRECEDENCE_RULES))
    assert table.account_for("roads", "a") == "adm_a_roads"


def test_category_beats_municipality() -> None:
    table = RoutingTable(make_config(PRECEDENCE_RULES))
    assert table.account_for("roads", "b") == "roads_body"
    rules = [r for r in PRECEDENCE_RULES if r["account"] != "adm_a_roads"]
    assert RoutingTable(make_config(rules)).account_for("roads", "a") == "roads_body"


def test_municipality_beats_the_catch_all() -> None:
    table = RoutingTable(make_config(PRECEDENCE_RULES))
    assert table.account_for("housing", "a") == "adm_a"
    assert table.account_for("housing", "b") == "any_cat_any_mun"


def test_first_rule_wins_a_tie() -> None:
    rules = [
        {"account": "roads_body_2", "categories": ["roads"]},
        {"account": "roads_body", "categories": ["roads", "housing"]},
    ]
    table = RoutingTable(make_config(rules))
    assert table.account_for("roads", "a") == "roads_body_2"
    assert table.account_for("housing", "a") == "roads_body"
    swapped = RoutingTable(make_config(rules[::-1]))
    assert swapped.account_for("roads", "a") == "roads_body"


def test_no_match_means_triage() -> None:
    # make_config adds an explicit triage catch-all; a table without one simply finds nothing.
    config = make_config([{"account": "adm_a", "municipalities": ["a"]}])
    table = RoutingTable(config)
    assert table.account_for("housing", "b") is None
    config.routing.rules.pop()  # drop the catch-all
    assert RoutingTable(config).rule_for("housing", "b") is None
    assert RoutingTable(config).account_for("housing", "b") is None


def test_unknown_municipality_only_matches_rules_for_any_municipality() -> None:
    table = RoutingTable(make_config(PRECEDENCE_RULES))
    assert table.account_for("roads", None) == "roads_body"
    assert table.account_for("housing", None) == "any_cat_any_mun"


def test_explicit_triage_rule_overrides_a_less_specific_one() -> None:
    rules = [*PRECEDENCE_RULES, {"account": "triage", "categories": ["other"], "municipalities": ["a"]}]
    table = RoutingTable(make_config(rules))
    assert table.account_for("other", "a") is None
    assert table.account_for("other", "b") == "any_cat_any_mun"


def test_accounts_for_triage_puts_the_likely_ones_first() -> None:
    table = RoutingTable(make_config(PRECEDENCE_RULES))
    ordered = table.accounts_for_triage("housing", "a")
    assert ordered[0] == "adm_a"  # the match
    assert ordered[1] == "adm_a_roads"  # the same municipality's other account
    assert sorted(ordered) == sorted(
        ["any_cat_any_mun", "roads_body", "roads_body_2", "adm_a", "adm_a_roads", "adm_b"]
    )
    assert len(ordered) == len(set(ordered))


def test_accounts_for_triage_without_a_match_or_place() -> None:
    config = make_config([{"account": "roads_body", "categories": ["roads"]}])
    ordered = RoutingTable(config).accounts_for_triage("roads", None)
    assert ordered[0] == "roads_body"
    assert "triage" not in ordered
    assert RoutingTable(config).accounts_for_triage("housing", "b")[0] == "any_cat_any_mun"  # file order


def test_shipped_routing() -> None:
    table = RoutingTable(load_config(SHIPPED))
    assert table.account_for("health", "uglichsky") == "min_health"
    assert table.account_for("health", None) == "min_health"
    assert table.account_for("waste", "rybinsk") == "waste_operator"
    assert (
        table.account_for("transport", "yaroslavl") == "adm_yaroslavl"
    )  # city transport stays with the city
    assert table.account_for("transport", "uglichsky") == "min_transport"
    assert table.account_for("roads", "rybinsky") == "adm_rybinsky"
    assert table.account_for("roads", "rybinsk") == "adm_rybinsk"
    assert table.account_for("education", "yaroslavsky") == "adm_yaroslavsky"
    assert table.account_for("roads", None) is None  # unknown place: triage
    assert table.accounts_for_triage("housing", "tutaevsky")[0] == "adm_tutaevsky"


def test_an_intermunicipal_route_goes_to_the_region_wide_account() -> None:
    table = RoutingTable(load_config(SHIPPED))
    # no place: triage (the bot asks the citizen first) ...
    assert table.destination("transport", None, 0.9).account is None
    # ... unless the text is about a route between municipalities: the regional transport ministry
    assert table.destination("transport", None, 0.9, intermunicipal=True).account == "min_transport"
    assert table.destination("health", None, 0.9, intermunicipal=True).account == "min_health"
    # a category whose body depends on the place still waits for it; an unsure category still goes to triage
    assert table.destination("roads", None, 0.9, intermunicipal=True).account is None
    assert table.destination("transport", None, 0.3, intermunicipal=True).account is None
    # a known municipality is unaffected
    assert table.destination("transport", "yaroslavl", 0.9, intermunicipal=True).account == "adm_yaroslavl"
