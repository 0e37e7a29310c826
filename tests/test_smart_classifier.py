"""ModelClassifier with the shipped config, the default seed model and its cache, and the
`otklik train` / `otklik predict` commands — on seed data and hand-written messages only."""
from __future__ import annotations

import argparse
import csv
import inspect
import json
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

pytest.importorskip("sklearn", reason="the trained router needs scikit-learn")
pytest.importorskip("pymorphy3", reason="the trained router needs pymorphy3")

from bot import cli_routing  # noqa: E402 - after the skip checks
from bot.config import load_config  # noqa: E402
from routing.classification import Classifier  # noqa: E402
from routing.smart import ModelClassifier  # noqa: E402
from routing.training import default_model, load_seed_examples  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

# (message, category, municipality or None when the text does not say) — written for this test,
# not taken from the seed file.
MESSAGES = [
    ("Здравствуйте. На Ленинградском проспекте у дома 50 неделю не горят фонари во дворе", "improvement", "yaroslavl"),
    ("в Брагино во дворе по ул Панина гора снега не вывозят", "improvement", "yaroslavl"),
    ("Когда отремонтируют дорогу на Тутаевском шоссе? колеса уже пробили", "roads", "yaroslavl"),
    ("светофор у вокзала в Рыбинске мигает желтым второй день", "roads", "rybinsk"),
    ("УК на Перекопе не чинит крышу, топит 5 этаж", "housing", "yaroslavl"),
    ("нет отопления в квартире в Тутаеве, батареи холодные", "housing", "tutaevsky"),
    ("в доме на проспекте Ленина второй день нет холодной воды", "housing", None),
    ("маршрутка 3 в Рыбинске не ходит по вечерам", "transport", "rybinsk"),
    ("автобус из Песочного в Рыбинск отменили", "transport", None),
    ("Контейнеры на площадке в Красных Ткачах переполнены неделю", "waste", "yaroslavsky"),
    ("регоператор не вывозит мусор из деревни в Большесельском районе", "waste", "bolsheselsky"),
    ("в Данилове в поликлинике нет талонов к терапевту", "health", "danilovsky"),
    ("Скорая в Рыбинском районе едет по два часа", "health", "rybinsky"),
    ("ребенку не дают место в садике в Заволжском районе", "education", "yaroslavl"),
    ("школьный автобус в Некоузском районе не возит детей", "education", "nekouzsky"),
    ("аварийный дом в Угличе до сих пор не расселили", "social", "uglichsky"),
    ("нет света в Бурмакино с утра", "power", "nekrasovsky"),
    ("когда проведут газ в Брейтово", "gas", "breitovsky"),
    ("в Мышкине нет мобильного интернета", "telecom", "myshkinsky"),
    ("бродячие собаки на Слипе кидаются на людей", "animals", "rybinsk"),
    ("в реку у Тутаева сливают какую-то гадость", "ecology", "tutaevsky"),
    ("дом культуры в Пречистом закрыт на ремонт третий год", "culture_sport", "pervomaisky"),
    ("в магазине в Некрасовском продают просрочку", "trade", "nekrasovsky"),
    ("заброшенное здание на Пятерке, дети лазят", "safety", "yaroslavl"),
    ("спасибо, вопрос решили", "other", None),
    ("у нас в Лесной Поляне нет горячей воды", "housing", "yaroslavsky"),
    ("под Ярославлем в деревне третий день без света", "power", "yaroslavsky"),
    ("в Гаврилов-Яме во дворе яма", "improvement", "gavrilov_yam"),
]


@pytest.fixture(scope="module")
def classifier() -> ModelClassifier:
    config = load_config(ROOT / "config.yaml")
    return ModelClassifier.from_config(config).warm_up()


def test_it_is_a_classifier(classifier: ModelClassifier) -> None:
    as_protocol: Classifier = classifier  # a type checker verifies the protocol; here, the keywords
    parameters = inspect.signature(as_protocol.classify).parameters
    assert parameters["location"].kind is inspect.Parameter.KEYWORD_ONLY
    assert parameters["known_municipality"].kind is inspect.Parameter.KEYWORD_ONLY


def test_categories_and_municipalities_of_new_messages(classifier: ModelClassifier) -> None:
    results = classifier.classify_many([m for m, _, _ in MESSAGES])
    categories = sum(r.category == c for r, (_, c, _) in zip(results, MESSAGES, strict=True))
    places = sum(r.municipality == p for r, (_, _, p) in zip(results, MESSAGES, strict=True))
    wrong_places = [(m, r.municipality) for r, (m, _, p) in zip(results, MESSAGES, strict=True)
                    if r.municipality is not None and r.municipality != p]
    assert categories / len(MESSAGES) >= 0.9
    assert places / len(MESSAGES) >= 0.9
    assert not wrong_places  # undecided is allowed; a wrong municipality is not


def test_classification_shape(classifier: ModelClassifier) -> None:
    result = classifier.classify("яма во дворе в Угличе")
    assert 0 < result.category_confidence <= 1
    assert result.category_suggestions[0].code == result.category
    confidences = [s.confidence for s in result.category_suggestions]
    assert confidences == sorted(confidences, reverse=True)
    assert result.municipality == "uglichsky" and result.municipality_confidence > 0
    undecided = classifier.classify("яма во дворе")
    assert undecided.municipality is None and undecided.municipality_confidence == 0.0


def test_known_municipality_and_location(classifier: ModelClassifier) -> None:
    from_button = classifier.classify("яма во дворе", known_municipality="danilovsky")
    assert (from_button.municipality, from_button.municipality_confidence) == ("danilovsky", 1.0)
    from_location = classifier.classify("яма во дворе", location=(57.525, 38.33))
    assert from_location.municipality == "uglichsky"


def test_place_names_do_not_count_as_keywords(classifier: ModelClassifier) -> None:
    # «Гаврилов-Ям» contains «ям» (a pothole keyword); the category must come from the complaint.
    result = classifier.classify("в Гаврилов-Яме нет газа")
    assert result.category == "gas"


def test_a_route_between_municipalities_is_flagged(classifier: ModelClassifier) -> None:
    route = classifier.classify("маршрутка Ярославль - Тутаев битком, водитель курит")
    assert (route.category, route.municipality, route.intermunicipal) == ("transport", None, True)
    outside = classifier.classify("автобус Ярославль - Кострома отменили, как теперь ехать")
    assert (outside.municipality, outside.intermunicipal) == (None, True)
    town = classifier.classify("в Тутаеве автобус опоздал на сорок минут")
    assert (town.municipality, town.intermunicipal) == ("tutaevsky", False)
    nowhere = classifier.classify("автобус опоздал на сорок минут")
    assert (nowhere.municipality, nowhere.intermunicipal) == (None, False)  # no place named: ask


@pytest.mark.parametrize(("text", "category"), [
    # words the seed examples lacked, and one topical word pulling the wrong way (written for this test)
    ("тротуары засыпали реагентом, обувь разъедает", "roads"),
    ("в деревне нет 4G, мобильный интернет не грузит", "telecom"),
    ("пазики на маршруте старые и холодные", "transport"),
    ("бездомные кошки живут в подвале, котята пищат", "animals"),
    ("можно ли материнским капиталом оплатить газ в дом", "social"),
    ("у детского сада заросли борщевика", "improvement"),
    ("продам гараж недорого", "other"),
])
def test_words_that_used_to_pull_to_the_wrong_category(classifier: ModelClassifier, text: str,
                                                       category: str) -> None:
    assert classifier.classify(text).category == category


def _config_with(keywords: dict[str, list[str]]) -> SimpleNamespace:
    categories = [SimpleNamespace(code=c, name=c, keywords=keywords.get(c, []))
                  for c in ("housing", "trade", "other")]
    return SimpleNamespace(categories=categories, municipalities=[],
                           classifier=SimpleNamespace(kind="model", model_path=None),
                           resolve_path=lambda p: Path(p))


def test_operator_keywords_correct_without_retraining() -> None:
    text = "продают квас из бочки у подъезда"
    plain = ModelClassifier.from_config(_config_with({})).classify(text)
    corrected = ModelClassifier.from_config(_config_with({"trade": ["квас", "бочк"]})).classify(text)
    trade = {s.code: s.confidence for s in plain.category_suggestions}.get("trade", 0.0)
    assert corrected.category == "trade"
    assert corrected.category_confidence > trade


def test_only_the_configured_rubric_is_answered() -> None:
    result = ModelClassifier.from_config(_config_with({})).classify("собаки покусали ребёнка")
    assert result.category in {"housing", "trade", "other"}
    assert result.category_confidence < 0.9  # none of these fits: no confident answer


def test_import_is_cheap() -> None:
    code = ("import sys, time; t = time.perf_counter(); import routing.smart; "
            "print(time.perf_counter() - t, 'sklearn' in sys.modules, 'pymorphy3' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    seconds, sklearn_loaded, morph_loaded = out.stdout.split()
    assert float(seconds) < 0.5
    assert sklearn_loaded == "False" and morph_loaded == "False"


# ---- the default model's cache ---------------------------------------------------------------
def test_default_model_is_cached_and_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from routing import training

    monkeypatch.setenv("OTKLIK_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(training, "_DEFAULT", {})
    first = default_model()
    cached = list((tmp_path / "cache").glob("default-model-*/topic_model.npz"))
    assert len(cached) == 1
    monkeypatch.setattr(training, "_DEFAULT", {})
    monkeypatch.setattr(training, "train_default_model", lambda *_: pytest.fail("should load the cache"))
    second = default_model()
    assert second.classes == first.classes


def test_default_model_says_where_it_comes_from(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                caplog: pytest.LogCaptureFixture) -> None:
    from routing import training

    caplog.set_level("INFO", logger="routing.training")
    monkeypatch.setenv("OTKLIK_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(training, "_DEFAULT", {})
    default_model()
    trained = caplog.messages[-1]
    assert "trained in" in trained and f"cached in {tmp_path / 'cache'}" in trained
    monkeypatch.setattr(training, "_DEFAULT", {})
    default_model()
    assert f"loaded from the cache {tmp_path / 'cache'}" in caplog.messages[-1]


def test_default_model_works_without_a_writable_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from routing import training

    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("OTKLIK_CACHE_DIR", str(blocker / "cache"))  # cannot be created, even as root
    monkeypatch.setattr(training, "_DEFAULT", {})
    model = default_model()
    assert model.predict(["нет света"])[0][0] == "power"


# ---- otklik train / predict ----------------------------------------------------------------
def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="otklik")
    sub = parser.add_subparsers(dest="command")
    cli_routing.register(sub)
    args = parser.parse_args(argv)
    return int(args.func(args))


@pytest.fixture()
def history(tmp_path: Path) -> Path:
    """An 'export' built from the seed examples, with a district column as context."""
    texts, labels = load_seed_examples()
    path = tmp_path / "history.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "message", "topic", "district"])
        for n, (text, label) in enumerate(zip(texts, labels, strict=True)):
            writer.writerow([n, text, label, ("Ленинский", "Кировский")[n % 2]])
    return path


def test_train_and_predict_a_csv(tmp_path: Path, history: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model_dir = tmp_path / "model"
    assert _run(["train", "--data", str(history), "--text-column", "message", "--label-column", "topic",
                 "--context-column", "district", "--out", str(model_dir)]) == 0
    seeds = len(load_seed_examples()[0])
    assert f"trained on {seeds} rows" in capsys.readouterr().out
    out = tmp_path / "pred.csv"
    assert _run(["predict", "--model", str(model_dir), "--data", str(history), "--text-column", "message",
                 "--context-column", "district", "--out", str(out)]) == 0
    with out.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["id", "message", "topic", "district", "predicted", "confidence"]
    assert len(rows) == seeds
    assert sum(r["predicted"] == r["topic"] for r in rows) / len(rows) > 0.9
    assert all(0 <= float(r["confidence"]) <= 1 for r in rows)


def test_train_learns_sub_groups_from_a_detail_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    texts, labels = load_seed_examples()
    path = tmp_path / "history.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["message", "topic", "subtopic"])
        for copy in range(2):  # each category twice over, so each of its two sub-topics has 50+ rows
            for n, (text, label) in enumerate(zip(texts, labels, strict=True)):
                writer.writerow([f"{text} (дом {copy * 1000 + n})", label, f"{label}-{n % 2}"])
    model_dir = tmp_path / "model"
    assert _run(["train", "--data", str(path), "--text-column", "message", "--label-column", "topic",
                 "--detail-column", "subtopic", "--out", str(model_dir)]) == 0
    learnt = re.search(r"learnt (\d+) sub-groups of the labels from 'subtopic'", capsys.readouterr().err)
    assert learnt and int(learnt.group(1)) > 0
    meta = json.loads((model_dir / "model.json").read_text(encoding="utf-8"))
    assert meta["detail_columns"] == ["subtopic"] and meta["detail_groups"] == int(learnt.group(1))
    out = tmp_path / "pred.csv"
    assert _run(["predict", "--model", str(model_dir), "--data", str(path), "--text-column", "message",
                 "--out", str(out)]) == 0
    with out.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["predicted"] for r in rows} <= set(labels)  # labels, never a sub-group's name
    assert sum(r["predicted"] == r["topic"] for r in rows) / len(rows) > 0.9


def test_a_detail_column_must_exist_and_needs_data(tmp_path: Path, history: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["train", "--data", str(history), "--text-column", "message", "--label-column", "topic",
                 "--detail-column", "reason", "--out", str(tmp_path / "m")]) == 2
    assert "no column 'reason'" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()
    assert _run(["train", "--detail-column", "reason", "--out", str(tmp_path / "m")]) == 2
    assert "need --data" in capsys.readouterr().err


def test_missing_column_is_named_and_exits_2(tmp_path: Path, history: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    code = _run(["train", "--data", str(history), "--text-column", "text", "--label-column", "topic",
                 "--out", str(tmp_path / "m")])
    assert code == 2
    err = capsys.readouterr().err
    assert "'text'" in err and "message, topic" in err


def test_bad_input_files_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["train", "--data", str(tmp_path / "none.csv"), "--label-column", "x", "--out", "m"]) == 2
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"text,label\n\xff\xfe\x00,1\n")
    assert _run(["train", "--data", str(binary), "--label-column", "label", "--out", str(tmp_path / "m")]) == 2
    assert "UTF-8" in capsys.readouterr().err
    assert _run(["predict", "--model", str(tmp_path / "no-model"), "--data", str(binary), "--out", "p.csv"]) == 2


def test_train_without_data_builds_the_seed_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["train", "--out", str(tmp_path / "seed")]) == 0
    assert f"17 categories from {len(load_seed_examples()[0])} seed examples" in capsys.readouterr().out
    assert (tmp_path / "seed" / "topic_model.npz").exists()


def test_a_trained_model_named_in_the_config_routes(tmp_path: Path, history: Path) -> None:
    assert _run(["train", "--data", str(history), "--text-column", "message", "--label-column", "topic",
                 "--out", str(tmp_path / "router")]) == 0
    config = _config_with({})
    config.classifier = SimpleNamespace(kind="model", model_path="router/topic_model.npz")
    config.resolve_path = lambda p: tmp_path / p
    result = ModelClassifier.from_config(config).classify("в квартире холодные батареи")
    assert result.category == "housing"
