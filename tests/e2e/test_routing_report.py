"""The router's production figures from a live run: the real bot routes one appeal that its account
refuses and sends an unsure one to triage; operators route both; `otklik routing-report`, the
workbook's «Маршрутизация» sheet and /routing in the supervisors' chat count what happened."""
from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from bot import reports
from bot.cli import main as cli_main
from routing.periods import parse_period
from tests.conftest import CITIZEN, CITIZEN2, OFFICIAL, OPERATOR, Stand, appeal_number, body
from tests.e2e.test_trained_router import MIDWIFE

POTHOLE = "В Рыбинске на улице Крестовой огромная яма на дороге, машины бьют колёса"


async def test_refusals_and_triage_are_counted(stand: Stand, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    # 1: the bot routes it; the account refuses; an operator picks another account
    stand.citizen_says(POTHOLE)
    number = appeal_number(await stand.wait(CITIZEN, "принято"))
    triage_card = await stand.refuse("adm_rybinsk", number, "Это федеральная трасса, не наша дорога")
    stand.press(stand.triage, triage_card, f"route:{number}:adm_rybinsky", user=OPERATOR)
    await stand.wait(stand.chat("adm_rybinsky"), f"№{number}")

    # 2: the bot is unsure of the category: the operators route it
    stand.citizen_says(MIDWIFE, user=CITIZEN2)
    second = appeal_number(await stand.wait(CITIZEN2, "принято"))
    card2 = await stand.wait(stand.triage, f"№{second}")
    stand.press(stand.triage, card2, f"route:{second}:min_health", user=OPERATOR)
    await stand.wait(stand.chat("min_health"), f"№{second}")
    await stand.idle()

    tz = ZoneInfo(stand.config.region.timezone)
    today = datetime.now(tz).date()
    period = f"{today - timedelta(days=1)}..{today + timedelta(days=1)}"
    monkeypatch.setenv("OTKLIK_DATABASE_URL", stand.database_url)
    code = await asyncio.to_thread(cli_main, ["routing-report", "--period", period, "--config",
                                              str(stand.config.config_dir / "config.yaml")])
    assert code == 0
    printed = capsys.readouterr().out
    assert "Обращений: 2" in printed
    assert "бот направил сам: 1 (50,0%)" in printed
    assert "передано в ЦУР на разбор: 1 (50,0%), из них бот не уверен в теме: 1" in printed
    assert "после направления ботом: 1 (100,0% направленных ботом)" in printed
    assert "Разобрано операторами: 2" in printed and "ждут разбора сейчас: 0" in printed

    assert stand.app is not None
    data = await reports.collect(stand.app.db, stand.config, parse_period(period, tz), datetime.now(UTC))
    out = reports.write_xlsx(data, stand.config, tmp_path / "report.xlsx")
    sheet = load_workbook(out)["Маршрутизация"]
    header = [c.value for c in sheet[3]]  # under the note
    region = next(row for row in sheet.iter_rows(values_only=True) if row[0] == "Вся область")
    figures = dict(zip(header, region, strict=True))
    assert (figures["Обращений"], figures["Бот направил сам"], figures["В ЦУР на разбор"]) == (2, 1, 1)
    assert (figures["Вернули после бота"], figures["Разобрано операторами"]) == (1, 2)

    # the same figures in the supervisors' chat, as text, for the last seven days
    chat = stand.config.supervisors.telegram_chat
    assert chat is not None
    stand.tg.set_member(chat, OPERATOR)
    stand.tg.user_sends(chat, OPERATOR, "/routing")
    reply = await stand.wait(chat, "Маршрутизация")
    assert "Обращений: 2" in body(reply) and "после направления ботом: 1 (100,0% направленных ботом)" in body(reply)
    assert "Дороги" in body(reply) and "Администрация городского округа город Рыбинск" in body(reply)
    stand.tg.user_sends(stand.chat("adm_rybinsk"), OFFICIAL, "/routing")
    await stand.wait(stand.chat("adm_rybinsk"), "только в чате кураторов")
