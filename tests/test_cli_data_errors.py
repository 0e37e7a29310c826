"""What the CLI says about a bad input file or option (a QA pass by an admin and an analyst):
`forget`/`invite` mistakes."""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config.yaml"


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
