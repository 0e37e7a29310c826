"""Operators' corrections as labelled examples (routing/corrections.py) and
`otklik train --include-corrections` on a database that holds them."""
from __future__ import annotations

import argparse
import asyncio
import csv
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("sklearn", reason="the trained router needs scikit-learn")

from bot import cli_routing  # noqa: E402 - after the skip check
from bot.config import OtklikConfig  # noqa: E402
from routing import texts  # noqa: E402
from routing.corrections import Correction, Example, implied_label, label_corrections, load_corrections  # noqa: E402
from routing.table import RoutingTable  # noqa: E402
from routing.training import Table, add_corrections, load_seed_examples  # noqa: E402
from storage import repository as repo  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.models import Appeal, Citizen  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
AT = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def label(config: OtklikConfig, account: str, category: str | None, municipality: str | None
          ) -> tuple[str, str | None] | None:
    correction = Correction(1, "текст", category, municipality, account)
    return implied_label(correction, RoutingTable(config), [c.code for c in config.categories],
                         [m.code for m in config.municipalities])


def test_an_account_of_one_category_names_it(config: OtklikConfig) -> None:
    # the classifier guessed housing; the operator sent it to the health ministry: it is health
    assert label(config, "min_health", "housing", "myshkinsky") == ("health", "myshkinsky")
    assert label(config, "gas_operator", "other", "uglichsky") == ("gas", "uglichsky")


def test_an_account_of_several_categories_confirms_the_classifier_or_says_nothing(config: OtklikConfig) -> None:
    # the town's administration takes roads (and yards, housing …): the unsure guess is confirmed
    assert label(config, "adm_uglichsky", "roads", "uglichsky") == ("roads", "uglichsky")
    # … but when the guess was a regional topic, the choice only says what it is not
    assert label(config, "adm_uglichsky", "health", "uglichsky") is None
    # city transport belongs to the city: transport is one of the mayor's office's categories
    assert label(config, "adm_yaroslavl", "transport", "yaroslavl") == ("transport", "yaroslavl")


def test_an_account_of_another_municipality_corrects_the_place(config: OtklikConfig) -> None:
    # «в Рыбинске» in the text, the road is in the district around it
    assert label(config, "adm_rybinsky", "roads", "rybinsk") == ("roads", "rybinsky")
    assert label(config, "adm_rybinsky", "gas", "rybinsk") is None


def test_added_rows_follow_the_training_data_labels() -> None:
    examples = [
        Example("фельдшер приезжает раз в неделю", "health", "myshkinsky", "min_health", 1),
        Example("яма у подъезда", "improvement", "uglichsky", "adm_uglichsky", 2),
    ]
    by_category = Table(["id", "text", "topic"], [{"id": "1", "text": "нет света", "topic": "power"},
                                                  {"id": "2", "text": "в поликлинике очередь", "topic": "health"}])
    added = add_corrections(by_category, examples, "text", "topic")
    # «improvement» is no label of this export: left out rather than taught as a new class
    assert (added.added, added.unknown_label, added.by_label) == (1, 1, {"health": 1})
    assert by_category.rows[-1] == {"id": "", "text": "фельдшер приезжает раз в неделю", "topic": "health"}

    by_account = Table(["text", "executor", "district"],
                       [{"text": "яма", "executor": "adm_uglichsky", "district": "Угличский"},
                        {"text": "газ", "executor": "gas_operator", "district": "Мышкинский"}])
    added = add_corrections(by_account, examples, "text", "executor", "district",
                            {"uglichsky": ("Угличский муниципальный округ", "Угличский"),
                             "myshkinsky": ("Мышкинский муниципальный округ", "Мышкинский")})
    assert added.added == 1 and added.by_label == {"adm_uglichsky": 1}
    assert by_account.rows[-1] == {"text": "яма у подъезда", "executor": "adm_uglichsky", "district": "Угличский"}


# ---- a database with corrections -------------------------------------------------------------
async def _appeal(db: Database, text: str, category: str, municipality: str,
                  events: list[tuple[str, str, dict[str, Any]]]) -> int:
    async with db.transaction() as s:
        citizen = Citizen(platform="tg", platform_user_id=str(abs(hash(text)) % 10**9), chat_id="1",
                          display_name="Житель", created_at=AT)
        s.add(citizen)
        await s.flush()
        appeal = Appeal(citizen_id=citizen.id, platform="tg", status="routed", text=text, category=category,
                        category_confidence=0.4, municipality=municipality, municipality_source="text",
                        created_at=AT, updated_at=AT)
        s.add(appeal)
        await s.flush()
        for actor, action, detail in events:
            repo.add_event(s, appeal.id, AT, actor, action, None, None, detail)
        return appeal.id


def _rerouted(account: str, category: str, municipality: str, by: str = "operator") -> tuple[str, str, dict]:
    return ("tg:3001 (Оператор)", "rerouted",
            {"account": account, "previous_account": None, "category": category, "municipality": municipality,
             "by": by})


MYSHKIN = "в Мышкине фельдшер приезжает раз в неделю, а больше некому"


async def _fill(url: str) -> dict[str, int]:
    db = Database(url)
    await db.upgrade()
    ids = {
        # unsure health, the operator agrees: a health example
        "health": await _appeal(db, MYSHKIN, "health", "myshkinsky", [_rerouted("min_health", "health", "myshkinsky")]),
        # routed twice by hand: the later choice counts (gas)
        "twice": await _appeal(db, "в Угличе на Садовой пахнет из трубы у дома", "housing", "uglichsky",
                               [_rerouted("adm_uglichsky", "housing", "uglichsky"),
                                _rerouted("gas_operator", "housing", "uglichsky")]),
        # a regional guess sent to the town: says only what it is not
        "unclear": await _appeal(db, "в Угличе у дома стоит бочка с квасом", "health", "uglichsky",
                                 [_rerouted("adm_uglichsky", "health", "uglichsky")]),
        # the system's own routing is no correction
        "system": await _appeal(db, "нет света в Бурмакино", "power", "nekrasovsky",
                                [("system", "routed", {"account": "power_grid"})]),
        # a forgotten citizen's text is gone
        "erased": await _appeal(db, texts.FORGOTTEN_TEXT, "roads", "uglichsky",
                                [_rerouted("adm_uglichsky", "roads", "uglichsky")]),
    }
    await db.dispose()
    return ids


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="otklik")
    sub = parser.add_subparsers(dest="command")
    cli_routing.register(sub)
    args = parser.parse_args(argv)
    return int(args.func(args))


async def test_corrections_are_read_from_the_database(database_url: str, config: OtklikConfig) -> None:
    ids = await _fill(database_url)
    db = Database(database_url)
    try:
        corrections = await load_corrections(db)
    finally:
        await db.dispose()
    assert [(c.appeal_id, c.account) for c in corrections] == [
        (ids["health"], "min_health"), (ids["twice"], "gas_operator"), (ids["unclear"], "adm_uglichsky")]
    examples, unclear = label_corrections(corrections, RoutingTable(config), [c.code for c in config.categories])
    assert [(e.text, e.category) for e in examples] == [
        (MYSHKIN, "health"), ("в Угличе на Садовой пахнет из трубы у дома", "gas")]
    assert [c.appeal_id for c in unclear] == [ids["unclear"]]


async def test_train_include_corrections_adds_them_to_the_seed_examples(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from routing.topics import TopicModel
    from routing.training import default_model

    await _fill(database_url)
    monkeypatch.setenv("OTKLIK_DATABASE_URL", database_url)
    out = tmp_path / "router"
    code = await asyncio.to_thread(_run, ["train", "--include-corrections", "--config", str(ROOT / "config.yaml"),
                                          "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "3 appeals routed by operators" in printed and "2 tell the category, 1 only the account" in printed
    assert "added 2 corrections as examples (gas 1, health 1)" in printed
    model = TopicModel.load(out)
    assert model.metadata["trained_on"] == len(load_seed_examples()[0]) + 2
    assert "2 operators' corrections" in model.metadata["source"]

    def health(m: TopicModel) -> float:
        return dict(m.top(MYSHKIN, k=len(m.classes)))["health"]

    assert health(model) > health(default_model())  # what the operator taught is learnt


async def test_train_include_corrections_with_a_csv(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    await _fill(database_url)
    monkeypatch.setenv("OTKLIK_DATABASE_URL", database_url)
    history = tmp_path / "history.csv"
    seed_texts, seed_labels = load_seed_examples()
    with history.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["message", "topic"])
        writer.writerows(zip(seed_texts, seed_labels, strict=True))
    code = await asyncio.to_thread(_run, [
        "train", "--include-corrections", "--config", str(ROOT / "config.yaml"), "--data", str(history),
        "--text-column", "message", "--label-column", "topic", "--out", str(tmp_path / "m")])
    assert code == 0
    assert f"trained on {len(seed_texts) + 2} rows" in capsys.readouterr().out
    # --holdout scores the CSV with the corrections in it (no id column: by row number), then trains on all
    code = await asyncio.to_thread(_run, [
        "train", "--include-corrections", "--config", str(ROOT / "config.yaml"), "--data", str(history),
        "--text-column", "message", "--label-column", "topic", "--holdout", "0.2", "--out", str(tmp_path / "h")])
    assert code == 0
    printed = capsys.readouterr().out
    assert "by a hash of the row number" in printed and f"trained on {len(seed_texts) + 2} rows" in printed
    from routing.topics import TopicModel

    held = TopicModel.load(tmp_path / "h").metadata["holdout"]
    assert held["rows"] + held["trained_rows"] == len(seed_texts) + 2 and 0.5 < held["accuracy"] <= 1


def test_include_corrections_refuses_without_out_or_a_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(["train", "--include-corrections"]) == 2
    assert "--out" in capsys.readouterr().err
    monkeypatch.setenv("OTKLIK_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'none.sqlite3'}")
    assert _run(["train", "--include-corrections", "--config", str(ROOT / "config.yaml"),
                 "--out", str(tmp_path / "m")]) == 2
    assert "no database" in capsys.readouterr().err
    assert not (tmp_path / "none.sqlite3").exists()


def test_a_history_of_named_bodies_takes_every_correction_under_the_name_it_uses() -> None:
    # the export writes bodies by their own names; the config maps them with name and history_names
    history = Table(["text", "executor", "town"],
                    [{"text": "течёт крыша", "executor": "ООО «УК Заволжье»", "town": "Ярославль"},
                     {"text": "яма", "executor": "Мэрия г. Ярославля", "town": "Ярославль"}])
    names = {"uk_zavolzhye": ("ООО «УК Заволжье»",), "adm_yaroslavl": ("Мэрия города Ярославля", "мэрия  г. ярославля")}
    examples = [
        # a correction that tells only the account (no category: the table does not route there)
        Example("лифт стоит неделю", "", "yaroslavl", "uk_zavolzhye", 1),
        # one that tells the category too: the table's labels are bodies, so the account's name
        Example("яма у школы", "roads", "yaroslavl", "adm_yaroslavl", 2),
        Example("нет газа", "gas", "yaroslavl", "gas_operator", 3),  # a body the export does not have
    ]
    added = add_corrections(history, examples, "text", "executor", "town", {"yaroslavl": ("город Ярославль", "Ярославль")},
                            names)
    assert (added.added, added.unknown_label) == (2, 1)
    assert added.by_label == {"ООО «УК Заволжье»": 1, "Мэрия г. Ярославля": 1}
    assert history.rows[-2:] == [{"text": "лифт стоит неделю", "executor": "ООО «УК Заволжье»", "town": "Ярославль"},
                                 {"text": "яма у школы", "executor": "Мэрия г. Ярославля", "town": "Ярославль"}]
    # an export of categories has no use for a correction that tells only the account
    topics = Table(["text", "topic"], [{"text": "яма", "topic": "roads"}])
    assert add_corrections(topics, examples[:1], "text", "topic").unknown_label == 1
