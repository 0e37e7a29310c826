"""What the CLI says about a bad input file or option (a QA pass by an admin and an analyst): a file
no row of which can be classified, which threshold setting a model's suggestion is for and a value
whose stated coverage holds, CSVs with broken quotes, extra fields, `;` separators or no rows, and
`forget`/`invite` mistakes. Every file is a small one made here."""
from __future__ import annotations

import asyncio
import csv
import json
import random
import re
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("sklearn", reason="the trained router needs scikit-learn")
pytest.importorskip("pymorphy3", reason="the trained router needs pymorphy3")

from bot.cli import main  # noqa: E402 - after the skip checks
from routing.evaluation import evaluate, threshold_hint  # noqa: E402
from routing.training import DataError, read_table  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config.yaml"

WORDS = {
    "roads": ["яма", "асфальт", "дорога", "разметка", "обочина", "светофор"],
    "housing": ["отопление", "батарея", "подъезд", "лифт", "крыша", "стояк"],
    "waste": ["мусор", "контейнер", "свалка", "вывоз", "отходы", "площадка"],
}
TOWNS = ["Рыбинск", "Углич", "Тутаев"]


def history(n: int, labels: dict[str, str] | None = None, seed: int = 1) -> list[dict[str, str]]:
    """Rows of id, text, label, town; `labels` renames the three topics (to accounts, say)."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        topic = list(WORDS)[i % 3]
        words = rng.sample(WORDS[topic], 3)
        if rng.random() < 0.2:
            words += rng.sample(WORDS[rng.choice([t for t in WORDS if t != topic])], 2)
        rows.append({"id": str(i), "text": "жалоба: " + " ".join(words),
                     "label": (labels or {}).get(topic, topic), "town": TOWNS[i % 3]})
    return rows


def write_csv(path: Path, rows: list[dict[str, str]], delimiter: str = ",") -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), delimiter=delimiter)
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("model")
    data = write_csv(folder / "train.csv", history(90))
    assert main(["train", "--data", str(data), "--label-column", "label", "--out", str(folder / "m")]) == 0
    return folder / "m"


# ---- 1. classify: not one row could be classified ----------------------------------------------
def test_classify_exits_2_when_not_one_row_can_be_classified(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    cp1251 = tmp_path / "cp1251.csv"
    cp1251.write_bytes(b"id,text\n" + b"".join(f"{i},Яма на дороге у дома {i}\n".encode("cp1251")
                                               for i in range(40)))
    out = tmp_path / "c.jsonl"
    capsys.readouterr()
    assert main(["classify", "--config", str(CONFIG), "--input", str(cp1251), "--output", str(out)]) == 2
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: no row of cp1251.csv could be classified (40 rows")
    assert "not UTF-8" in last and "re-save it as UTF-8" in last
    assert "classified 40 rows" not in err
    assert len(out.read_text(encoding="utf-8").splitlines()) == 40  # the error records are still written

    # one good row among the bad ones: a partial failure is still exit 0, as documented
    mixed = tmp_path / "mixed.csv"
    mixed.write_bytes(cp1251.read_bytes() + "41,Во дворе не вывозят мусор\n".encode())
    capsys.readouterr()
    assert main(["classify", "--config", str(CONFIG), "--input", str(mixed), "--output", str(out)]) == 0
    assert "classified 41 rows: 40 errors" in capsys.readouterr().err


def test_classify_all_rows_without_text_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "in.jsonl"
    empty.write_text('{"id": 1, "text": ""}\n{"id": 2}\n', encoding="utf-8")
    capsys.readouterr()
    assert main(["classify", "--config", str(CONFIG), "--input", str(empty), "--output",
                 str(tmp_path / "o.jsonl")]) == 2
    assert "the rows have no 'text'" in capsys.readouterr().err


# ---- 2. which setting the suggested threshold is for --------------------------------------------
@pytest.mark.parametrize(("labels", "setting"), [
    (None, "routing.min_confidence"),  # roads, housing, waste: category codes, even with a context column
    ({"roads": "adm_rybinsk", "housing": "adm_uglichsky", "waste": "Мэрия города Ярославля"},
     "classifier.account_min_confidence"),  # accounts by code or name
    ({"roads": "alpha", "housing": "beta", "waste": "gamma"}, None),  # neither: the hint names both
])
def test_train_holdout_names_the_setting_by_what_the_labels_are(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                labels: dict[str, str] | None,
                                                                setting: str | None) -> None:
    data = write_csv(tmp_path / "train.csv", history(150, labels))
    capsys.readouterr()
    assert main(["train", "--data", str(data), "--label-column", "label", "--context-column", "town",
                 "--holdout", "0.2", "--target-precision", "0.6", "--config", str(CONFIG),
                 "--out", str(tmp_path / "m")]) == 0
    hint = next(line for line in capsys.readouterr().out.splitlines() if "set the threshold" in line)
    if setting is None:
        assert "routing.min_confidence for a model of categories" in hint
        assert "classifier.account_min_confidence for a model of who answered" in hint
    else:
        assert f"set the threshold ({setting}) to" in hint


def test_evaluate_names_the_setting_for_category_labels(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    predictions = write_csv(tmp_path / "pred.csv", [
        {"label": label, "predicted": label, "confidence": "0.9000"} for label in ("roads", "waste", "housing")])
    capsys.readouterr()
    assert main(["evaluate", "--predictions", str(predictions), "--label-column", "label",
                 "--config", str(CONFIG)]) == 0
    assert "set the threshold (routing.min_confidence) to 0.90" in capsys.readouterr().out


# ---- 3. a suggested value whose stated coverage holds ------------------------------------------
def _predictions(path: Path, scored: list[tuple[float, bool]]) -> Path:
    return write_csv(path, [{"label": "roads", "predicted": "roads" if right else "waste",
                             "confidence": f"{conf:.4f}"} for conf, right in scored])


@pytest.mark.parametrize(("scored", "value", "coverage"), [
    # 0.298 keeps 50%; rounding it up to 0.30 would route 40%: rounded down instead
    ([(0.9, True), (0.8, True), (0.7, True), (0.6, True), (0.298, True),
      (0.2, False), (0.1, False), (0.1, False), (0.1, False), (0.1, False)], "0.29", "50.0%"),
    # 0.29 would let a wrong 0.295 in: a third decimal keeps the coverage
    ([(0.9, True), (0.8, True), (0.7, True), (0.6, True), (0.298, True),
      (0.295, False), (0.1, False), (0.1, False), (0.1, False), (0.1, False)], "0.298", "50.0%"),
])
def test_the_suggested_threshold_routes_the_coverage_it_states(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                               scored: list[tuple[float, bool]], value: str,
                                                               coverage: str) -> None:
    predictions = _predictions(tmp_path / "pred.csv", scored)
    capsys.readouterr()
    assert main(["evaluate", "--predictions", str(predictions), "--label-column", "label"]) == 0
    out = capsys.readouterr().out
    assert "at precision >= 0.95: threshold 0.298, coverage 50.0%" in out
    hint = next(line for line in out.splitlines() if "set the threshold" in line)
    found = re.search(r"to ([0-9.]+): about ([0-9.]+)% of such appeals", hint)
    assert found is not None, hint
    assert (found.group(1), found.group(2) + "%") == (value, coverage)
    routed = [right for conf, right in scored if conf >= float(found.group(1))]  # by hand, at the stated value
    assert f"{len(routed) / len(scored):.1%}" == coverage and sum(routed) / len(routed) >= 0.95


def test_a_rounded_up_suggestion_states_its_own_coverage() -> None:
    # 0.29812 and a wrong 0.29811: no shorter value below keeps the precision, so up, and fewer rows
    confidence = [0.9, 0.8, 0.7, 0.6, 0.29812, 0.29811, 0.1, 0.1, 0.1, 0.1]
    correct = [True] * 5 + [False] * 5
    e = evaluate(["a"] * 10, ["a" if ok else "b" for ok in correct], confidence)
    assert e.target_threshold == 0.29812 and e.target_coverage == 0.5
    hint = threshold_hint(e, "routing.min_confidence")
    assert hint is not None and "to 0.30: about 40.0% of such appeals" in hint and "(4 of these 10 rows" in hint


# ---- 4. broken quotes and extra fields ---------------------------------------------------------
def test_an_unclosed_quote_stops_predict_with_its_line(model: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.csv"
    broken.write_text('id,text,label\n1,"Яма на дороге,roads\n2,Мусор во дворе,waste\n3,Нет отопления,housing\n',
                      encoding="utf-8")
    out = tmp_path / "pred.csv"
    capsys.readouterr()
    assert main(["predict", "--model", str(model), "--data", str(broken), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "line 2: a quoted field there does not close properly" in err and "the end of the file" in err
    assert not out.exists()


def test_a_quote_closed_by_a_later_row_is_caught_too(tmp_path: Path) -> None:
    broken = tmp_path / "broken.csv"
    broken.write_text('id,text,label\n1,"Яма на дороге,roads\n2,"Мусор" во дворе,waste\n3,Свет,power\n',
                      encoding="utf-8")
    with pytest.raises(DataError, match="line 2: .* everything to line 3"):
        read_table(broken, ["text"])


def test_proper_multiline_texts_and_lenient_quotes_still_read(tmp_path: Path) -> None:
    good = tmp_path / "good.csv"
    good.write_text('id,text,label\n1,"Яма\nна дороге, большая",roads\n2,"Он сказал ""нет""",waste\n'
                    '3,Труба 5" в подвале,housing\n', encoding="utf-8")
    table = read_table(good, ["text", "label"])
    assert [r["text"] for r in table.rows] == ["Яма\nна дороге, большая", 'Он сказал "нет"', 'Труба 5" в подвале']
    assert table.notes == []


def test_rows_with_extra_fields_are_named_by_line(model: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "extra.csv"
    data.write_text('id,text,label\n1,"Яма\nна дороге",roads\n2,Мусор, во дворе,waste\n3,Свет,power\n',
                    encoding="utf-8")
    capsys.readouterr()
    assert main(["predict", "--model", str(model), "--data", str(data), "--out", str(tmp_path / "p.csv")]) == 0
    captured = capsys.readouterr()
    assert "note: extra.csv: line 4: more fields than the header's 3" in captured.err
    assert "predicted 3 rows" in captured.out


def test_classify_csv_with_an_unclosed_quote_gets_an_error_record(tmp_path: Path) -> None:
    from bot.config import load_config
    from routing.batch import classify_file

    broken = tmp_path / "in.csv"
    broken.write_text('id,text\n1,Яма на дороге\n2,"Мусор во дворе\n3,Нет света\n4,Нет воды\n', encoding="utf-8")
    out = tmp_path / "out.jsonl"
    summary = classify_file(load_config(CONFIG), broken, out, warn=lambda _: None)
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert records[0]["id"] == "1" and "error" not in records[0]
    assert records[1]["line"] == 3 and "lines 3-5 were read as one text" in records[1]["error"]
    assert summary.rows == 2 and summary.errors == 1


# ---- 5. separators, no rows, a holdout that leaves too little ----------------------------------
@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_semicolon_and_tab_separated_files_are_read(model: Path, tmp_path: Path, delimiter: str) -> None:
    rows = history(9, seed=5)
    rows[0]["text"] = "яма; асфальт, дорога"  # a separator inside a quoted text stays in it
    data = write_csv(tmp_path / "excel.csv", rows, delimiter=delimiter)
    table = read_table(data, ["id", "text", "label"])
    assert table.columns == ["id", "text", "label", "town"] and table.rows[0]["text"] == "яма; асфальт, дорога"
    assert main(["train", "--data", str(data), "--label-column", "label", "--out", str(tmp_path / "m")]) == 0
    out = tmp_path / "pred.csv"
    assert main(["predict", "--model", str(model), "--data", str(data), "--out", str(out)]) == 0
    assert len(read_table(out, ["predicted"]).rows) == 9


def test_classify_reads_a_semicolon_separated_csv(tmp_path: Path) -> None:
    from bot.config import load_config
    from routing.batch import classify_file

    data = tmp_path / "in.csv"
    data.write_text("id;text\n1;В Рыбинске яма на дороге\n", encoding="utf-8")
    summary = classify_file(load_config(CONFIG), data, tmp_path / "out.jsonl", warn=lambda _: None)
    assert summary.rows == 1 and summary.errors == 0


def test_a_file_with_only_a_header_says_no_data_rows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "header.csv"
    data.write_text("id,text,label\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["train", "--data", str(data), "--label-column", "label", "--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert "no data rows" in err and "two different" not in err


def test_a_holdout_that_leaves_too_few_rows_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write_csv(tmp_path / "train.csv", history(12))
    capsys.readouterr()
    assert main(["train", "--data", str(data), "--label-column", "label", "--holdout", "0.99",
                 "--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert re.search(r"holding out 99% leaves only \d+ labelled rows to train on", err), err
    assert "smaller --holdout" in err
    assert not (tmp_path / "m").exists()


# ---- 6. forget and invite ----------------------------------------------------------------------
def test_forget_an_unknown_appeal_number_names_the_appeal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    from storage.db import Database

    url = f"sqlite+aiosqlite:///{tmp_path / 'otklik.sqlite3'}"

    async def create() -> None:
        db = Database(url)
        try:
            await db.upgrade()
        finally:
            await db.dispose()

    asyncio.run(create())
    monkeypatch.setenv("OTKLIK_DATABASE_URL", url)
    capsys.readouterr()
    assert main(["forget", "#99999", "--yes"]) == 1
    assert "no appeal №99999 in the database" in capsys.readouterr().err
    assert main(["forget", "tg:12345", "--yes"]) == 1
    assert "no citizen tg:12345 in the database" in capsys.readouterr().err


def test_invite_suggests_a_close_account_code(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["invite", "adm_rybinks", "--config", str(CONFIG), "--vk"]) == 2
    err = capsys.readouterr().err
    assert "no account 'adm_rybinks' in the config; did you mean 'adm_rybinsk'" in err
    assert "accounts: adm_yaroslavl" in err
    assert main(["invite", "nothing_like_it", "--config", str(CONFIG), "--vk"]) == 2
    assert "did you mean" not in capsys.readouterr().err


@pytest.mark.parametrize("ttl", ["100000d", "91d", "13w", "99999999999d"])
def test_invite_refuses_a_lifetime_over_90_days(ttl: str, capsys: pytest.CaptureFixture[str],
                                                monkeypatch: Any, tmp_path: Path) -> None:
    monkeypatch.setenv("OTKLIK_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'none.sqlite3'}")
    assert main(["invite", "adm_rybinsk", "--config", str(CONFIG), "--vk", "--ttl", ttl]) == 2
    assert f"--ttl {ttl}: too long; a code works at most 90 days" in capsys.readouterr().err
    assert not (tmp_path / "none.sqlite3").exists()  # refused before any code was stored
