"""`otklik report` and `otklik routing-report` only read the database, and `otklik forget` must not
answer «no such citizen» about a database that is not there: pointed at an SQLite file that is
not there they stop with an error naming the path (exit 2) and create nothing; on an existing database
they report as before (the workbook itself: tests/test_reports.py)."""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.cli import main as cli_main
from storage.db import Database, NoDatabaseError

ROOT = Path(__file__).resolve().parents[1]
CONFIG = str(ROOT / "config.yaml")
WEEK = "2026-W47"


@pytest.mark.parametrize("command", [["report", "--out", "w47.xlsx", "--period", WEEK, "--config", CONFIG],
                                     ["routing-report", "--period", WEEK, "--config", CONFIG],
                                     ["forget", "tg:1001", "--yes"]])
def test_a_missing_sqlite_database_is_an_error_naming_it(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "elsewhere" / "otklik.sqlite3"
    monkeypatch.setenv("OTKLIK_DATABASE_URL", f"sqlite+aiosqlite:///{missing}")
    monkeypatch.chdir(tmp_path)
    assert cli_main(command) == 2
    captured = capsys.readouterr()
    [line] = captured.err.splitlines()
    assert line.startswith(f"error: no database at {missing} — ") and "OTKLIK_DATABASE_URL" in line
    assert captured.out == ""
    assert list(tmp_path.iterdir()) == []  # no database, not even its folder, and no workbook


def test_the_default_database_is_named_with_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("OTKLIK_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    assert cli_main(["routing-report", "--period", WEEK, "--config", CONFIG]) == 2
    assert f"no database at data/otklik.sqlite3 in {tmp_path} — " in capsys.readouterr().err
    assert not (tmp_path / "data").exists()


def test_routing_report_reads_an_existing_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'otklik.sqlite3'}"

    async def create() -> None:
        db = Database(url)
        await db.upgrade()
        await db.dispose()

    asyncio.run(create())
    monkeypatch.setenv("OTKLIK_DATABASE_URL", url)
    assert cli_main(["routing-report", "--period", WEEK, "--config", CONFIG]) == 0
    assert capsys.readouterr().out.strip()


@pytest.mark.parametrize("url", ["sqlite+aiosqlite://", "sqlite+aiosqlite:///:memory:",
                                 "postgresql+asyncpg://otklik@localhost/otklik"])
def test_only_sqlite_files_are_checked(url: str) -> None:
    asyncio.run(Database(url, must_exist=True).dispose())


def test_commands_that_create_the_database_still_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    new = tmp_path / "new" / "otklik.sqlite3"
    monkeypatch.setenv("OTKLIK_DATABASE_URL", f"sqlite+aiosqlite:///{new}")
    assert cli_main(["db", "upgrade"]) == 0
    assert new.is_file()
    with pytest.raises(NoDatabaseError):
        Database(f"sqlite+aiosqlite:///{tmp_path / 'other.sqlite3'}", must_exist=True)


def test_forget_at_a_terminal_names_the_citizen_before_asking(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from datetime import UTC, datetime

    from storage.models import Citizen

    asked: list[str] = []
    answers = iter(["no"])
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: asked.append(prompt) or next(answers))
    # a database that is not there is said before any question
    monkeypatch.setenv("OTKLIK_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'missing.sqlite3'}")
    assert cli_main(["forget", "tg:1001"]) == 2
    assert asked == [] and "no database at" in capsys.readouterr().err

    url = f"sqlite+aiosqlite:///{tmp_path / 'otklik.sqlite3'}"

    async def create() -> None:
        db = Database(url)
        await db.upgrade()
        async with db.transaction() as s:
            s.add(Citizen(platform="tg", platform_user_id="1001", chat_id="1001", display_name="Мария",
                          created_at=datetime.now(UTC)))
        await db.dispose()

    async def names() -> list[str | None]:
        from sqlalchemy import select
        db = Database(url)
        async with db.transaction() as s:
            found = list((await s.execute(select(Citizen.display_name))).scalars())
        await db.dispose()
        return found

    asyncio.run(create())
    monkeypatch.setenv("OTKLIK_DATABASE_URL", url)
    assert cli_main(["forget", "tg:999"]) == 1  # nobody to erase: not asked about
    assert asked == [] and "no citizen tg:999" in capsys.readouterr().err
    assert cli_main(["forget", "tg:1001"]) == 1  # answered «no»
    assert len(asked) == 1 and "tg:1001 «Мария», 0 appeal(s)" in asked[0]
    assert "nothing erased" in capsys.readouterr().err and asyncio.run(names()) == ["Мария"]
