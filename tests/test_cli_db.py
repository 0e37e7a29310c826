"""`otklik db backup`: a checked, self-contained copy of the SQLite database, taken while a writer
keeps changes in the write-ahead log (which a plain copy of the main file would miss)."""
from __future__ import annotations

import asyncio
import contextlib
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.cli import main as cli_main
from storage.db import Database
from storage.models import Citizen


def make_database(path: Path, citizens: int) -> str:
    url = f"sqlite+aiosqlite:///{path}"

    async def create() -> None:
        db = Database(url)
        await db.upgrade()
        async with db.transaction() as s:
            for n in range(citizens):
                s.add(Citizen(platform="tg", platform_user_id=str(n), chat_id=str(n), display_name=f"Житель {n}",
                              created_at=datetime.now(UTC)))
        await db.dispose()

    asyncio.run(create())
    return url


def citizens_in(path: Path) -> int:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return int(conn.execute("select count(*) from citizens").fetchone()[0])


def test_backup_copies_what_is_still_in_the_write_ahead_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "otklik.sqlite3"
    monkeypatch.setenv("OTKLIK_DATABASE_URL", make_database(source, 3))
    # a running bot: its connection stays open and its last commits sit in the -wal file
    writer = sqlite3.connect(source)
    try:
        writer.execute("PRAGMA wal_autocheckpoint=0")
        writer.executemany("insert into citizens (platform, platform_user_id, chat_id, created_at) "
                           "values ('vk', ?, ?, '2026-12-06 10:00:00.000000')",
                           [(str(n), str(n)) for n in range(100, 140)])
        writer.commit()
        assert (tmp_path / "otklik.sqlite3-wal").stat().st_size > 0
        naive = tmp_path / "naive-copy.sqlite3"
        shutil.copyfile(source, naive)  # what `cp` of the main file gets: the log's rows are not in it
        assert citizens_in(naive) < 43

        target = tmp_path / "backups" / "otklik-copy.sqlite3"
        assert cli_main(["db", "backup", str(target)]) == 0
        printed = capsys.readouterr().out
        assert "integrity ok" in printed and "citizens 43" in printed
        assert citizens_in(target) == 43
        assert not (tmp_path / "backups" / "otklik-copy.sqlite3-wal").exists()  # one self-contained file
        assert [p.name for p in target.parent.iterdir()] == ["otklik-copy.sqlite3"]  # no partial file left

        # the bot's database is untouched and still writable by the bot
        writer.execute("insert into citizens (platform, platform_user_id, chat_id, created_at) "
                       "values ('vk', 'after', 'after', '2026-12-06 10:00:00.000000')")
        writer.commit()
    finally:
        writer.close()
    assert citizens_in(source) == 44 and citizens_in(target) == 43

    # an existing file is not overwritten without --force; with it, it is
    assert cli_main(["db", "backup", str(target)]) == 2
    assert "--force" in capsys.readouterr().err and citizens_in(target) == 43
    assert cli_main(["db", "backup", str(target), "--force"]) == 0
    assert citizens_in(target) == 44
    assert cli_main(["db", "backup", str(source), "--force"]) == 2  # never onto the database itself
    assert citizens_in(source) == 44


def test_backup_refuses_what_it_cannot_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere" / "otklik.sqlite3"
    monkeypatch.setenv("OTKLIK_DATABASE_URL", f"sqlite+aiosqlite:///{missing}")
    assert cli_main(["db", "backup", str(tmp_path / "copy.sqlite3")]) == 2
    assert f"no database at {missing}" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []

    monkeypatch.setenv("OTKLIK_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    assert cli_main(["db", "backup", str(tmp_path / "copy.sqlite3")]) == 2
    assert "pg_dump" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
