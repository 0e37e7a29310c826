"""What an admin sees when a deployment is set up wrong: one line saying what to fix and exit 2,
never a traceback — a revoked token, an unreachable API, a database address without an asyncio
driver, a config saved in cp1251 or holding an impossible date, two time zones, a model whose labels
are partly not category codes. The Telegram and VK sides run against the project's stand-ins."""
from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

import pytest

from bot.cli import main as otklik
from bot.config import ConfigError, load_config
from bot.standin.telegram import TelegramStandin
from bot.standin.vk import VkStandin
from storage.db import DatabaseUrlError, checked_url

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "config.yaml"
CALENDAR_ZONE = "  timezone: Europe/Moscow        # must equal region.timezone (or leave it out: it follows the region)"


def shipped_text() -> str:
    return SHIPPED.read_text(encoding="utf-8")


def clean_env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTKLIK_")}
    return {**env, "OTKLIK_LOG_LEVEL": "WARNING", **values}


async def run_cli(*args: str, env: dict[str, str]) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 90)
    assert proc.returncode is not None
    return proc.returncode, out.decode(errors="replace")


# --- the database address -------------------------------------------------------------------------


@pytest.mark.parametrize(("url", "says"), [
    ("postgresql://u:secretpw@db/otklik", "write postgresql+asyncpg://"),
    ("sqlite:////tmp/otklik.sqlite3", "write sqlite+aiosqlite://"),
    ("/var/lib/otklik/otklik.sqlite3", "not a URL"),
    ("mysql+aiomysql://u@db/otklik", "SQLite or PostgreSQL"),
])
def test_a_database_address_the_bot_cannot_use_says_what_to_write(url: str, says: str) -> None:
    with pytest.raises(DatabaseUrlError, match=re.escape(says)) as caught:
        checked_url(url)
    assert "secretpw" not in str(caught.value)


def test_the_usable_database_addresses_pass() -> None:
    for url in ("sqlite+aiosqlite:///data/otklik.sqlite3", "sqlite+aiosqlite://",
                "postgresql+asyncpg://u:pw@127.0.0.1:5432/test"):
        assert checked_url(url).drivername in ("sqlite+aiosqlite", "postgresql+asyncpg")


def test_status_with_a_sync_database_address_exits_2_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OTKLIK_DATABASE_URL", "postgresql://u:secretpw@db/otklik")
    assert otklik(["status", "--config", str(SHIPPED)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: OTKLIK_DATABASE_URL:") and "Traceback" not in err and "secretpw" not in err


# --- the bot token and the platforms at start --------------------------------------------------------


@pytest.mark.parametrize("token", ['"7000000001:AAHdqTcvCH1vGWJxfSe"', "bot7000000001:AAHdqTcvCH1vGWJxfSe", "abc"])
def test_a_malformed_token_is_refused_before_anything_starts(
    token: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("OTKLIK_TELEGRAM_TOKEN", token)
    monkeypatch.setenv("OTKLIK_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/otklik.sqlite3")
    assert otklik(["run", "--config", str(SHIPPED)]) == 2
    err = capsys.readouterr().err
    assert "not a bot token" in err and "without quotes" in err
    assert "AAHdqTcvCH1vGWJxfSe" not in err
    assert not (tmp_path / "otklik.sqlite3").exists()  # refused before the database was touched


async def test_a_token_telegram_refuses_ends_the_start_with_one_line(tmp_path: Path) -> None:
    standin = TelegramStandin()
    await standin.start()
    try:
        code, out = await run_cli("run", "--config", str(SHIPPED), env=clean_env(
            OTKLIK_TELEGRAM_TOKEN="7000000001:AAHrevokedrevokedrevoked",
            OTKLIK_TELEGRAM_API_URL=standin.base_url,
            OTKLIK_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/otklik.sqlite3",
        ))
    finally:
        await standin.stop()
    assert code == 2, out
    assert "error: Telegram refused the bot token (401 Unauthorized)" in out and "@BotFather" in out
    assert "Traceback" not in out and "Unclosed" not in out
    assert "AAHrevoked" not in out


async def test_an_unreachable_bot_api_ends_the_start_with_one_line(tmp_path: Path) -> None:
    # a port nothing listens on: the connection is refused at once
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    code, out = await run_cli("run", "--config", str(SHIPPED), env=clean_env(
        OTKLIK_TELEGRAM_TOKEN="7000000001:AAHdqTcvCH1vGWJxfSe",
        OTKLIK_TELEGRAM_API_URL=f"http://127.0.0.1:{port}",
        OTKLIK_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/otklik.sqlite3",
    ))
    assert code == 2, out
    assert f"error: cannot reach the Telegram Bot API at http://127.0.0.1:{port}" in out
    assert "Traceback" not in out and "Unclosed" not in out


async def test_a_vk_token_vk_refuses_ends_the_start_with_one_line(tmp_path: Path) -> None:
    telegram, vk = TelegramStandin(), VkStandin()
    await telegram.start()
    await vk.start()
    config = tmp_path / "config.yaml"
    config.write_text(shipped_text() + f"\nvk:\n  group_id: {vk.group_id}\n", encoding="utf-8")
    try:
        code, out = await run_cli("run", "--config", str(config), env=clean_env(
            OTKLIK_TELEGRAM_TOKEN=telegram.token, OTKLIK_TELEGRAM_API_URL=telegram.base_url,
            OTKLIK_VK_TOKEN="vk1.a.revoked", OTKLIK_VK_API_URL=vk.base_url,
            OTKLIK_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/otklik.sqlite3",
        ))
    finally:
        await vk.stop()
        await telegram.stop()
    assert code == 2, out
    assert "error: VK refused OTKLIK_VK_TOKEN (error 5" in out
    assert "Traceback" not in out and "Unclosed" not in out and "vk1.a.revoked" not in out


# --- the config file ---------------------------------------------------------------------------------


def test_a_config_saved_in_cp1251_says_to_save_it_as_utf8(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes("region:\n  name: Ярославская область\n".encode("cp1251"))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    [problem] = caught.value.problems
    assert "not UTF-8" in str(caught.value) and problem.line == 2 and "UTF-8" in problem.message


def test_an_impossible_date_is_named_with_its_line(tmp_path: Path) -> None:
    text = shipped_text().replace("\ncalendar:\n", "\ncalendar:\n  extra_holidays: [2026-05-04, 2026-02-30]\n", 1)
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    [problem] = caught.value.problems
    assert problem.path == "calendar.extra_holidays[1]" and "2026-02-30: no such date" in problem.message
    assert problem.line == text.splitlines().index("  extra_holidays: [2026-05-04, 2026-02-30]") + 1


def test_a_calendar_in_another_time_zone_than_the_region_is_refused(tmp_path: Path) -> None:
    assert CALENDAR_ZONE in shipped_text()
    path = tmp_path / "config.yaml"
    path.write_text(shipped_text().replace(
        CALENDAR_ZONE, "  timezone: Europe/Samara"), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    [problem] = caught.value.problems
    assert problem.path == "calendar.timezone" and "differs from region.timezone (Europe/Moscow)" in problem.message


def test_a_calendar_without_a_time_zone_counts_in_the_regions(tmp_path: Path) -> None:
    text = shipped_text().replace(CALENDAR_ZONE + "\n", "")
    text = text.replace("  timezone: Europe/Moscow", "  timezone: Asia/Yekaterinburg", 1)  # region's
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    config = load_config(path)
    assert config.region.timezone == config.calendar.timezone == "Asia/Yekaterinburg"


def test_check_config_takes_the_file_as_its_argument(capsys: pytest.CaptureFixture[str]) -> None:
    # the shipped config's header says: otklik check-config config.yaml
    assert "otklik check-config config.yaml" in shipped_text()
    assert otklik(["check-config", str(SHIPPED)]) == 0
    assert capsys.readouterr().out.startswith("Region: Ярославская область")


def test_a_group_chat_id_without_its_minus_is_warned_about(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    text = shipped_text()
    assert "telegram_chat: -1001000000105" in text
    path = tmp_path / "config.yaml"
    path.write_text(text.replace("telegram_chat: -1001000000105", "telegram_chat: 1001000000105"), encoding="utf-8")
    assert otklik(["check-config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "WARNING: positive Telegram chat ids are people's private chats" in out and " 1001000000105" in out
    assert otklik(["check-config", str(SHIPPED)]) == 0
    assert "positive Telegram chat ids" not in capsys.readouterr().out


def test_a_model_whose_labels_are_partly_not_category_codes_is_refused(tmp_path: Path) -> None:
    from routing.topics import TopicModel

    texts = ["яма на дороге", "асфальт разбит", "нет горячей воды", "течёт крыша", "мусор не вывезли",
             "контейнеры переполнены", "в поликлинику не записаться", "нет врача", "автобус не пришёл",
             "маршрутка не ходит"]
    labels = ["Дороги", "Дороги", "ЖКХ", "ЖКХ", "waste", "waste", "health", "health", "transport", "transport"]
    model = TopicModel()
    model.fit(texts * 3, labels * 3)
    model.save(tmp_path / "model")
    text = shipped_text()
    assert "\nclassifier:\n" in text
    path = tmp_path / "config.yaml"
    path.write_text(text.replace("\nclassifier:\n", "\nclassifier:\n  model_path: model\n", 1), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = "\n".join(p.message for p in caught.value.problems)
    assert "2 of the model's 5 labels are not category codes" in message
    assert "'Дороги'" in message and "'ЖКХ'" in message and "'waste'" not in message
