"""The held-out Ярославская область sets (benchmarks/data/) are well-formed. Not an accuracy test:
the figures come from benchmarks/yaroslavl_accuracy.py."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.config import load_config

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "benchmarks" / "data"
SETS = {"dev": DATA / "yaroslavl_dev.jsonl", "test": DATA / "yaroslavl_test.jsonl"}
KEYS = {"id", "text", "category", "municipality", "municipality_alternatives", "note"}


def _rows(path: Path) -> list[dict]:
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:  # pragma: no cover - the message is the point
            pytest.fail(f"{path.name}:{n}: not valid JSON: {exc}")
        assert isinstance(row, dict), f"{path.name}:{n}: not an object"
        rows.append(row)
    return rows


@pytest.fixture(scope="module")
def codes() -> tuple[set[str], set[str]]:
    config = load_config(ROOT / "config.yaml")
    return {c.code for c in config.categories}, {m.code for m in config.municipalities}


@pytest.mark.parametrize("name", sorted(SETS))
def test_rows_are_valid(name: str, codes: tuple[set[str], set[str]]) -> None:
    categories, municipalities = codes
    rows = _rows(SETS[name])
    assert len(rows) >= 250
    for row in rows:
        where = f"{name} {row.get('id')}"
        assert set(row) <= KEYS, f"{where}: unknown keys {set(row) - KEYS}"
        assert isinstance(row.get("id"), str) and row["id"], where
        assert isinstance(row.get("text"), str) and row["text"].strip(), where
        assert row.get("category") in categories, f"{where}: category {row.get('category')!r}"
        assert "municipality" in row, where
        assert row["municipality"] is None or row["municipality"] in municipalities, \
            f"{where}: municipality {row['municipality']!r}"
        alternatives = row.get("municipality_alternatives", [])
        assert isinstance(alternatives, list), where
        for alt in alternatives:
            assert alt is None or alt in municipalities, f"{where}: alternative {alt!r}"
        assert row["municipality"] not in alternatives, f"{where}: the expected answer repeated as an alternative"
    # every category is covered
    assert {r["category"] for r in rows} == categories


def test_ids_unique_across_sets() -> None:
    ids = [r["id"] for path in SETS.values() for r in _rows(path)]
    assert len(ids) == len(set(ids)), sorted(i for i in set(ids) if ids.count(i) > 1)


def _norm(text: str) -> str:
    return " ".join(text.lower().replace("ё", "е").split())


def test_no_text_shared() -> None:
    dev = [_norm(r["text"]) for r in _rows(SETS["dev"])]
    test = [_norm(r["text"]) for r in _rows(SETS["test"])]
    assert len(dev) == len(set(dev)), "a text repeated within dev"
    assert len(test) == len(set(test)), "a text repeated within test"
    assert not set(dev) & set(test), sorted(set(dev) & set(test))
