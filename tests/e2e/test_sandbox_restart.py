"""The sandbox as a user runs it: `otklik sandbox`, a message on its page's API, the acknowledgement;
then stopped and started again on the same database, where it must answer just the same (before, the
second run took every new message for a redelivery of the first run's and answered nothing)."""
from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp

from tests.conftest import CITIZEN, ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def one_run(database: Path, text: str, expect: str) -> list[str]:
    """Start the sandbox, send `text` as the citizen, return the citizen's chat once the bot's answer
    containing `expect` is in it."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTKLIK_")}
    env.update(OTKLIK_SANDBOX_DATABASE_URL=f"sqlite+aiosqlite:///{database}", OTKLIK_LOG_LEVEL="WARNING")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "sandbox", "--port", str(port), cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(300):  # up: the page answers
                try:
                    async with http.get(f"{base}/") as resp:
                        if resp.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                assert proc.returncode is None, "the sandbox stopped"
                await asyncio.sleep(0.2)
            async with http.post(f"{base}/sandbox/api/send",
                                 json={"chat_id": CITIZEN, "user_id": CITIZEN, "text": text}) as resp:
                assert resp.status == 200
            for _ in range(300):
                async with http.get(f"{base}/sandbox/api/state") as resp:
                    chat = [m.get("text") or "" for m in (await resp.json())["chats"][str(CITIZEN)]]
                if any(expect in t for t in chat):
                    return chat
                await asyncio.sleep(0.2)
            raise AssertionError(f"no {expect!r}; the chat: {chat}")
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except TimeoutError:
                proc.kill()
                await proc.wait()


async def test_a_restarted_sandbox_answers_as_the_first_run_did(tmp_path: Path) -> None:
    database = tmp_path / "sandbox.sqlite3"
    first = await one_run(database, "В Рыбинске на улице Крестовой огромная яма на дороге", "принято")
    assert any("№1" in t for t in first)
    # the same database: the citizen's appeal №1 is still open, so the words are added to it
    second = await one_run(database, "Яма стала ещё больше, уже две машины пробили колёса", "Добавили к обращению")
    assert any("Добавили к обращению №1" in t for t in second), second
