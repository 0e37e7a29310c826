"""Logs at INFO and above carry no message texts, no names and no tokens: a whole round trip (with
the Bot API failing now and then, so the retry paths log too) captured at DEBUG, every INFO+ record
read in full, tracebacks included. Plus the two safety nets: the database never puts statement
parameters into its errors, and the CLI's handlers blank tokens whatever logs them."""
from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import text

from bot.config import OtklikConfig
from bot.logsafety import REDACTED, RedactSecrets
from bot.sandbox import prepare_world
from bot.standin.telegram import TelegramStandin
from storage.db import Database
from tests.conftest import CITIZEN, OFFICIAL, OPERATOR, ROOT, Stand, appeal_number, body

TOKEN = "7000000001:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1"
APPEAL = "В Рыбинске на улице Крестовой огромная яма на дороге, машины бьют колёса, секретное-слово-жителя"
PHOTO_CAPTION = "фото-подпись-жителя у подъезда"
ANSWER = "Ответ-чиновника: яму заделаем до пятницы, бригада выехала"
REASON = "причина-отказа-чиновника: федеральная трасса"
SECOND = "В Рыбинске на улице Ломоносова огромная яма на дороге, второе-секретное-слово"
NAME = "Мария"


@pytest.fixture
def config(config: OtklikConfig) -> OtklikConfig:
    return config.model_copy(update={"delivery": config.delivery.model_copy(update={"rate_limits": False})})


@pytest.fixture
async def token_stand(config: OtklikConfig, database_url: str) -> AsyncIterator[Stand]:
    """The usual stand, with a token of Telegram's real shape (so a leak can't hide as a short word)."""
    standin = TelegramStandin(token=TOKEN, bot_id=7000000001)
    await standin.start()
    prepare_world(standin, config)
    stand = Stand(standin, config, database_url)
    await stand.start()
    try:
        yield stand
    finally:
        await stand.stop()
        await standin.stop()


def full_text(record: logging.LogRecord) -> str:
    parts = [record.getMessage()]
    if record.exc_info:
        parts.append(logging.Formatter().formatException(record.exc_info))
    if record.exc_text:
        parts.append(record.exc_text)
    if record.stack_info:
        parts.append(record.stack_info)
    return "\n".join(parts)


async def test_a_round_trip_logs_no_text_name_or_token_at_info(
    token_stand: Stand, caplog: pytest.LogCaptureFixture
) -> None:
    s = token_stand
    caplog.set_level(logging.DEBUG)
    await s.stop()  # started again under the capture: its start-up lines are read too
    await s.start()
    # a share of sends fail with 500: the outbox's retry warnings are part of what is read
    s.tg.inject_faults(0.3, kinds=("500",), methods={"sendMessage", "editMessageText", "sendPhoto"})
    s.citizen_says("/start")
    await s.wait(CITIZEN, "152-ФЗ")
    s.citizen_says(APPEAL)
    number = appeal_number(await s.wait(CITIZEN, "принято"))
    chat = s.chat("adm_rybinsk")
    card = await s.wait(chat, f"№{number}")
    s.citizen_says(PHOTO_CAPTION, photo=True)
    await s.wait(chat, "Дополнение")
    s.citizen_says(location=(58.0481, 38.8584))
    s.official_replies(chat, card["message_id"], ANSWER)
    answer = await s.wait(CITIZEN, "Ответ по обращению")
    s.tg.inject_faults(0.0)  # enough retries seen; the rest goes without the backoff's waits
    s.press(CITIZEN, answer, f"rate:{number}:no", user=CITIZEN)
    await s.wait(CITIZEN, "снова открыто")
    s.press(chat, card, "reject:", user=OFFICIAL)
    prompt = await s.wait(chat, "причину")
    s.official_replies(chat, prompt["message_id"], REASON)
    triage_card = await s.wait(s.triage, f"№{number}")
    s.press(s.triage, triage_card, f"route:{number}:adm_rybinsky", user=OPERATOR)
    await s.wait(s.chat("adm_rybinsky"), f"№{number}")
    s.citizen_says("/new")
    await s.wait(CITIZEN, "новую проблему")
    s.citizen_says(SECOND)
    await s.wait(CITIZEN, "принято", count=2)
    s.citizen_says("/my")
    await s.wait(CITIZEN, "Ваши обращения")
    await s.idle(timeout=20)
    assert s.tg.faults, "no fault was injected: the retry paths were not exercised"

    loud = [r for r in caplog.records if r.levelno >= logging.INFO]
    assert any("started" in r.getMessage() for r in loud)  # the capture works
    assert any(r.levelno >= logging.WARNING and r.name.startswith("bot.outbox") for r in loud)
    secret_part = TOKEN.split(":", 1)[1]
    forbidden = (APPEAL, "секретное-слово-жителя", PHOTO_CAPTION, ANSWER, "Ответ-чиновника", REASON,
                 "причина-отказа", SECOND, "второе-секретное-слово", NAME, TOKEN, secret_part)
    leaks = [(r.name, r.levelname, word, full_text(r)[:200]) for r in loud for word in forbidden
             if word in full_text(r)]
    assert leaks == []


async def test_database_errors_do_not_carry_the_parameters(database_url: str) -> None:
    db = Database(database_url)
    await db.upgrade()
    try:
        with pytest.raises(Exception) as caught:
            async with db.transaction() as s:
                # a citizen's text as a parameter of a statement that fails (no such column)
                await s.execute(text("insert into citizens (no_such_column) values (:t)"), {"t": APPEAL})
        assert APPEAL not in str(caught.value) and "секретное" not in str(caught.value)
    finally:
        await db.dispose()


def record(msg: str, *args: Any, exc: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc is not None else None
    return logging.LogRecord("x", logging.ERROR, __file__, 1, msg, args, exc_info)


def test_the_filter_blanks_tokens_in_messages_arguments_and_tracebacks() -> None:
    redactor = RedactSecrets([TOKEN, "vk1.a.secretvktoken_abcdef", None, "short"])
    r = record("GET http://api/bot%s/getMe failed", TOKEN)
    assert redactor.filter(r) and TOKEN not in r.getMessage() and REDACTED in r.getMessage()
    r = record("vk says %s", "access_token=vk1.a.secretvktoken_abcdef")
    redactor.filter(r)
    assert "secretvktoken" not in r.getMessage()
    # a token of Telegram's shape that nobody configured is blanked too
    other = "123456789:AAFakeButTokenShapedSecretValue_0123456"
    r = record("%s", f"url=https://api.telegram.org/bot{other}/sendMessage")
    redactor.filter(r)
    assert other not in r.getMessage()
    try:
        raise RuntimeError(f"ClientError for https://api.telegram.org/bot{TOKEN}/getUpdates")
    except RuntimeError as exc:
        r = record("polling failed", exc=exc)
    redactor.filter(r)
    assert TOKEN not in logging.Formatter().format(r) and REDACTED in (r.exc_text or "")
    # ordinary words are left alone (a short configured value is not treated as a secret)
    r = record("short message about a short word")
    redactor.filter(r)
    assert r.getMessage() == "short message about a short word"


def test_the_cli_installs_the_filter_on_its_handlers() -> None:
    script = (
        "import logging, os\n"
        "from bot.cli import _setup_logging\n"
        "_setup_logging('INFO')\n"
        "t = os.environ['OTKLIK_TELEGRAM_TOKEN']\n"
        "logging.getLogger('aiohttp.client').warning('request to https://api.telegram.org/bot%s/getMe', t)\n"
        "logging.getLogger('aiohttp.access').info('GET /bot%s/getUpdates 200', t)\n"
        "try:\n"
        "    raise ValueError(f'bad url https://api.telegram.org/bot{t}/x')\n"
        "except ValueError:\n"
        "    logging.getLogger('bot.app').exception('failed')\n"
    )
    env = {**os.environ, "OTKLIK_TELEGRAM_TOKEN": TOKEN, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert TOKEN not in done.stderr and TOKEN.split(":")[1] not in done.stderr
    assert done.stderr.count(REDACTED) >= 2 and "GET /bot" not in done.stderr  # the access line is not shown
    assert body({"text": "x"}) == "x"
