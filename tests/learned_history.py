"""A small made-up history export for the learnt-routing tests: who answered what, per town.

In Ярославль a housing company («ООО «УК Заволжье»», an account only the tests' config has)
answered about roofs, entrances and lifts, and the mayor's office about roads; in Рыбинск the
town administration answered both. An export names bodies its own way («Мэрия г. Ярославля»,
«ООО «УК Заволжье»»), and the municipality column has the towns' short names.
"""
from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import ROOT

UK_CODE = "uk_zavolzhye"
UK_NAME = "ООО «УК Заволжье»"
UK_CHAT = -1001000000999
MAYOR_EXPORT_NAME = "Мэрия г. Ярославля"  # what the export calls the account adm_yaroslavl
RYBINSK_EXPORT_NAME = "Администрация городского округа город Рыбинск"  # the account's own name
GONE_BODY = "МУП «Горсвет» (ликвидировано)"  # a body in the history the config has no account for

_HOUSE = ["течёт крыша в подъезде", "не работает лифт", "в подъезде грязно, не убирают", "протекает кровля",
          "сломана дверь в подъезд", "в подвале вода, сырость", "лифт застревает между этажами",
          "с крыши капает на лестницу", "не убирают подъезд месяц", "разбито окно в подъезде"]
_ROAD = ["яма на дороге", "разбитый асфальт на проезжей части", "не чистят дорогу от снега", "огромные ямы на улице",
         "дорогу не ремонтируют", "провал асфальта на перекрёстке", "колея на дороге, машины бьются",
         "не убран снег с проезжей части", "нужен ремонт дороги", "лужа на всю дорогу, ямы"]
_LIGHT = ["не горят фонари во дворе", "темно, нет уличного освещения"]
_ENDINGS = ["", " уже неделю", ", примите меры", ". Сколько можно?", " второй месяц"]


CRB_CODE = "crb_myshkin"
CRB_NAME = "ГУЗ ЯО Мышкинская ЦРБ"
CRB_CHAT = -1001000000998
_HEALTH = ["нет записи к терапевту", "в поликлинике очереди", "фельдшер не приходит", "не выписывают лекарства",
           "в больнице нет врача", "скорая едет два часа", "закрыли ФАП в деревне", "нет педиатра в поликлинике",
           "акушерка бывает редко", "врач приезжает раз в месяц"]


def history_rows(health: bool = False) -> list[dict[str, str]]:
    """The export; with `health`, also the Мышкин hospital's answers about health care there."""
    rows = []
    for n, ending in enumerate(_ENDINGS):
        for i, text in enumerate(_HOUSE):
            rows.append({"text": text + ending, "town": "Ярославль", "executor": UK_NAME, "n": f"{n}-{i}h"})
            rows.append({"text": text + ending, "town": "Рыбинск", "executor": RYBINSK_EXPORT_NAME, "n": f"{n}-{i}hr"})
        for i, text in enumerate(_ROAD):
            rows.append({"text": text + ending, "town": "Ярославль", "executor": MAYOR_EXPORT_NAME, "n": f"{n}-{i}r"})
            rows.append({"text": text + ending, "town": "Рыбинск", "executor": RYBINSK_EXPORT_NAME, "n": f"{n}-{i}rr"})
        for i, text in enumerate(_LIGHT):
            rows.append({"text": text + ending, "town": "Ярославль", "executor": GONE_BODY, "n": f"{n}-{i}l"})
        for i, text in enumerate(_HEALTH if health else []):
            rows.append({"text": text + ending, "town": "Мышкин", "executor": CRB_NAME, "n": f"{n}-{i}m"})
            rows.append({"text": _HOUSE[i] + ending, "town": "Мышкин", "executor": "Администрация Мышкинского муниципального округа", "n": f"{n}-{i}mh"})
    return rows


def write_history(path: Path, health: bool = False) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["n", "text", "town", "executor"])
        writer.writeheader()
        writer.writerows(history_rows(health))
    return path


def train_history_model(folder: Path, health: bool = False) -> Path:
    """What `otklik train --label-column executor --context-column town` does with the export."""
    from routing.training import read_table, train_from_table

    data = write_history(folder / "history.csv", health)
    model, _ = train_from_table(read_table(data, ["text", "executor", "town"]), "text", "executor", "town")
    return model.save(folder / "executors")


def config_with_history(folder: Path, model: Path | None, *, min_confidence: float | None = None,
                        history_names: bool = True, edit: Callable[[dict[str, Any]], None] | None = None) -> Path:
    """The shipped config with the housing company's and the hospital's accounts, adm_yaroslavl's
    export name and the account model (by its name when it lies in `folder`, so relative paths are
    checked as a user's would be), then `edit` applied to the YAML's data; written to folder/config.yaml."""
    data = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    data["accounts"].append({"code": UK_CODE, "name": UK_NAME, "telegram_chat": UK_CHAT})
    data["accounts"].append({"code": CRB_CODE, "name": CRB_NAME, "telegram_chat": CRB_CHAT})
    if history_names:
        for account in data["accounts"]:
            if account["code"] == "adm_yaroslavl":
                account["history_names"] = [MAYOR_EXPORT_NAME]
    classifier = data.setdefault("classifier", {})
    if model is not None:
        classifier["account_model"] = model.name if model.parent == folder else str(model)
    if min_confidence is not None:
        classifier["account_min_confidence"] = min_confidence
    if edit is not None:
        edit(data)
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path
