"""Routing learnt from a region's history (`classifier.account_model`): the labels' and contexts'
mapping to the config, the suggestion, the routing decision, the config checks and `otklik classify`."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("sklearn", reason="the trained router needs scikit-learn")
pytest.importorskip("pymorphy3", reason="the trained router needs pymorphy3")

from bot.cli import main  # noqa: E402 - after the skip checks
from bot.config import ConfigError, load_config  # noqa: E402
from routing.classification import Suggestion  # noqa: E402
from routing.learned import LearnedRouting  # noqa: E402
from routing.table import RoutingTable  # noqa: E402
from tests.learned_history import (  # noqa: E402
    GONE_BODY,
    MAYOR_EXPORT_NAME,
    UK_CODE,
    config_with_history,
    train_history_model,
)

ROOF = "В Ярославле течёт крыша в подъезде, вода на лестнице"
POTHOLE = "Ярославль, огромная яма на дороге у дома"


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("history")


@pytest.fixture(scope="module")
def model(folder: Path) -> Path:
    return train_history_model(folder)


@pytest.fixture(scope="module")
def config(folder: Path, model: Path) -> Any:
    return load_config(config_with_history(folder, model))


@pytest.fixture(scope="module")
def learned(config: Any) -> LearnedRouting:
    found = LearnedRouting.from_config(config)
    assert found is not None
    return found


def test_labels_name_accounts_by_code_name_or_history_names(learned: LearnedRouting) -> None:
    mapping = learned.mapping
    assert mapping.accounts[MAYOR_EXPORT_NAME] == "adm_yaroslavl"  # history_names
    assert mapping.accounts["ООО «УК Заволжье»"] == UK_CODE  # the account's name
    assert mapping.accounts["Администрация городского округа город Рыбинск"] == "adm_rybinsk"
    assert mapping.unmapped_labels == (GONE_BODY,)  # a body with no account here
    # contexts by the municipalities' short names; the others are not in the export
    assert mapping.contexts == {"yaroslavl": "Ярославль", "rybinsk": "Рыбинск"}
    assert "uglichsky" in mapping.unmapped_municipalities
    assert "3 of 4 labels name an account" in learned.describe()


def test_names_compare_without_case_yo_or_extra_spaces(folder: Path, model: Path, tmp_path: Path) -> None:
    def edit(data: dict[str, Any]) -> None:
        for account in data["accounts"]:
            if account["code"] == "adm_yaroslavl":
                account["history_names"] = ["  мэрия Г.  ЯРОСЛАВЛЯ "]

    learned = LearnedRouting.from_config(load_config(config_with_history(tmp_path, model, history_names=False,
                                                                         edit=edit)))
    assert learned is not None
    assert learned.mapping.accounts[MAYOR_EXPORT_NAME] == "adm_yaroslavl"


def test_the_same_words_go_to_whoever_answered_them_in_that_town(learned: LearnedRouting) -> None:
    roof_yar, road_yar, roof_ryb = learned.suggest_many([ROOF, POTHOLE, "течёт крыша в подъезде"],
                                                        ["yaroslavl", "yaroslavl", "rybinsk"])
    assert roof_yar is not None and roof_yar.code == UK_CODE and roof_yar.confidence >= 0.9
    assert road_yar is not None and road_yar.code == "adm_yaroslavl" and road_yar.confidence >= 0.9
    assert roof_ryb is not None and roof_ryb.code == "adm_rybinsk"


def test_no_suggestion_without_a_known_place_or_for_a_body_not_served(learned: LearnedRouting) -> None:
    assert learned.suggest(ROOF, None) is None  # the model was trained with the town as context
    assert learned.suggest(ROOF, "uglichsky") is None  # a town the export does not have
    # street lights in Ярославль were answered by a body the config has no account for
    assert learned.suggest("не горят фонари во дворе, темно", "yaroslavl") is None


def test_a_sure_learnt_account_decides_and_an_unsure_one_does_not(config: Any) -> None:
    table = RoutingTable(config)
    assert table.min_learned_confidence == 0.9
    sure = Suggestion(UK_CODE, 0.95)
    # it decides even when the category is unsure: who answers is what routing is for
    decision = table.destination("housing", "yaroslavl", 0.1, learned=sure)
    assert (decision.account, decision.learned, decision.to_triage) == (UK_CODE, True, False)
    unsure = table.destination("housing", "yaroslavl", 0.99, learned=Suggestion(UK_CODE, 0.89))
    assert (unsure.account, unsure.learned) == (table.account_for("housing", "yaroslavl"), False)
    unknown = table.destination("housing", "yaroslavl", 0.99, learned=Suggestion("no_such_account", 1.0))
    assert not unknown.learned


def test_a_rule_that_sends_a_pair_to_triage_on_purpose_wins(folder: Path, model: Path, tmp_path: Path) -> None:
    path = config_with_history(tmp_path, None, edit=lambda data: data["routing"]["rules"].append(
        {"account": "triage", "categories": ["housing"], "municipalities": ["yaroslavl"]}))
    table = RoutingTable(load_config(path))
    decision = table.destination("housing", "yaroslavl", 0.99, learned=Suggestion(UK_CODE, 1.0))
    assert decision.to_triage and not decision.learned
    assert not table.destination("roads", "yaroslavl", 0.99, learned=Suggestion(UK_CODE, 1.0)).to_triage


# ---- config checks ---------------------------------------------------------------------------
def _problem(path: Path) -> tuple[str, str]:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert len(info.value.problems) == 1, info.value.problems
    [problem] = info.value.problems
    return problem.path, problem.message


def test_config_names_a_missing_or_broken_account_model(tmp_path: Path) -> None:
    path = config_with_history(tmp_path, tmp_path / "nowhere")
    where, message = _problem(path)
    assert where == "classifier.account_model" and "no such file" in message
    (tmp_path / "nowhere").write_bytes(b"not a model")
    where, message = _problem(path)
    assert where == "classifier.account_model" and "no topic model at" in message
    path = config_with_history(tmp_path, tmp_path / "broken.npz")
    (tmp_path / "broken.npz").write_bytes(b"not a model")
    where, message = _problem(path)
    assert where == "classifier.account_model" and "not a topic model file" in message


def test_config_rejects_an_account_model_whose_labels_name_no_account(model: Path, tmp_path: Path) -> None:
    def edit(data: dict[str, Any]) -> None:
        data["accounts"] = [a for a in data["accounts"] if a["code"] != UK_CODE]
        for account in data["accounts"]:
            if account["code"] == "adm_rybinsk":
                account["name"] = "Администрация Рыбинска"  # not what the export calls it

    where, message = _problem(config_with_history(tmp_path, model, history_names=False, edit=edit))
    assert where == "classifier.account_model"
    assert "none of its 4 labels names an account" in message and "history_names" in message


def test_config_rejects_an_account_model_with_contexts_it_cannot_match(model: Path, tmp_path: Path) -> None:
    def edit(data: dict[str, Any]) -> None:
        for municipality in data["municipalities"]:
            municipality["short_name"] = municipality["code"]
            municipality["aliases"] = []

    where, message = _problem(config_with_history(tmp_path, model, edit=edit))
    assert where == "classifier.account_model" and "context" in message and "aliases" in message


def test_an_executor_model_named_as_the_category_model_is_reported(model: Path, tmp_path: Path) -> None:
    def edit(data: dict[str, Any]) -> None:
        data["classifier"]["model_path"] = str(model)

    where, message = _problem(config_with_history(tmp_path, None, edit=edit))
    assert where == "classifier.model_path"
    assert "none of the model's 4 labels is a category code" in message and "account_model" in message


def test_summary_names_the_account_model_and_what_does_not_match(config: Any, model: Path) -> None:
    summary = config.summary()
    assert f"Account model (learnt from history): {model}; routes on its own at ≥ 0.9" in summary
    assert "3 of 4 labels name an account" in summary
    assert f"labels that name no account (never routed to; add them to history_names if they should be): " \
           f"'{GONE_BODY}'" in summary
    assert "municipalities it knows: 2 of 19; not: pereslavl," in summary


# ---- otklik classify -------------------------------------------------------------------------
def test_classify_routes_a_file_with_the_learnt_accounts(folder: Path, config: Any, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "in.jsonl"
    lines = [{"id": 1, "text": ROOF}, {"id": 2, "text": POTHOLE},
             {"id": 3, "text": "Течёт крыша в подъезде, третий день вода"}]  # no place: the model is not asked
    source.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert main(["classify", "--config", str(folder / "config.yaml"), "--input", str(source),
                 "--output", str(out)]) == 0
    roof, road, placeless = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert roof["municipality"] == "yaroslavl" and roof["account"] == UK_CODE
    assert roof["learned_account"]["account"] == UK_CODE and roof["learned_account"]["decided"] is True
    assert road["account"] == "adm_yaroslavl" and road["learned_account"]["decided"] is True
    assert placeless["municipality"] is None and "learned_account" not in placeless
    assert placeless["account"] == "triage"


def test_one_history_name_for_two_accounts_is_refused(tmp_path: Path) -> None:
    def edit(data: dict[str, Any]) -> None:
        for account in data["accounts"]:
            if account["code"] == "adm_rybinsk":
                account["history_names"] = ["мэрия г. Ярославля"]  # adm_yaroslavl's, in other letters

    where, message = _problem(config_with_history(tmp_path, None, edit=edit))
    assert where.startswith("accounts[") and where.endswith("history_names[0]")
    assert "adm_yaroslavl" in message
